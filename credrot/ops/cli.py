"""``credrot``: operate rotated access keys, and rehearse rotation with the drill.

AWS access comes from the usual places (AWS_PROFILE or --profile, AWS_REGION or --region or
the secret's ARN, AWS_ENDPOINT_URL); the drill needs none of them. Output names keys by id
only: no command prints a secret access key, except credential-process, whose stdout is the
credentials an AWS SDK asked for (never its stderr).

This module parses the command line and turns every expected failure into one line on
stderr and an exit code (``credrot.ops.limits``); each command lives in
``credrot.ops.commands``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from credrot.app.secret import REJECTED_KEY_CODES, region_of
from credrot.errors import CommandError, CredrotError, FileAccessError, describe_os_error
from credrot.ops.commands import COMMANDS
from credrot.ops.commands.base import EXIT_CODES, Formatter, report_error
from credrot.ops.limits import EXIT_ERROR, EXIT_FILE, EXIT_INTERRUPTED

DESCRIPTION = """\
Operate the rotated IAM access keys of ai-credential-rotation, and rehearse rotation.

Each AI application's IAM user has its access key in a Secrets Manager secret
({"UserName", "AccessKeyId", "SecretAccessKey"}), rotated by a Lambda. These commands
inspect and drive that rotation. SECRET is the secret's ARN (best: it carries the region)
or name.
"""

EXAMPLES = """\
examples:
  credrot drill                       # rehearse rotation, no AWS account needed
  credrot status arn:aws:secretsmanager:eu-west-1:111122223333:secret:bot-AbCdEf
  credrot rotate ai-credential-rotation/bot --region eu-west-1
  credrot revoke ai-credential-rotation/bot   # a key leaked
  AWS_PROFILE=ops credrot unstick ai-credential-rotation/bot
  credrot export ai-credential-rotation/bot --profile bot   # workload outside AWS
"""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: each command adds its own subparser."""
    parser = argparse.ArgumentParser(
        prog="credrot",
        description=DESCRIPTION,
        epilog=EXAMPLES + "\n" + EXIT_CODES,
        formatter_class=Formatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS.values():
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (never raises for expected failures)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed by argparse
        return int(exit_.code or 0)
    try:
        code = COMMANDS[args.command].run(args)
        # Output to a full disk or a closed pipe fails here, not at exit as a traceback.
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        report_error("interrupted")
        return EXIT_INTERRUPTED
    except CommandError as error:
        report_error(str(error))
        return error.exit_code
    except FileAccessError as error:
        report_error(str(error))
        return EXIT_FILE
    except OSError as error:
        report_error(explain_os_error(error))
        _silence_stdout()
        return EXIT_FILE
    except CredrotError as error:
        report_error(str(error))
        return EXIT_ERROR
    except ClientError as error:
        report_error(explain_client_error(error, getattr(args, "secret", None), args))
        return EXIT_ERROR
    except BotoCoreError as error:
        report_error(explain_botocore_error(error, args))
        return EXIT_ERROR


# Rejected operator credentials: a retired key, or an expired session (SSO, assumed role).
_REJECTED_CREDENTIALS = REJECTED_KEY_CODES | {"ExpiredToken", "ExpiredTokenException"}


def explain_client_error(error: ClientError, secret: str | None, args: Any = None) -> str:
    """One line: which call failed on what, AWS's reason, and the fix."""
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Error"))
    message = str(details.get("Message", "")).rstrip(".")
    operation = getattr(error, "operation_name", "the call")
    target = f" on {secret}" if secret else ""
    if code == "ResourceNotFoundException":
        region = getattr(args, "region", None) or region_of(secret or "") or "the default region"
        fix = f"check the secret's name or ARN and the region ({region}; --region/AWS_REGION)"
    elif "AccessDenied" in code or code == "403":
        fix = (
            "your AWS identity lacks this permission; use an operator profile (--profile) or"
            " grant it"
        )
    elif code in _REJECTED_CREDENTIALS:
        fix = "your AWS credentials were rejected; refresh them (e.g. `aws sso login`)"
    else:
        fix = "see AWS's message above"
    return f"{operation}{target} failed: {code}: {message}. Fix: {fix}"


def explain_botocore_error(error: BotoCoreError, args: Any = None) -> str:
    """One line for a client-side AWS failure (no credentials, no region, no network)."""
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID"
            " and AWS_SECRET_ACCESS_KEY, or run where an AWS role is available"
        )
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region, set AWS_REGION, or give the secret's full ARN"
    if isinstance(error, ProfileNotFound):
        return f"{error}: check --profile/AWS_PROFILE against ~/.aws/config"
    if isinstance(error, EndpointConnectionError):
        return f"{error}: check the network, the region and AWS_ENDPOINT_URL"
    return f"AWS client error: {error}"


def explain_os_error(error: OSError) -> str:
    """One line for an OS error: the path, what went wrong, in words."""
    where = error.filename if error.filename is not None else "the standard output"
    return describe_os_error("use", where, error)


def _silence_stdout() -> None:
    # stdout itself may be what failed (a full disk, a closed pipe): point it at /dev/null so
    # that Python's flush at exit does not print a traceback.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
