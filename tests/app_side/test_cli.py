"""credrot status/rotate/revoke/unstick against the emulator, in-process and as a
real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from components.config import SelfRead
from credrot.ops.cli import main
from credrot.ops.limits import EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, EXIT_TIMEOUT, EXIT_USAGE
from credrot.sandbox.provision import provision_consumer

REPO = Path(__file__).resolve().parents[2]
COMMANDS = [
    "status",
    "rotate",
    "revoke",
    "unstick",
    "drill",
    "sandbox",
    "export",
    "credential-process",
]


def stuck_rotation(emulator: Any, consumer: Any) -> str:
    """A rotation whose testSecret failed: AWSPENDING left on a version holding a new key."""
    emulator.fail_step("testSecret")
    token: str = emulator.client("secretsmanager").rotate_secret(
        SecretId=consumer.secret_arn, RotationLambdaARN=consumer.function_arn
    )["VersionId"]
    return token


@pytest.fixture
def stuck_token(consumer: Any, emulator: Any) -> str:
    """The token of the consumer's stuck rotation (see ``stuck_rotation``)."""
    return stuck_rotation(emulator, consumer)


def problems_by_code(report: dict[str, Any]) -> dict[str, str]:
    return {p["code"]: p["message"] for p in report["problems"]}


def name_in_current_value(emulator: Any, consumer: Any, user_name: str) -> None:
    """A new AWSCURRENT value naming ``user_name``: a hand edit of the secret."""
    emulator.client("secretsmanager").put_secret_value(
        SecretId=consumer.secret_arn,
        SecretString=json.dumps({"UserName": user_name}),
        VersionStages=["AWSCURRENT"],
    )


def status_json(consumer: Any, capsys: Any, *extra: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["status", consumer.secret_arn, "--json", *extra])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, report


# -- help and usage -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], *[[name] for name in COMMANDS]])
def test_every_command_has_help_with_examples_and_exit_codes(
    command: list[str], capsys: Any
) -> None:
    assert main([*command, "--help"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "examples:" in text
    assert "exit codes:" in text


def test_a_missing_argument_is_a_usage_error(capsys: Any) -> None:
    assert main(["status"]) == EXIT_USAGE
    assert "SECRET" in capsys.readouterr().err


def test_a_bad_drill_option_is_a_usage_error(capsys: Any) -> None:
    assert main(["drill", "--rotations", "0"]) == EXIT_USAGE
    assert "give 1 or more" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["drill", "--workers", "2.5"], "argument --workers: '2.5' is not a whole number"),
        (["drill", "--process-workers", "-1"], "argument --process-workers: '-1': give 0 or more"),
        (["drill", "--pause-seconds", "x"], "argument --pause-seconds: 'x' is not a number"),
        (["status", "s", "--grace-hours", "nan"], "'nan': give a number of 0 or more"),
        (["rotate", "s", "--timeout", "inf"], "argument --timeout: 'inf': give a number of 0"),
        (["sandbox", "--duration", "0"], "argument --duration: '0': give a number above 0"),
    ],
)
def test_a_number_out_of_bounds_is_a_usage_error_naming_the_flag(
    argv: list[str], message: str, capsys: Any
) -> None:
    assert main(argv) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_help_works_as_a_real_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "credrot", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


# -- status ---------------------------------------------------------------------------------


def test_status_of_a_healthy_secret_shows_the_keys_and_exits_zero(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    previous = aws.current_value(consumer)["AccessKeyId"]
    current = aws.rotate(consumer)
    assert main(["status", consumer.secret_arn]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"User      {consumer.user_name}" in out
    assert "enabled, every 30 days" in out
    assert current in out and previous in out
    assert "Healthy: no problems found." in out


def test_status_json_lists_roles_statuses_and_rotation_dates(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    previous = aws.current_value(consumer)["AccessKeyId"]
    current = aws.rotate(consumer)
    code, report = status_json(consumer, capsys)
    assert code == EXIT_OK
    assert report["healthy"] is True
    assert report["user"] == consumer.user_name
    keys = {key["role"]: key for key in report["keys"]}
    assert keys["current"]["access_key_id"] == current
    assert keys["previous"]["access_key_id"] == previous
    assert keys["current"]["status"] == keys["previous"]["status"] == "Active"
    assert report["rotation"]["last"] and report["rotation"]["next"]


def test_status_flags_a_stuck_rotation_and_exits_three(
    consumer: Any, stuck_token: str, operator_env: Any, capsys: Any
) -> None:
    assert main(["status", consumer.secret_arn]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "[stuck-pending] previous rotation isn't complete" in out
    assert stuck_token in out
    assert "unstick" in out


def test_status_flags_a_key_the_secret_does_not_know(
    consumer: Any, emulator: Any, operator_env: Any, capsys: Any
) -> None:
    stray = emulator.client("iam").create_access_key(UserName=consumer.user_name)["AccessKey"]
    code, report = status_json(consumer, capsys)
    assert code == EXIT_PROBLEMS
    problems = problems_by_code(report)
    assert stray["AccessKeyId"] in problems["unknown-keys"]
    assert {k["access_key_id"]: k["role"] for k in report["keys"]}[stray["AccessKeyId"]] == (
        "unknown"
    )


def test_status_flags_disabled_rotation(
    consumer: Any, emulator: Any, operator_env: Any, capsys: Any
) -> None:
    emulator.client("secretsmanager").cancel_rotate_secret(SecretId=consumer.secret_arn)
    code, report = status_json(consumer, capsys)
    assert code == EXIT_PROBLEMS
    assert {p["code"] for p in report["problems"]} & {"rotation-disabled", "no-rotation-function"}


def test_status_flags_a_previous_key_still_active_past_its_grace(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    previous = aws.current_value(consumer)["AccessKeyId"]
    aws.rotate(consumer)
    aws.mark_current_since(consumer, datetime.now(UTC) - timedelta(hours=2))
    code, report = status_json(consumer, capsys, "--grace-hours", "1")
    assert code == EXIT_PROBLEMS
    problems = problems_by_code(report)
    assert previous in problems["previous-key-past-grace"]
    assert report["grace_hours"] == 1


def test_status_warns_when_the_key_may_read_its_own_secret_from_anywhere(
    emulator: Any, operator_env: Any, capsys: Any
) -> None:
    emulator.disable_iam_authentication()
    anywhere = provision_consumer(
        emulator, "anywhere", self_read=SelfRead(allow_from_anywhere=True)
    )
    emulator.enable_iam_authentication()
    code, report = status_json(anywhere, capsys)
    assert code == EXIT_OK  # an accepted risk: healthy, but said every time
    assert report["healthy"] is True and report["problems"] == []
    [warning] = report["warnings"]
    assert warning["code"] == "self-read-from-anywhere"
    assert "a leaked key can read every next key" in warning["message"]
    policy = f"inline policy credrot-{anywhere.name}-data-access"
    assert policy in warning["message"]
    assert main(["status", anywhere.secret_arn]) == EXIT_OK
    assert "[self-read-from-anywhere]" in capsys.readouterr().out


def test_status_does_not_warn_about_self_read_limited_to_source_cidrs(
    self_read_consumer: Any, consumer: Any, operator_env: Any, capsys: Any
) -> None:
    for limited in (self_read_consumer, consumer):
        code, report = status_json(limited, capsys)
        assert code == EXIT_OK
        assert report["warnings"] == []


def test_status_of_a_bootstrap_secret_says_no_key_yet(
    bootstrap_consumer: Any, operator_env: Any, capsys: Any
) -> None:
    code, report = status_json(bootstrap_consumer, capsys)
    assert code == EXIT_PROBLEMS
    assert [p["code"] for p in report["problems"]] == ["no-key-yet"]


def test_status_of_an_unknown_secret_is_a_clear_error_without_traceback(
    consumer: Any, operator_env: Any, capsys: Any
) -> None:
    assert main(["status", "ai-credential-rotation/no-such-app"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("credrot: error: DescribeSecret on ai-credential-rotation/no-such-app")
    assert "ResourceNotFoundException" in err
    assert "Traceback" not in err


def test_status_runs_as_a_real_subprocess(consumer: Any, operator_env: Any) -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "credrot", "status", consumer.secret_arn, "--json"],
        cwd=REPO,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert json.loads(result.stdout)["user"] == consumer.user_name


def test_missing_credentials_are_a_clear_error(
    operator_env: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(["status", "ai-credential-rotation/bot"]) == EXIT_ERROR
    assert "no AWS credentials found" in capsys.readouterr().err


# -- rotate ---------------------------------------------------------------------------------


def test_rotate_makes_a_new_current_key_and_keeps_the_previous_one_active(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    before = aws.current_value(consumer)["AccessKeyId"]
    assert main(["rotate", consumer.secret_arn]) == EXIT_OK
    captured = capsys.readouterr()
    after = aws.current_value(consumer)["AccessKeyId"]
    assert after != before
    assert aws.user_keys(consumer) == {before: "Active", after: "Active"}
    assert f"current key   {after}" in captured.out
    assert "rotating" in captured.err and "done after" in captured.err
    assert not [v for v, s in aws.stages(consumer).items() if "AWSPENDING" in s]


def test_rotate_mints_the_first_key_of_a_bootstrap_secret(
    bootstrap_consumer: Any, aws: Any, operator_env: Any
) -> None:
    assert main(["rotate", bootstrap_consumer.secret_arn]) == EXIT_OK
    assert aws.current_value(bootstrap_consumer)["AccessKeyId"] in aws.user_keys(bootstrap_consumer)


def test_rotate_refuses_while_a_previous_rotation_is_stuck(
    consumer: Any, stuck_token: str, operator_env: Any, capsys: Any
) -> None:
    assert main(["rotate", consumer.secret_arn]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "isn't complete" in err and stuck_token in err and "unstick" in err


def test_rotate_times_out_with_exit_four_when_the_rotation_does_not_finish(
    consumer: Any, emulator: Any, operator_env: Any, capsys: Any
) -> None:
    emulator.fail_step("finishSecret")
    assert main(["rotate", consumer.secret_arn, "--timeout", "0.5"]) == EXIT_TIMEOUT
    assert "did not finish within 0.5 s" in capsys.readouterr().err


# -- unstick --------------------------------------------------------------------------------


def test_unstick_refuses_a_recent_pending_version_without_force(
    consumer: Any, stuck_token: str, aws: Any, operator_env: Any, capsys: Any
) -> None:
    assert main(["unstick", consumer.secret_arn]) == EXIT_ERROR
    assert "--force" in capsys.readouterr().err
    assert "AWSPENDING" in aws.stages(consumer)[stuck_token]


def test_unstick_clears_a_stuck_rotation_and_names_the_key_left_behind(
    consumer: Any, emulator: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    current_before = aws.current_value(consumer)["AccessKeyId"]
    token = stuck_rotation(emulator, consumer)
    abandoned = json.loads(
        emulator.client("secretsmanager").get_secret_value(
            SecretId=consumer.secret_arn, VersionId=token
        )["SecretString"]
    )["AccessKeyId"]
    capsys.readouterr()

    assert main(["unstick", consumer.secret_arn, "--force"]) == EXIT_OK
    out = capsys.readouterr().out
    assert token in out and abandoned in out
    stages = aws.stages(consumer)
    assert "AWSPENDING" not in stages[token]
    assert aws.current_value(consumer)["AccessKeyId"] == current_before  # untouched

    code, report = status_json(consumer, capsys)
    assert code == EXIT_OK, report["problems"]
    assert main(["rotate", consumer.secret_arn]) == EXIT_OK
    assert abandoned not in aws.user_keys(consumer)  # the next rotation cleaned it up


def test_unstick_with_nothing_stuck_changes_nothing(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    before = aws.stages(consumer)
    assert main(["unstick", consumer.secret_arn, "--force"]) == EXIT_OK
    assert "Nothing to unstick" in capsys.readouterr().out
    assert aws.stages(consumer) == before


def test_unstick_of_a_rotation_that_never_wrote_a_value_says_no_key_was_left(
    consumer: Any, emulator: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    keys_before = aws.user_keys(consumer)
    emulator.fail_step("createSecret")
    emulator.client("secretsmanager").rotate_secret(
        SecretId=consumer.secret_arn, RotationLambdaARN=consumer.function_arn
    )
    assert main(["unstick", consumer.secret_arn, "--force"]) == EXIT_OK
    assert "no key was left behind" in capsys.readouterr().out
    assert aws.user_keys(consumer) == keys_before


# -- revoke ---------------------------------------------------------------------------------


def test_revoke_rotates_then_deactivates_the_previous_key_but_never_the_current(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    leaked = aws.current_value(consumer)["AccessKeyId"]
    assert main(["revoke", consumer.secret_arn]) == EXIT_OK
    out = capsys.readouterr().out
    current = aws.current_value(consumer)["AccessKeyId"]
    assert aws.user_keys(consumer) == {leaked: "Inactive", current: "Active"}
    assert f"Deactivated the previous key {leaked}" in out
    assert current in out


def test_revoke_leaves_a_key_that_a_session_follows_without_a_failed_call(
    consumer: Any, aws: Any, operator_env: Any
) -> None:
    from credrot.client import session

    secrets, reads = aws.reader_client(consumer)
    app = session(consumer.secret_arn, secrets_client=secrets).client("sts")
    app.get_caller_identity()
    assert main(["revoke", consumer.secret_arn]) == EXIT_OK
    assert app.get_caller_identity()["Arn"] == consumer.user_arn
    assert reads.count == 2


# -- secrets never shown --------------------------------------------------------------------


def test_no_command_prints_or_logs_a_secret_access_key(
    consumer: Any,
    emulator: Any,
    aws: Any,
    operator_env: Any,
    output: Any,
    secret_watch: Any,
) -> None:
    secret_watch.add(aws.current_value(consumer)["SecretAccessKey"])
    secret_watch.add(emulator.operator.secret_access_key)
    secret_watch.add(consumer.reader.secret_access_key)
    main(["status", consumer.secret_arn])
    main(["status", consumer.secret_arn, "--json"])
    main(["rotate", consumer.secret_arn])
    stuck_rotation(emulator, consumer)
    main(["status", consumer.secret_arn])
    main(["rotate", consumer.secret_arn])
    main(["unstick", consumer.secret_arn, "--force"])
    main(["revoke", consumer.secret_arn])
    main(["status", consumer.secret_arn, "--json"])
    secret_watch.assert_absent(output())


# -- ownership ------------------------------------------------------------------------------


def test_status_says_plainly_when_a_secret_is_not_managed_by_this_product(
    emulator: Any, operator_env: Any, capsys: Any
) -> None:
    sm = emulator.client("secretsmanager")
    arn = sm.create_secret(
        Name="someone-elses-secret", SecretString=json.dumps({"UserName": "someone"})
    )["ARN"]
    capsys.readouterr()
    assert main(["status", arn, "--json"]) == EXIT_PROBLEMS
    problems = problems_by_code(json.loads(capsys.readouterr().out))
    assert "is not managed by ai-credential-rotation" in problems["not-managed"]


def test_status_names_a_value_that_names_another_user(
    consumer: Any, emulator: Any, operator_env: Any, capsys: Any
) -> None:
    # A user of no consumer (the reader user carries the consumer's tag, for ABAC).
    stranger = f"{consumer.name}-stranger"
    emulator.client("iam").create_user(UserName=stranger, Path="/ai-credential-rotation/")
    name_in_current_value(emulator, consumer, stranger)
    code, report = status_json(consumer, capsys)
    assert code == EXIT_PROBLEMS
    assert f"names IAM user {stranger}" in problems_by_code(report)["names-another-user"]


def test_status_names_a_value_naming_a_user_tagged_as_the_consumers_reader(
    consumer: Any, emulator: Any, operator_env: Any, capsys: Any
) -> None:
    # An attribute-based reader carries the consumer's own tag: only the secret's user tag,
    # which the shared function follows, tells it apart from the consumer's user.
    reader = f"{consumer.name}-app-reader"
    emulator.client("iam").create_user(
        UserName=reader,
        Path="/ai-credential-rotation/",
        Tags=[{"Key": "ai-credential-rotation:consumer", "Value": consumer.name}],
    )
    name_in_current_value(emulator, consumer, reader)
    code, report = status_json(consumer, capsys)
    assert code == EXIT_PROBLEMS
    assert (
        f"the secret's ai-credential-rotation:user tag names {consumer.user_name}"
        in problems_by_code(report)["names-another-user"]
    )


def test_status_of_a_managed_secret_raises_no_ownership_problem(
    consumer: Any, operator_env: Any, capsys: Any
) -> None:
    capsys.readouterr()
    main(["status", consumer.secret_arn, "--json"])
    codes = {p["code"] for p in json.loads(capsys.readouterr().out)["problems"]}
    assert not codes & {"not-managed", "names-another-user"}
