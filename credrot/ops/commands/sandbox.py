"""``credrot sandbox``: practise the commands on an embedded AWS emulator."""

from __future__ import annotations

import argparse
import sys
import threading

from credrot.ops.commands.base import Command, number, require_sandbox
from credrot.ops.limits import EXIT_OK


class Sandbox(Command):
    name = "sandbox"
    summary = "practice: an embedded AWS emulator with one consumer, and its environment"
    description = """\
Start the embedded AWS emulator (moto on 127.0.0.1, IAM authentication on, the real
rotation Lambda) with one consumer provisioned as the Pulumi component does, print the
environment variables that point the credrot command and AWS SDKs at it, and keep it
running until Ctrl-C (or --duration). Practise status, rotate, revoke, unstick and export
without an AWS account. Needs the drill extra (moto)."""
    examples = """\
examples:
  credrot sandbox                      # then paste the printed exports in another shell
  credrot sandbox --name bot --duration 600
"""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--name", default="practice", metavar="NAME", help="the consumer (default practice)"
        )
        parser.add_argument(
            "--duration",
            type=number(float, 0.0, above=True),
            metavar="SECONDS",
            help="stop after this long (default: until Ctrl-C)",
        )

    def run(self, args: argparse.Namespace) -> int:
        require_sandbox()
        from credrot.sandbox import practice

        print(f"Starting the emulator with consumer {args.name}...", file=sys.stderr)
        emulator, consumer = practice.start(args.name)
        try:
            print(practice.usage(emulator, consumer), flush=True)
            threading.Event().wait(args.duration)
        finally:
            emulator.stop()
            print("Sandbox stopped.", file=sys.stderr)
        return EXIT_OK
