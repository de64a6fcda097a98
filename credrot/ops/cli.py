"""``credrot``: operate rotated access keys, and rehearse rotation with the drill.

AWS access comes from the usual places (AWS_PROFILE or --profile, AWS_REGION or --region or
the secret's ARN, AWS_ENDPOINT_URL); the drill needs none of them. Output names keys by id
only: no command prints a secret access key, except credential-process, whose stdout is the
credentials an AWS SDK asked for (never its stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from credrot.errors import CommandError, CredrotError, FileAccessError, describe_os_error
from credrot.ops import limits

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PROBLEMS = 3
EXIT_TIMEOUT = limits.EXIT_TIMEOUT
EXIT_LOCKED_OUT = 5
EXIT_FILE = 6
EXIT_INTERRUPTED = 130

# credrot.app.credential_process.DEFAULT_REFRESH_SECONDS, without importing it for every command.
_DEFAULT_PROCESS_REFRESH = 900.0

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


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keep the hand-wrapped descriptions and examples as written."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = argparse.ArgumentParser(
        prog="credrot",
        description=DESCRIPTION,
        epilog=EXAMPLES + "\n" + EXIT_CODES,
        formatter_class=_Formatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    aws = argparse.ArgumentParser(add_help=False)
    aws_options = aws.add_argument_group("AWS options")
    aws_options.add_argument(
        "--profile", help="AWS profile to use (default: AWS_PROFILE or the default chain)"
    )
    aws_options.add_argument(
        "--region", help="AWS region (default: the ARN's region, else AWS_REGION/the profile)"
    )
    secret = argparse.ArgumentParser(add_help=False)
    secret.add_argument("secret", metavar="SECRET", help="the secret's ARN or name")
    wait = argparse.ArgumentParser(add_help=False)
    wait.add_argument(
        "--timeout",
        type=_positive_float,
        default=limits.DEFAULT_ROTATION_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for the rotation to finish (default %(default)g)",
    )

    status = commands.add_parser(
        "status",
        parents=[secret, aws],
        formatter_class=_Formatter,
        help="show the keys, their ages and state, and any problem",
        description="""\
Show the secret's IAM user, its current and previous keys (ids, ages, Active/Inactive),
the last and next rotation, and name each problem found:
  stuck-pending            a previous rotation isn't complete (AWSPENDING on a version
                           that is not AWSCURRENT): every rotation fails until unstuck
  unknown-keys             IAM keys of the user that no version of the secret records
  rotation-disabled        rotation is off, or no rotation function is attached
  previous-key-past-grace  the previous key is still Active after the grace period
  current-key-missing/-inactive, no-key-yet, malformed-current, rotation-overdue
Exit code 3 when there is a problem, 0 when healthy.""",
        epilog="""\
examples:
  credrot status ai-credential-rotation/bot
  credrot status ai-credential-rotation/bot --json | jq .problems
  credrot status ai-credential-rotation/bot --grace-hours 48

"""
        + EXIT_CODES,
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.add_argument(
        "--grace-hours",
        type=_non_negative_float,
        metavar="HOURS",
        help="the previous key's grace period (default: the rotation function's"
        " PREVIOUS_KEY_GRACE_HOURS if readable, else 24)",
    )

    rotate = commands.add_parser(
        "rotate",
        parents=[secret, wait, aws],
        formatter_class=_Formatter,
        help="rotate the key now and wait for the rotation to finish",
        description="""\
Start a rotation now (RotateSecret with the secret's own rotation function) and wait until
the new version is AWSCURRENT, showing progress on stderr. The previous key stays Active
for the grace period, so running apps keep working. Refuses to start while a previous
rotation is stuck (see `unstick`), and while the previous key is still Active inside its
grace (the rotation would delete it) unless --force. A failing rotation is reported with
the function's error as soon as it shows, not at --timeout.""",
        epilog="""\
examples:
  credrot rotate ai-credential-rotation/bot
  credrot rotate ai-credential-rotation/bot --timeout 600
  credrot rotate ai-credential-rotation/bot --force --json

"""
        + EXIT_CODES,
    )
    rotate.add_argument(
        "--force",
        action="store_true",
        help="rotate even while the previous key is inside its grace: deactivate it first",
    )
    rotate.add_argument("--json", action="store_true", help="print the result as JSON")

    revoke = commands.add_parser(
        "revoke",
        parents=[secret, wait, aws],
        formatter_class=_Formatter,
        help="emergency: rotate, then deactivate the previous key at once",
        description="""\
The emergency path for a leaked key: rotate, then immediately deactivate the previous key
(the one that was current until now) instead of waiting for the grace period. The new
current key is never touched. A key still in its grace from an earlier rotation, which
this rotation must delete, is deactivated first. Apps using credrot.client re-read the
secret on their next rejected call and carry on; anything else still holding the old key
stops working.""",
        epilog="""\
examples:
  credrot revoke ai-credential-rotation/bot
  credrot status ai-credential-rotation/bot   # check the result

"""
        + EXIT_CODES,
    )
    revoke.add_argument("--json", action="store_true", help="print the result as JSON")

    unstick = commands.add_parser(
        "unstick",
        parents=[secret, aws],
        formatter_class=_Formatter,
        help="clear an abandoned rotation (AWSPENDING left behind)",
        description="""\
Clear an abandoned rotation: remove the AWSPENDING label from the version that holds it when
that version is not AWSCURRENT (AWSCURRENT is never touched). Prints the key that version
recorded, which the next rotation deletes. Refuses a pending version younger than
--min-age-minutes (a rotation may still be running) unless --force.""",
        epilog="""\
examples:
  credrot unstick ai-credential-rotation/bot
  credrot unstick ai-credential-rotation/bot --force && \\
    credrot rotate ai-credential-rotation/bot

"""
        + EXIT_CODES,
    )
    unstick.add_argument(
        "--force",
        action="store_true",
        help="clear it even if it is recent (you know no rotation is running)",
    )
    unstick.add_argument(
        "--min-age-minutes",
        type=_non_negative_float,
        default=limits.DEFAULT_UNSTICK_MIN_AGE.total_seconds() / 60,
        metavar="MINUTES",
        help="only clear an AWSPENDING version at least this old (default %(default)g)",
    )

    export = commands.add_parser(
        "export",
        formatter_class=_Formatter,
        help="seed a workload outside AWS: an AWS profile whose key refreshes itself",
        description="""\
For a workload outside AWS (no AWS identity of its own): run once, on the workload's host,
as the OS user the workload runs as, with YOUR (operator) AWS credentials. It reads the
secret's current key, seeds the workload's key cache (a file only that user can read) and
writes [profile NAME] into the AWS config file with a credential_process line. Every AWS
SDK and the AWS CLI then authenticate with AWS_PROFILE=NAME; the key refreshes itself by
reading its own secret (the consumer needs selfRead), so apps need no code change.

Then checks that the key can read its own secret from this host (exit 3 if not). Prints
key ids only. Run it again to re-seed a workload that was locked out.""",
        epilog="""\
examples:
  credrot export arn:aws:secretsmanager:eu-west-1:111122223333:secret:bot-AbCdEf \\
    --profile bot
  credrot export ai-credential-rotation/bot --profile bot --operator-profile ops
  AWS_PROFILE=bot python my_agent.py      # any SDK, any language

"""
        + EXIT_CODES,
    )
    export.add_argument("secret", metavar="SECRET", help="the secret's ARN or name")
    export.add_argument(
        "--profile", required=True, metavar="NAME", help="the AWS profile to write for the app"
    )
    export.add_argument(
        "--config-file",
        metavar="PATH",
        help="AWS config file to write (default: $AWS_CONFIG_FILE or ~/.aws/config)",
    )
    export.add_argument(
        "--cache",
        metavar="PATH",
        help="the key cache (default: ~/.cache/credrot/<hash of the secret ARN>.json)",
    )
    export.add_argument(
        "--refresh-seconds",
        type=_positive_float,
        default=_DEFAULT_PROCESS_REFRESH,
        metavar="S",
        help="how long a key is used before the secret is read again (default %(default)g)",
    )
    export.add_argument(
        "--ambient",
        action="store_true",
        help="refresh with this host's own AWS identity (env vars, container or instance"
        " role) instead of the cached key",
    )
    export.add_argument(
        "--operator-profile",
        metavar="NAME",
        help="AWS profile with YOUR credentials (default: the usual chain)",
    )
    export.add_argument(
        "--region", help="AWS region (default: the ARN's region, else AWS_REGION/the profile)"
    )

    process = commands.add_parser(
        "credential-process",
        formatter_class=_Formatter,
        help="print the current key for an AWS SDK (credential_process in ~/.aws/config)",
        description="""\
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
Expiration, then fails).""",
        epilog="""\
examples:
  credrot credential-process --secret-id ARN --cache ~/.cache/credrot/bot.json

"""
        + EXIT_CODES,
    )
    process.add_argument("--secret-id", required=True, metavar="ARN", help="the secret's ARN")
    process.add_argument(
        "--cache",
        metavar="PATH",
        help="the key cache (default: ~/.cache/credrot/<hash of the secret id>.json)",
    )
    process.add_argument(
        "--refresh-seconds",
        type=_positive_float,
        default=_DEFAULT_PROCESS_REFRESH,
        metavar="S",
        help="how long a key is used before the secret is read again (default %(default)g)",
    )
    process.add_argument(
        "--ambient",
        action="store_true",
        help="read the secret with this host's own AWS identity, not with the cached key",
    )
    process.add_argument("--region", help="AWS region (default: the ARN's)")

    sandbox = commands.add_parser(
        "sandbox",
        formatter_class=_Formatter,
        help="practice: an embedded AWS emulator with one consumer, and its environment",
        description="""\
Start the embedded AWS emulator (moto on 127.0.0.1, IAM authentication on, the real
rotation Lambda) with one consumer provisioned as the Pulumi component does, print the
environment variables that point the credrot command and AWS SDKs at it, and keep it
running until Ctrl-C (or --duration). Practise status, rotate, revoke, unstick and export
without an AWS account. Needs the drill extra (moto).""",
        epilog="""\
examples:
  credrot sandbox                      # then paste the printed exports in another shell
  credrot sandbox --name bot --duration 600

"""
        + EXIT_CODES,
    )
    sandbox.add_argument(
        "--name", default="practice", metavar="NAME", help="the consumer (default practice)"
    )
    sandbox.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help="stop after this long (default: until Ctrl-C)",
    )

    drill = commands.add_parser(
        "drill",
        formatter_class=_Formatter,
        help="rehearse zero-downtime rotation on an embedded AWS emulator",
        description="""\
Rehearse rotation end to end without an AWS account: start an embedded AWS emulator
(moto, IAM authentication on), create a consumer exactly as the Pulumi component does
(same policy documents), run the real rotation Lambda, and keep app workers calling AWS
through credrot.app.client while it performs N rotations, a sweep with zero grace and a
revoke. With --consumers N, N consumers rotate through the stack's one shared rotation
function while app workers use each consumer's secret; the report says how many consumers
that function served and each one's rotations. Prints progress on stderr and a report on
stdout; fails (exit 3) on any failed app call or broken invariant.""",
        epilog="""\
examples:
  credrot drill
  credrot drill --consumers 20     # one shared rotation function for 20 consumers
  credrot drill --rotations 20 --workers 8 --json drill-report.json
  credrot drill --no-auth-retry    # see why the client's retry matters

"""
        + EXIT_CODES,
    )
    drill.add_argument(
        "--rotations",
        type=_positive_int,
        default=5,
        metavar="N",
        help="rotations of each consumer (default %(default)s)",
    )
    drill.add_argument(
        "--consumers",
        type=_consumer_count,
        default=1,
        metavar="N",
        help="consumers, all rotating through one shared function (1 to"
        f" {limits.MAX_DRILL_CONSUMERS}, default %(default)s)",
    )
    drill.add_argument(
        "--workers",
        type=_positive_int,
        default=4,
        metavar="K",
        help="app workers in all, at least one per consumer (default %(default)s)",
    )
    drill.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
    drill.add_argument(
        "--refresh-seconds",
        type=_positive_float,
        default=2.0,
        metavar="S",
        help="the workers' refresh window; longer than the time between rotations, so"
        " workers hold keys that get deleted (default %(default)g)",
    )
    drill.add_argument(
        "--pause-seconds",
        type=_non_negative_float,
        default=0.5,
        metavar="S",
        help="pause after each round of rotations, one per consumer (default %(default)g)",
    )
    drill.add_argument(
        "--process-workers",
        type=_non_negative_int,
        default=1,
        metavar="N",
        help="app workers authenticating through a credential_process profile, refreshed"
        " by self-read, for the first consumer (default %(default)g)",
    )
    drill.add_argument(
        "--no-auth-retry",
        action="store_true",
        help="disable the client's refresh-and-retry on a rejected key (expect failures)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (never raises for expected failures)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed by argparse
        return int(exit_.code or 0)
    try:
        code = int(COMMANDS[args.command](args))
        # Output to a full disk or a closed pipe fails here, not at exit as a traceback.
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except CommandError as error:
        _error(str(error))
        return error.exit_code
    except FileAccessError as error:
        _error(str(error))
        return EXIT_FILE
    except OSError as error:
        _error(explain_os_error(error))
        _silence_stdout()
        return EXIT_FILE
    except CredrotError as error:
        _error(str(error))
        return EXIT_ERROR
    except ClientError as error:
        _error(explain_client_error(error, getattr(args, "secret", None), args))
        return EXIT_ERROR
    except BotoCoreError as error:
        _error(explain_botocore_error(error, args))
        return EXIT_ERROR


# -- commands -------------------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    from credrot.ops import health, operations

    aws = _session(args)
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


def _rotate(args: argparse.Namespace) -> int:
    from credrot.ops import operations

    aws = _session(args)
    lambda_client = aws.client("lambda")
    sm = aws.client("secretsmanager")
    with Spinner(f"rotating {args.secret}"):
        result = operations.rotate(
            sm,
            args.secret,
            timeout=args.timeout,
            iam=aws.client("iam"),
            grace=_grace_of(sm, lambda_client, args.secret),
            force=args.force,
            logs=aws.client("logs"),
            lambda_client=lambda_client,
        )
    if args.json:
        print(json.dumps(_rotation_json(result), indent=2))
        return EXIT_OK
    if result.deactivated_first:
        print(
            f"Deactivated the previous key {result.deactivated_first} first (--force): it was"
            " still Active inside its grace and the rotation deletes it."
        )
    print(f"Rotated {args.secret} in {result.seconds:.1f} s.")
    print(f"  current key   {result.current_key_id}  (version {result.token})")
    if result.previous_key_id:
        print(
            f"  previous key  {result.previous_key_id}  (stays Active for the grace period,"
            " then the sweep deactivates it)"
        )
    return EXIT_OK


def _revoke(args: argparse.Namespace) -> int:
    from credrot.ops import operations

    aws = _session(args)
    lambda_client = aws.client("lambda")
    sm = aws.client("secretsmanager")
    with Spinner(f"revoking: rotating {args.secret}"):
        result = operations.revoke(
            sm,
            aws.client("iam"),
            args.secret,
            timeout=args.timeout,
            grace=_grace_of(sm, lambda_client, args.secret),
            logs=aws.client("logs"),
            lambda_client=lambda_client,
        )
    if args.json:
        print(
            json.dumps(
                {
                    **_rotation_json(result.rotation),
                    "user": result.user_name,
                    "deactivated_key_id": result.deactivated_key_id,
                    "note": result.note,
                },
                indent=2,
            )
        )
        return EXIT_OK
    if result.rotation.deactivated_first:
        print(
            f"Deactivated the earlier previous key {result.rotation.deactivated_first} first:"
            " it was still inside its grace and the rotation deletes it."
        )
    print(
        f"Rotated {args.secret} in {result.rotation.seconds:.1f} s: the current key is now"
        f" {result.rotation.current_key_id}."
    )
    if result.deactivated_key_id:
        print(
            f"Deactivated the previous key {result.deactivated_key_id} of user"
            f" {result.user_name}: it no longer authenticates; {result.note}."
        )
        print("Apps using credrot.client re-read the secret on their next rejected call.")
    else:
        print(f"Deactivated no key: {result.note}.")
    return EXIT_OK


def _grace_of(sm: Any, lambda_client: Any, secret: str) -> timedelta:
    """The rotation function's PREVIOUS_KEY_GRACE_HOURS (24 h if unreadable)."""
    from credrot.ops import health, operations

    function_arn = sm.describe_secret(SecretId=secret).get("RotationLambdaARN")
    return operations.grace_from_function(lambda_client, function_arn) or health.DEFAULT_GRACE


def _rotation_json(result: Any) -> dict[str, Any]:
    return {
        "secret_arn": result.secret_arn,
        "version_id": result.token,
        "seconds": round(result.seconds, 3),
        "current_key_id": result.current_key_id,
        "previous_key_id": result.previous_key_id,
        "deactivated_first": result.deactivated_first,
    }


def _unstick(args: argparse.Namespace) -> int:
    from credrot.ops import operations

    aws = _session(args)
    result = operations.unstick(
        aws.client("secretsmanager"),
        args.secret,
        force=args.force,
        min_age=timedelta(minutes=args.min_age_minutes),
    )
    if result is None:
        print(f"Nothing to unstick: no version of {args.secret} is AWSPENDING without AWSCURRENT.")
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


def _require_sandbox() -> None:
    if importlib.util.find_spec("moto") is None:
        raise CommandError(
            "the rehearsal sandbox needs moto, which the app install leaves out: install"
            ' the extra with `pip install "credrot[drill]"` (or, in a checkout, `make drill`)'
        )


def _sandbox(args: argparse.Namespace) -> int:
    _require_sandbox()
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


def _drill(args: argparse.Namespace) -> int:
    _require_sandbox()
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


def _export(args: argparse.Namespace) -> int:
    import boto3

    from credrot.app.credential_process import export

    operator_profile = args.operator_profile or os.environ.get("AWS_PROFILE")
    operator_profile = operator_profile or os.environ.get("AWS_DEFAULT_PROFILE")
    if operator_profile is None and "AWS_ACCESS_KEY_ID" not in os.environ:
        operator_profile = "default"  # where the default chain would look
    if operator_profile == args.profile:
        raise CommandError(
            f"your AWS credentials would come from profile {args.profile}, the one being"
            " written (the workload's own key, possibly locked out): pass --operator-profile"
            " with your own profile, or unset AWS_PROFILE",
            exit_code=EXIT_USAGE,
        )
    region = args.region or _region_of(args.secret)
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
    _error(
        f"the profile is written, but the key cannot refresh itself from this host:"
        f" {result.self_read_problem}. It keeps working only until rotation retires key"
        f" {result.access_key_id}. Deploy the consumer with selfRead whose sourceCidrs"
        " include this host's public address, then run export again"
    )
    return EXIT_PROBLEMS


def _credential_process(args: argparse.Namespace) -> int:
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
    except self_read.LockedOutError as error:
        _error(str(error))
        return EXIT_LOCKED_OUT
    print(json.dumps(process_output(key, args.refresh_seconds)))
    return EXIT_OK


COMMANDS = {
    "status": _status,
    "rotate": _rotate,
    "revoke": _revoke,
    "unstick": _unstick,
    "drill": _drill,
    "sandbox": _sandbox,
    "export": _export,
    "credential-process": _credential_process,
}


# -- helpers --------------------------------------------------------------------------------


def _session(args: argparse.Namespace) -> Any:
    import boto3

    region = args.region or _region_of(args.secret)
    return boto3.Session(profile_name=args.profile, region_name=region)


def _region_of(secret: str) -> str | None:
    parts = secret.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "secretsmanager":
        return parts[3] or None
    return None


_REJECTED_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)


def explain_client_error(error: ClientError, secret: str | None, args: Any = None) -> str:
    """One line: which call failed on what, AWS's reason, and the fix."""
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Error"))
    message = str(details.get("Message", "")).rstrip(".")
    operation = getattr(error, "operation_name", "the call")
    target = f" on {secret}" if secret else ""
    if code == "ResourceNotFoundException":
        region = getattr(args, "region", None) or _region_of(secret or "") or "the default region"
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


def _error(message: str) -> None:
    print(f"credrot: error: {message}", file=sys.stderr)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 or more")
    return value


def _consumer_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= limits.MAX_DRILL_CONSUMERS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give from 1 to {limits.MAX_DRILL_CONSUMERS} (each consumer is a user,"
            " a secret and app workers in this one process)"
        )
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number above 0")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of 0 or more")
    return value


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
