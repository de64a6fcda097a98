"""``credrot status``: the keys, their ages and state, and any problem."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

from credrot.ops.commands.base import Command, add_aws_options, add_secret, number, session
from credrot.ops.limits import EXIT_OK, EXIT_PROBLEMS


class Status(Command):
    name = "status"
    summary = "show the keys, their ages and state, and any problem"
    description = """\
Show the secret's IAM user, its current and previous keys (ids, ages, Active/Inactive),
the last and next rotation, and name each problem found:
  stuck-pending            a previous rotation isn't complete (AWSPENDING on a version
                           that is not AWSCURRENT): every rotation fails until unstuck
  unknown-keys             IAM keys of the user that no version of the secret records
  rotation-disabled        rotation is off, or no rotation function is attached
  previous-key-past-grace  the previous key is still Active after the grace period
  current-key-missing/-inactive, no-key-yet, malformed-current, rotation-overdue
Exit code 3 when there is a problem, 0 when healthy."""
    examples = """\
examples:
  credrot status ai-credential-rotation/bot
  credrot status ai-credential-rotation/bot --json | jq .problems
  credrot status ai-credential-rotation/bot --grace-hours 48
"""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        add_secret(parser)
        add_aws_options(parser)
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
        parser.add_argument(
            "--grace-hours",
            type=number(float, 0.0),
            metavar="HOURS",
            help="the previous key's grace period (default: the rotation function's"
            " PREVIOUS_KEY_GRACE_HOURS if readable, else 24)",
        )

    def run(self, args: argparse.Namespace) -> int:
        from credrot.ops import health, operations

        aws = session(args)
        snapshot = operations.take_snapshot(
            aws.client("secretsmanager"),
            aws.client("iam"),
            args.secret,
            lambda_client=aws.client("lambda"),
        )
        if args.grace_hours is not None:
            grace = timedelta(hours=args.grace_hours)
        else:
            grace = (
                operations.grace_from_function(aws.client("lambda"), snapshot.rotation_lambda_arn)
                or health.DEFAULT_GRACE
            )
        verdict = health.assess(snapshot, grace)
        if args.json:
            print(json.dumps(health.to_json(verdict), indent=2))
        else:
            print(health.format_table(verdict))
        return EXIT_OK if verdict.healthy else EXIT_PROBLEMS
