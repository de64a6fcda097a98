"""rotate refuses to delete a previous key still inside its grace, unless --force; revoke (the
leak path) goes on; status shows when the previous key retires. Grace counts from the moment
the previous key stopped being current, recorded by the rotation function as the label
``credrot-current-since-<epoch>`` on AWSCURRENT (unknown without it: counted as in grace)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from credrot.ops.cli import main
from credrot.ops.health import (
    UNKNOWN_SINCE,
    previous_key_in_grace,
    previous_key_retires_at,
)
from credrot.ops.limits import EXIT_ERROR, EXIT_OK
from rotation_lambda.decisions import current_since

GRACE = timedelta(hours=24)  # the emulator's function: PREVIOUS_KEY_GRACE_HOURS=24
NOW = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)


# -- the label, on plain data ---------------------------------------------------------------


def test_the_current_since_label_gives_the_moment_in_utc() -> None:
    stages = ["AWSCURRENT", "credrot-current-since-1796146205"]
    assert current_since(stages) == datetime(2026, 12, 1, 17, 30, 5, tzinfo=UTC)


def test_no_label_or_a_malformed_one_means_the_moment_is_unknown() -> None:
    assert current_since(["AWSCURRENT", "BOOTSTRAP"]) is None
    assert current_since(["credrot-current-since-", "credrot-current-since-12x"]) is None
    assert current_since(["credrot-current-since--5"]) is None


def test_an_unknown_moment_counts_as_in_grace_and_has_no_retirement_time() -> None:
    assert previous_key_in_grace(None, GRACE, NOW)
    assert previous_key_retires_at(None, GRACE) is None


def test_grace_ends_exactly_grace_after_the_moment() -> None:
    since = NOW - GRACE
    assert previous_key_retires_at(since, GRACE) == NOW
    assert not previous_key_in_grace(since, GRACE, NOW)
    assert previous_key_in_grace(since, GRACE, NOW - timedelta(seconds=1))


# -- against the emulator -------------------------------------------------------------------


def rotated_once_more(consumer: Any, aws: Any) -> tuple[str, str]:
    """(previous, current): after a second rotation the previous key is a real key."""
    previous = aws.current_value(consumer)["AccessKeyId"]
    return previous, aws.rotate(consumer)


@pytest.fixture
def unlabelled(consumer: Any, aws: Any, operator_env: Any) -> tuple[str, str]:
    """(previous, current) after a second rotation, with no record of when it finished."""
    keys = rotated_once_more(consumer, aws)
    aws.unmark_current_since(consumer)
    return keys


def credrot(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """The CLI's exit code, stdout and stderr for one run (nothing printed before it)."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_rotate_refuses_while_the_previous_key_is_active_inside_its_grace(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    previous, current = rotated_once_more(consumer, aws)
    aws.mark_current_since(consumer, datetime.now(UTC) - timedelta(hours=1))
    code, _, err = credrot(capsys, "rotate", consumer.secret_arn)
    assert code == EXIT_ERROR
    assert "credrot: error: the previous key" in err
    assert previous in err and "retires at" in err and "--force" in err and "revoke" in err
    assert aws.current_value(consumer)["AccessKeyId"] == current
    assert aws.user_keys(consumer) == {previous: "Active", current: "Active"}


def test_rotate_counts_an_unlabelled_previous_key_as_in_grace(
    consumer: Any, aws: Any, unlabelled: tuple[str, str], capsys: Any
) -> None:
    previous, current = unlabelled
    code, _, err = credrot(capsys, "rotate", consumer.secret_arn)
    assert code == EXIT_ERROR
    assert UNKNOWN_SINCE in err and previous in err
    assert aws.current_value(consumer)["AccessKeyId"] == current


def test_rotate_goes_ahead_once_the_grace_is_over(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    previous, current = rotated_once_more(consumer, aws)
    aws.mark_current_since(consumer, datetime.now(UTC) - GRACE - timedelta(minutes=1))
    assert main(["rotate", consumer.secret_arn]) == EXIT_OK
    newest = aws.current_value(consumer)["AccessKeyId"]
    assert newest not in (previous, current)
    assert previous not in aws.user_keys(consumer)


def test_rotate_force_deactivates_the_previous_key_first_and_says_so(
    consumer: Any, aws: Any, emulator: Any, operator_env: Any, capsys: Any, monkeypatch: Any
) -> None:
    previous, current = rotated_once_more(consumer, aws)
    aws.mark_current_since(consumer, datetime.now(UTC))
    statuses_at_rotation: list[dict[str, str]] = []
    sm_backend = _rotate_secret_spy(
        monkeypatch, lambda: statuses_at_rotation.append(aws.user_keys(consumer))
    )
    code, out, _ = credrot(capsys, "rotate", consumer.secret_arn, "--force")
    assert code == EXIT_OK
    assert f"Deactivated the previous key {previous} first (--force)" in out
    assert statuses_at_rotation[0][previous] == "Inactive"  # before RotateSecret ran
    assert aws.current_value(consumer)["AccessKeyId"] not in (previous, current)
    assert sm_backend


def test_rotate_force_json_names_the_key_deactivated_first(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    previous, current = rotated_once_more(consumer, aws)
    aws.mark_current_since(consumer, datetime.now(UTC))
    code, out, _ = credrot(capsys, "rotate", consumer.secret_arn, "--force", "--json")
    assert code == EXIT_OK
    report = json.loads(out)
    assert report["deactivated_first"] == previous
    assert report["previous_key_id"] == current
    assert report["current_key_id"] == aws.current_value(consumer)["AccessKeyId"]


def test_rotate_json_without_a_key_in_grace_deactivates_nothing(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    before = aws.current_value(consumer)["AccessKeyId"]
    code, out, _ = credrot(capsys, "rotate", consumer.secret_arn, "--json")
    assert code == EXIT_OK
    report = json.loads(out)
    assert report["deactivated_first"] is None and report["previous_key_id"] == before


def test_revoke_keeps_working_while_an_earlier_key_is_in_its_grace(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    earlier, leaked = rotated_once_more(consumer, aws)
    aws.mark_current_since(consumer, datetime.now(UTC))
    code, out, _ = credrot(capsys, "revoke", consumer.secret_arn, "--json")
    assert code == EXIT_OK
    report = json.loads(out)
    assert report["deactivated_first"] == earlier
    assert report["deactivated_key_id"] == leaked
    current = aws.current_value(consumer)["AccessKeyId"]
    assert aws.user_keys(consumer) == {leaked: "Inactive", current: "Active"}


def test_status_shows_when_the_previous_key_retires(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    previous, _ = rotated_once_more(consumer, aws)
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    aws.mark_current_since(consumer, since)
    capsys.readouterr()
    main(["status", consumer.secret_arn])
    text = capsys.readouterr().out
    retires = (since + GRACE).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"previous key {previous} retires at {retires}" in text
    main(["status", consumer.secret_arn, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["previous_key_retires_at"] == (since + GRACE).isoformat()
    assert report["current_since"] == since.isoformat()


def test_status_says_an_unknown_retirement_counts_as_in_grace(
    consumer: Any, unlabelled: tuple[str, str], capsys: Any
) -> None:
    previous, _ = unlabelled
    _, out, _ = credrot(capsys, "status", consumer.secret_arn)
    assert f"previous key {previous} retires at {UNKNOWN_SINCE}" in out


def test_status_shows_the_finish_time_the_rotation_function_recorded(
    consumer: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    rotated_once_more(consumer, aws)
    main(["status", consumer.secret_arn, "--json"])
    report = json.loads(capsys.readouterr().out)
    since = datetime.fromisoformat(report["current_since"])
    assert before <= since <= datetime.now(UTC)


def _rotate_secret_spy(monkeypatch: Any, before: Any) -> bool:
    """Call ``before`` when moto receives RotateSecret (to see the state the rotation saw)."""
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.rotate_secret

    def rotate_secret(backend: Any, *args: Any, **kwargs: Any) -> Any:
        before()
        return original(backend, *args, **kwargs)

    monkeypatch.setattr(SecretsManagerBackend, "rotate_secret", rotate_secret)
    return True


def test_a_failing_rotation_shows_the_functions_error_instead_of_waiting_for_the_timeout(
    consumer: Any, emulator: Any, aws: Any, operator_env: Any, capsys: Any
) -> None:
    before = aws.current_value(consumer)["AccessKeyId"]
    with emulator.function_environment(consumer.function_name, PREVIOUS_KEY_GRACE_HOURS="soon"):
        capsys.readouterr()
        assert main(["rotate", consumer.secret_arn, "--timeout", "300"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "is failing: the function failed: createSecret: ConfigurationError" in err
    assert "PREVIOUS_KEY_GRACE_HOURS" in err
    assert "did not finish" not in err and "unstick" in err
    assert aws.current_value(consumer)["AccessKeyId"] == before
