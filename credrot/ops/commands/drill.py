"""``credrot drill``: rehearse zero-downtime rotation on an embedded AWS emulator. Its
options live here alone: a new drill option is one ``add_argument`` and one DrillConfig
field."""

from __future__ import annotations

import argparse
import json
import sys

from credrot.ops.commands.base import Command, add_refresh_seconds, number, require_sandbox
from credrot.ops.limits import EXIT_OK, EXIT_PROBLEMS, MAX_DRILL_CONSUMERS


class Drill(Command):
    name = "drill"
    summary = "rehearse zero-downtime rotation on an embedded AWS emulator"
    description = """\
Rehearse rotation end to end without an AWS account: start an embedded AWS emulator
(moto, IAM authentication on), create a consumer exactly as the Pulumi component does
(same policy documents), run the real rotation Lambda, and keep app workers calling AWS
through credrot.app.client while it performs N rotations, a sweep with zero grace and a
revoke. With --consumers N, N consumers rotate through the stack's one shared rotation
function while app workers use each consumer's secret; the report says how many consumers
that function served and each one's rotations. Prints progress on stderr and a report on
stdout; fails (exit 3) on any failed app call or broken invariant."""
    examples = """\
examples:
  credrot drill
  credrot drill --consumers 20     # one shared rotation function for 20 consumers
  credrot drill --rotations 20 --workers 8 --json drill-report.json
  credrot drill --no-auth-retry    # see why the client's retry matters
"""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--rotations",
            type=number(int, 1),
            default=5,
            metavar="N",
            help="rotations of each consumer (default %(default)s)",
        )
        parser.add_argument(
            "--consumers",
            type=number(
                int,
                1,
                maximum=MAX_DRILL_CONSUMERS,
                why="each consumer is a user, a secret and app workers in this one process",
            ),
            default=1,
            metavar="N",
            help="consumers, all rotating through one shared function (1 to"
            f" {MAX_DRILL_CONSUMERS}, default %(default)s)",
        )
        parser.add_argument(
            "--workers",
            type=number(int, 1),
            default=4,
            metavar="K",
            help="app workers in all, at least one per consumer (default %(default)s)",
        )
        parser.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
        add_refresh_seconds(
            parser,
            2.0,
            "the workers' refresh window; longer than the time between rotations, so"
            " workers hold keys that get deleted (default %(default)g)",
        )
        parser.add_argument(
            "--pause-seconds",
            type=number(float, 0.0),
            default=0.5,
            metavar="S",
            help="pause after each round of rotations, one per consumer (default %(default)g)",
        )
        parser.add_argument(
            "--process-workers",
            type=number(int, 0),
            default=1,
            metavar="N",
            help="app workers authenticating through a credential_process profile, refreshed"
            " by self-read, for the first consumer (default %(default)g)",
        )
        parser.add_argument(
            "--no-auth-retry",
            action="store_true",
            help="disable the client's refresh-and-retry on a rejected key (expect failures)",
        )

    def run(self, args: argparse.Namespace) -> int:
        require_sandbox()
        from credrot.sandbox.drill import DrillConfig, format_report, run_drill

        config = DrillConfig(
            consumers=args.consumers,
            rotations=args.rotations,
            workers=args.workers,
            process_workers=args.process_workers,
            refresh_seconds=args.refresh_seconds,
            pause_seconds=args.pause_seconds,
            auth_retry=not args.no_auth_retry,
        )
        report = run_drill(config, progress=sys.stderr)
        print(format_report(report))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump(report, handle, indent=2)
                handle.write("\n")
        return EXIT_OK if report["passed"] else EXIT_PROBLEMS
