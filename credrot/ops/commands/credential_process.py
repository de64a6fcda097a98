"""``credrot credential-process``: the current key, as an AWS SDK's credential_process
reads it. SDKs run it at every refresh: it imports the AWS modules it needs only."""

from __future__ import annotations

import argparse
import json

from credrot.ops.commands.base import Command, add_refresh_seconds, report_error
from credrot.ops.limits import EXIT_LOCKED_OUT, EXIT_OK


class CredentialProcess(Command):
    name = "credential-process"
    summary = "print the current key for an AWS SDK (credential_process in ~/.aws/config)"
    description = """\
What AWS SDKs run through credential_process (see `export`, which writes the line). Prints
{"Version": 1, "AccessKeyId", "SecretAccessKey", "Expiration"} on stdout from the key
cache. Within the refresh window it makes no AWS call; after it, it reads the secret's
current key with the cached key itself (or, with --ambient, with this host's own AWS
identity; never with a profile) and updates the cache, once however many processes ask.
Expiration is the window's end plus 15 minutes: SDKs ask again before it, and then get
the refreshed key.

Errors go to stderr, without any secret, with a non-zero exit: exit 5 when locked out (the
cached key was deleted or deactivated: re-seed with export), 1 otherwise (e.g. Secrets
Manager unreachable after the window: the SDK keeps the credentials it has until their
Expiration, then fails)."""
    examples = """\
examples:
  credrot credential-process --secret-id ARN --cache ~/.cache/credrot/bot.json
"""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--secret-id", required=True, metavar="ARN", help="the secret's ARN")
        parser.add_argument(
            "--cache",
            metavar="PATH",
            help="the key cache (default: ~/.cache/credrot/<hash of the secret id>.json)",
        )
        add_refresh_seconds(parser)
        parser.add_argument(
            "--ambient",
            action="store_true",
            help="read the secret with this host's own AWS identity, not with the cached key",
        )
        parser.add_argument("--region", help="AWS region (default: the ARN's)")

    def run(self, args: argparse.Namespace) -> int:
        from credrot.app import self_read
        from credrot.app.credential_process import process_output
        from credrot.app.key_cache import KeyCache, default_cache_path

        cache = KeyCache(args.cache or default_cache_path(args.secret_id))
        read = self_read.read_with_ambient if args.ambient else self_read.read_with_key
        try:
            key, _ = self_read.current_key(
                cache,
                args.secret_id,
                args.refresh_seconds,
                lambda cached: read(cached, region=args.region, cache_path=cache.path),
            )
        except self_read.LockedOutError as locked_out:
            report_error(str(locked_out))
            return EXIT_LOCKED_OUT
        print(json.dumps(process_output(key, args.refresh_seconds)))
        return EXIT_OK
