"""``credrot unstick``: clear an abandoned rotation."""

from __future__ import annotations

import argparse
from datetime import timedelta

from credrot.ops import limits
from credrot.ops.commands.base import Command, add_aws_options, add_secret, number, session
from credrot.ops.limits import EXIT_OK


class Unstick(Command):
    name = "unstick"
    summary = "clear an abandoned rotation (AWSPENDING left behind)"
    description = """\
Clear an abandoned rotation: remove the AWSPENDING label from the version that holds it when
that version is not AWSCURRENT (AWSCURRENT is never touched). Prints the key that version
recorded, which the next rotation deletes. Refuses a pending version younger than
--min-age-minutes (a rotation may still be running) unless --force."""
    examples = """\
examples:
  credrot unstick ai-credential-rotation/bot
  credrot unstick ai-credential-rotation/bot --force && \\
    credrot rotate ai-credential-rotation/bot
"""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        add_secret(parser)
        add_aws_options(parser)
        parser.add_argument(
            "--force",
            action="store_true",
            help="clear it even if it is recent (you know no rotation is running)",
        )
        parser.add_argument(
            "--min-age-minutes",
            type=number(float, 0.0),
            default=limits.DEFAULT_UNSTICK_MIN_AGE.total_seconds() / 60,
            metavar="MINUTES",
            help="only clear an AWSPENDING version at least this old (default %(default)g)",
        )

    def run(self, args: argparse.Namespace) -> int:
        from credrot.ops import operations

        result = operations.unstick(
            session(args).client("secretsmanager"),
            args.secret,
            force=args.force,
            min_age=timedelta(minutes=args.min_age_minutes),
        )
        if result is None:
            print(
                f"Nothing to unstick: no version of {args.secret} is AWSPENDING without AWSCURRENT."
            )
            return EXIT_OK
        print(f"Removed AWSPENDING from version {result.version_id} of {args.secret}.")
        if result.key_id:
            print(
                f"It recorded key {result.key_id}, left for the next rotation to delete"
                f" (`credrot rotate {args.secret}` does it now)."
            )
        elif result.has_value:
            print("Its value records no key: nothing was left behind.")
        else:
            print("It had no value (createSecret never completed): no key was left behind.")
        return EXIT_OK
