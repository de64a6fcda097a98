"""``credrot rotate``: rotate now and wait; and what ``revoke`` shares with it (the wait's
progress on stderr, the grace read from the function, the result as JSON)."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from credrot.ops.commands.base import Command, add_aws_options, add_secret, add_timeout, session
from credrot.ops.limits import EXIT_OK

if TYPE_CHECKING:
    from types_boto3_lambda import LambdaClient
    from types_boto3_secretsmanager import SecretsManagerClient


class Rotate(Command):
    name = "rotate"
    summary = "rotate the key now and wait for the rotation to finish"
    description = """\
Start a rotation now (RotateSecret with the secret's own rotation function) and wait until
the new version is AWSCURRENT, showing progress on stderr. The previous key stays Active
for the grace period, so running apps keep working. Refuses to start while a previous
rotation is stuck (see `unstick`), and while the previous key is still Active inside its
grace (the rotation would delete it) unless --force. A failing rotation is reported with
the function's error as soon as it shows, not at --timeout."""
    examples = """\
examples:
  credrot rotate ai-credential-rotation/bot
  credrot rotate ai-credential-rotation/bot --timeout 600
  credrot rotate ai-credential-rotation/bot --force --json
"""

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        add_rotation_options(parser)
        parser.add_argument(
            "--force",
            action="store_true",
            help="rotate even while the previous key is inside its grace: deactivate it first",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def run(self, args: argparse.Namespace) -> int:
        from credrot.ops import operations

        rotate = functools.partial(operations.rotate, force=args.force)
        result = wait_for(rotate, args, f"rotating {args.secret}")
        if args.json:
            print(json.dumps(rotation_json(result), indent=2))
            return EXIT_OK
        if result.deactivated_first:
            print(
                f"Deactivated the previous key {result.deactivated_first} first (--force): it"
                " was still Active inside its grace and the rotation deletes it."
            )
        print(f"Rotated {args.secret} in {result.seconds:.1f} s.")
        print(f"  current key   {result.current_key_id}  (version {result.token})")
        if result.previous_key_id:
            print(
                f"  previous key  {result.previous_key_id}  (stays Active for the grace period,"
                " then the sweep deactivates it)"
            )
        return EXIT_OK


def add_rotation_options(parser: argparse.ArgumentParser) -> None:
    """SECRET, --timeout and the AWS options: what rotate and revoke both take."""
    add_secret(parser)
    add_timeout(parser)
    add_aws_options(parser)


Result = TypeVar("Result")


def wait_for(start: Callable[..., Result], args: argparse.Namespace, label: str) -> Result:
    """Run ``operations.rotate`` or ``.revoke`` (``start``) with the operator's clients and
    the rotation function's grace, showing progress on stderr."""
    aws = session(args)
    lambda_client = aws.client("lambda")
    sm = aws.client("secretsmanager")
    with Spinner(label):
        return start(
            sm=sm,
            secret_id=args.secret,
            iam=aws.client("iam"),
            timeout=args.timeout,
            grace=grace_of(sm, lambda_client, args.secret),
            logs=aws.client("logs"),
            lambda_client=lambda_client,
        )


def grace_of(sm: SecretsManagerClient, lambda_client: LambdaClient, secret: str) -> timedelta:
    """The rotation function's PREVIOUS_KEY_GRACE_HOURS (24 h if unreadable)."""
    from credrot.ops import health, operations

    function_arn = sm.describe_secret(SecretId=secret).get("RotationLambdaARN")
    return operations.grace_from_function(lambda_client, function_arn) or health.DEFAULT_GRACE


def rotation_json(result: Any) -> dict[str, Any]:
    return {
        "secret_arn": result.secret_arn,
        "version_id": result.token,
        "seconds": round(result.seconds, 3),
        "current_key_id": result.current_key_id,
        "previous_key_id": result.previous_key_id,
        "deactivated_first": result.deactivated_first,
    }


class Spinner:
    """Progress on stderr while waiting: a spinner with elapsed seconds on a terminal, a
    line every few seconds otherwise, drawn by its own thread."""

    FRAMES = "|/-\\"

    def __init__(self, label: str, stream: Any = None) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._last_line = -1

    def __enter__(self) -> Spinner:
        self._write(0.0, 0)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        elapsed = time.monotonic() - self._started
        end = "done" if exc[0] is None else "failed"
        if self._tty:
            self._stream.write(f"\r{self._label}: {end} after {elapsed:.1f} s\033[K\n")
        else:
            self._stream.write(f"{self._label}: {end} after {elapsed:.1f} s\n")
        self._stream.flush()

    def _run(self) -> None:
        frame = 0
        while not self._stop.wait(0.25):
            frame += 1
            self._write(time.monotonic() - self._started, frame)

    def _write(self, elapsed: float, frame: int) -> None:
        if self._tty:
            symbol = self.FRAMES[frame % len(self.FRAMES)]
            self._stream.write(f"\r{symbol} {self._label}... {elapsed:.0f} s\033[K")
            self._stream.flush()
            return
        line = int(elapsed // 5)
        if line != self._last_line:
            self._last_line = line
            self._stream.write(f"{self._label}... {elapsed:.0f} s\n")
            self._stream.flush()
