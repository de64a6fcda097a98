"""What every command shares: the ``Command`` shape, the common options, the number
validator, the exit-code table of every help page, and small helpers."""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from credrot.app.secret import DEFAULT_REFRESH_SECONDS, region_of
from credrot.errors import CommandError
from credrot.ops import limits
from credrot.ops.limits import (
    EXIT_ERROR,
    EXIT_FILE,
    EXIT_INTERRUPTED,
    EXIT_LOCKED_OUT,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_TIMEOUT,
    EXIT_USAGE,
)

if TYPE_CHECKING:
    import boto3

EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    success; for status: healthy
  {EXIT_ERROR}    an AWS error or a state to fix first (the message names the fix)
  {EXIT_USAGE}    bad command line
  {EXIT_PROBLEMS}    status found problems; the drill saw a failed app call or a broken invariant
  {EXIT_TIMEOUT}    rotate/revoke: the rotation did not finish within --timeout
  {EXIT_LOCKED_OUT}    credential-process: locked out, the cached key no longer works (re-seed
       with export)
  {EXIT_FILE}    a file or directory could not be read or written (read-only, disk full, not
       a directory, a directory given as a file, not a regular file): the message names it
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
"""


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keep the hand-wrapped descriptions and examples as written."""


class Command:
    """One ``credrot`` subcommand: its help texts, its options and what it runs."""

    name: ClassVar[str]
    # One line in the top-level command list.
    summary: ClassVar[str]
    description: ClassVar[str]
    # "examples:" and its lines; the exit-code table follows on every help page.
    examples: ClassVar[str]

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """Declare the command's arguments on its own subparser."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the work; return the exit code. Expected failures raise (see cli.main)."""
        raise NotImplementedError

    def register(self, commands: Any) -> None:
        """Add this command's subparser to ``commands`` (argparse's subparsers action)."""
        parser = commands.add_parser(
            self.name,
            formatter_class=Formatter,
            help=self.summary,
            description=self.description,
            epilog=self.examples + "\n" + EXIT_CODES,
        )
        self.add_options(parser)


Number = TypeVar("Number", int, float)


def number(
    kind: type[Number],
    minimum: Number,
    *,
    above: bool = False,
    maximum: Number | None = None,
    why: str = "",
) -> Callable[[str], Number]:
    """An argparse ``type=``: a finite ``kind`` of at least ``minimum`` (greater than it
    with ``above``) and at most ``maximum`` (``why`` says why, in the error). argparse puts
    the flag's name before the message."""
    noun = "whole number" if kind is int else "number"

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {noun}") from None
        if not minimum <= value < math.inf:  # NaN fails here too
            least = f"{minimum:g}" if kind is int else f"a number of {minimum:g}"
            raise argparse.ArgumentTypeError(f"{text!r}: give {least} or more")
        if above and value == minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: give a number above {minimum:g}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(
                f"{text!r}: give from {minimum:g} to {maximum:g}{f' ({why})' if why else ''}"
            )
        return value

    return parse


def add_secret(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("secret", metavar="SECRET", help="the secret's ARN or name")


def add_region(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--region", help="AWS region (default: the ARN's region, else AWS_REGION/the profile)"
    )


def add_aws_options(parser: argparse.ArgumentParser) -> None:
    """--profile and --region, in their own group: how the operator reaches AWS."""
    group = parser.add_argument_group("AWS options")
    group.add_argument(
        "--profile", help="AWS profile to use (default: AWS_PROFILE or the default chain)"
    )
    add_region(group)


def add_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=number(float, 0.0, above=True),
        default=limits.DEFAULT_ROTATION_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for the rotation to finish (default %(default)g)",
    )


def add_refresh_seconds(
    parser: argparse.ArgumentParser,
    default: float = DEFAULT_REFRESH_SECONDS,
    help: str = "how long a key is used before the secret is read again (default %(default)g)",
) -> None:
    parser.add_argument(
        "--refresh-seconds",
        type=number(float, 0.0, above=True),
        default=default,
        metavar="S",
        help=help,
    )


def session(args: argparse.Namespace) -> boto3.Session:
    """The operator's boto3 Session: --profile, and --region else the secret ARN's."""
    import boto3

    region = args.region or region_of(args.secret)
    return boto3.Session(profile_name=args.profile, region_name=region)


def report_error(message: str) -> None:
    print(f"credrot: error: {message}", file=sys.stderr)


def require_sandbox() -> None:
    if importlib.util.find_spec("moto") is None:
        raise CommandError(
            "the rehearsal sandbox needs moto, which the app install leaves out: install"
            ' the extra with `pip install "credrot[drill]"` (or, in a checkout, `make drill`)'
        )
