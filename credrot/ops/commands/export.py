"""``credrot export``: seed a workload outside AWS with a self-refreshing AWS profile."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from credrot.app.secret import region_of
from credrot.errors import CommandError
from credrot.ops.commands.base import (
    Command,
    add_refresh_seconds,
    add_region,
    add_secret,
    report_error,
)
from credrot.ops.limits import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE


class Export(Command):
    name = "export"
    summary = "seed a workload outside AWS: an AWS profile whose key refreshes itself"
    description = """\
For a workload outside AWS (no AWS identity of its own): run once, on the workload's host,
as the OS user the workload runs as, with YOUR (operator) AWS credentials. It reads the
secret's current key, seeds the workload's key cache (a file only that user can read) and
writes [profile NAME] into the AWS config file with a credential_process line. Every AWS
SDK and the AWS CLI then authenticate with AWS_PROFILE=NAME; the key refreshes itself by
reading its own secret (the consumer needs selfRead), so apps need no code change.

Then checks that the key can read its own secret from this host (exit 3 if not). Prints
key ids only. Run it again to re-seed a workload that was locked out."""
    examples = """\
examples:
  credrot export arn:aws:secretsmanager:eu-west-1:111122223333:secret:bot-AbCdEf \\
    --profile bot
  credrot export ai-credential-rotation/bot --profile bot --operator-profile ops
  AWS_PROFILE=bot python my_agent.py      # any SDK, any language
"""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        add_secret(parser)
        parser.add_argument(
            "--profile", required=True, metavar="NAME", help="the AWS profile to write for the app"
        )
        parser.add_argument(
            "--config-file",
            metavar="PATH",
            help="AWS config file to write (default: $AWS_CONFIG_FILE or ~/.aws/config)",
        )
        parser.add_argument(
            "--cache",
            metavar="PATH",
            help="the key cache (default: ~/.cache/credrot/<hash of the secret ARN>.json)",
        )
        add_refresh_seconds(parser)
        parser.add_argument(
            "--ambient",
            action="store_true",
            help="refresh with this host's own AWS identity (env vars, container or instance"
            " role) instead of the cached key",
        )
        parser.add_argument(
            "--operator-profile",
            metavar="NAME",
            help="AWS profile with YOUR credentials (default: the usual chain)",
        )
        add_region(parser)

    def run(self, args: argparse.Namespace) -> int:
        import boto3

        from credrot.app.credential_process import export

        operator_profile = args.operator_profile or os.environ.get("AWS_PROFILE")
        operator_profile = operator_profile or os.environ.get("AWS_DEFAULT_PROFILE")
        if operator_profile is None and "AWS_ACCESS_KEY_ID" not in os.environ:
            operator_profile = "default"  # where the default chain would look
        if operator_profile == args.profile:
            raise CommandError(
                f"your AWS credentials would come from profile {args.profile}, the one being"
                " written (the workload's own key, possibly locked out): pass"
                " --operator-profile with your own profile, or unset AWS_PROFILE",
                exit_code=EXIT_USAGE,
            )
        region = args.region or region_of(args.secret)
        operator = boto3.Session(profile_name=args.operator_profile, region_name=region)
        result = export(
            operator.client("secretsmanager"),
            args.secret,
            args.profile,
            config_file=Path(args.config_file) if args.config_file else None,
            cache_path=Path(args.cache) if args.cache else None,
            refresh_seconds=args.refresh_seconds,
            region=args.region,
            ambient=args.ambient,
        )
        print(
            f"Seeded the key cache {result.cache_path} (owner-only, mode 0600) with key"
            f" {result.access_key_id} of user {result.user_name} (AWSCURRENT of"
            f" {result.secret_arn})."
        )
        print(
            f"Wrote [{'profile ' if args.profile != 'default' else ''}{args.profile}] to"
            f" {result.config_file}:"
        )
        print(f"  credential_process = {result.command}")
        if result.region:
            print(f"  region = {result.region}")
        print(
            f"Apps authenticate with AWS_PROFILE={args.profile} (any AWS SDK, the AWS CLI) or"
            f' boto3.Session(profile_name="{args.profile}"); the key refreshes itself every'
            f" {args.refresh_seconds:g} s while the profile is in use."
        )
        if args.ambient:
            print("Refreshes use this host's own AWS identity (--ambient), not the cached key.")
            return EXIT_OK
        if result.self_read_problem is None:
            print(f"Checked: key {result.access_key_id} can read its own secret from this host.")
            return EXIT_OK
        report_error(
            f"the profile is written, but the key cannot refresh itself from this host:"
            f" {result.self_read_problem}. It keeps working only until rotation retires key"
            f" {result.access_key_id}. Deploy the consumer with selfRead whose sourceCidrs"
            " include this host's public address, then run export again"
        )
        return EXIT_PROBLEMS
