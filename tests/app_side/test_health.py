"""Pure decisions on plain data: health problems, key roles, rendering, rotation progress."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from components import iam_policies
from credrot.drill import percentiles
from credrot.health import (
    IamKey,
    Snapshot,
    VersionView,
    assess,
    format_table,
    key_rows,
    stuck_pending_version,
    to_json,
)
from credrot.operations import rotation_state
from credrot.provision import emulator_only_wildcard

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ai-credential-rotation/bot-AbCdEf"
FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:bot-rotation"


def version(
    version_id: str,
    *stages: str,
    key: str | None = None,
    age: timedelta = timedelta(hours=1),
    read: bool = True,
) -> VersionView:
    return VersionView(
        version_id=version_id,
        stages=stages,
        created=NOW - age,
        has_value=read,
        read=read,
        user_name="bot" if read else None,
        access_key_id=key,
    )


def snapshot(
    versions: tuple[VersionView, ...] | None = None,
    keys: tuple[IamKey, ...] | None = None,
    **changes: object,
) -> Snapshot:
    base = Snapshot(
        secret_arn=ARN,
        secret_name="ai-credential-rotation/bot",
        rotation_enabled=True,
        rotation_lambda_arn=FUNCTION,
        rotation_schedule="every 30 days",
        last_rotated=NOW - timedelta(hours=1),
        next_rotation=NOW + timedelta(days=29),
        versions=versions
        if versions is not None
        else (
            version("v2", "AWSCURRENT", key="AKIACURRENT"),
            version("v1", "AWSPREVIOUS", key="AKIAPREVIOUS", age=timedelta(days=30)),
        ),
        user_name="bot",
        user_keys=keys
        if keys is not None
        else (
            IamKey("AKIACURRENT", "Active", NOW - timedelta(hours=1)),
            IamKey("AKIAPREVIOUS", "Active", NOW - timedelta(days=30)),
        ),
        taken_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def codes(snap: Snapshot, grace: timedelta = timedelta(hours=24)) -> list[str]:
    return [problem.code for problem in assess(snap, grace).problems]


def test_a_freshly_rotated_secret_is_healthy() -> None:
    health = assess(snapshot())
    assert health.healthy
    assert [(row.role, row.access_key_id, row.status) for row in health.keys] == [
        ("current", "AKIACURRENT", "Active"),
        ("previous", "AKIAPREVIOUS", "Active"),
    ]


def test_a_pending_label_on_another_version_is_a_stuck_rotation() -> None:
    snap = snapshot(
        versions=(
            version("v2", "AWSCURRENT", key="AKIACURRENT"),
            version("v3", "AWSPENDING", key="AKIAPENDING"),
        ),
        keys=(IamKey("AKIACURRENT", "Active"), IamKey("AKIAPENDING", "Active")),
    )
    problems = {p.code: p.message for p in assess(snap).problems}
    assert list(problems) == ["stuck-pending"]
    assert "previous rotation isn't complete" in problems["stuck-pending"]
    assert "v3" in problems["stuck-pending"] and "AKIAPENDING" in problems["stuck-pending"]
    assert "python -m credrot unstick ai-credential-rotation/bot" in problems["stuck-pending"]


def test_a_pending_label_on_the_current_version_is_a_finished_rotation() -> None:
    snap = snapshot(versions=(version("v2", "AWSCURRENT", "AWSPENDING", key="AKIACURRENT"),))
    assert "stuck-pending" not in codes(snap)
    assert stuck_pending_version({"v2": ["AWSCURRENT", "AWSPENDING"]}) is None
    assert stuck_pending_version({"v2": ["AWSCURRENT"], "v3": ["AWSPENDING"]}) == "v3"


def test_a_key_no_version_records_is_unknown_but_an_abandoned_one_is_not() -> None:
    snap = snapshot(
        versions=(
            version("v2", "AWSCURRENT", key="AKIACURRENT"),
            version("v0", key="AKIAABANDONED"),
        ),
        keys=(
            IamKey("AKIACURRENT", "Active"),
            IamKey("AKIAABANDONED", "Active"),
            IamKey("AKIASTRAY", "Inactive"),
        ),
    )
    health = assess(snap)
    roles = {row.access_key_id: row.role for row in health.keys}
    assert roles == {
        "AKIACURRENT": "current",
        "AKIAABANDONED": "abandoned",
        "AKIASTRAY": "unknown",
    }
    assert [p.code for p in health.problems] == ["unknown-keys"]
    assert "AKIASTRAY" in health.problems[0].message


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"rotation_enabled": False}, "rotation-disabled"),
        ({"rotation_lambda_arn": None, "rotation_enabled": False}, "no-rotation-function"),
        ({"next_rotation": NOW - timedelta(days=2)}, "rotation-overdue"),
        ({"user_keys": None, "user_keys_error": "AccessDenied: no"}, "keys-not-checked"),
    ],
)
def test_configuration_problems_are_named(changes: dict[str, object], code: str) -> None:
    assert codes(snapshot(**changes)) == [code]  # type: ignore[arg-type]


def test_a_previous_key_still_active_after_the_grace_period_is_flagged() -> None:
    old_current = (
        version("v2", "AWSCURRENT", key="AKIACURRENT", age=timedelta(hours=25)),
        version("v1", "AWSPREVIOUS", key="AKIAPREVIOUS", age=timedelta(days=30)),
    )
    assert codes(snapshot(versions=old_current)) == ["previous-key-past-grace"]
    assert codes(snapshot(versions=old_current), grace=timedelta(hours=48)) == []
    deactivated = (
        IamKey("AKIACURRENT", "Active"),
        IamKey("AKIAPREVIOUS", "Inactive"),
    )
    assert codes(snapshot(versions=old_current, keys=deactivated)) == []
    assert codes(snapshot()) == []  # rotated an hour ago: within the grace


@pytest.mark.parametrize(
    ("keys", "code"),
    [
        ((IamKey("AKIAPREVIOUS", "Active"),), "current-key-missing"),
        (
            (IamKey("AKIACURRENT", "Inactive"), IamKey("AKIAPREVIOUS", "Active")),
            "current-key-inactive",
        ),
    ],
)
def test_a_current_key_that_cannot_authenticate_is_flagged(
    keys: tuple[IamKey, ...], code: str
) -> None:
    assert codes(snapshot(keys=keys)) == [code]


def test_a_bootstrap_value_means_no_key_yet() -> None:
    snap = snapshot(versions=(version("v1", "AWSCURRENT", "BOOTSTRAP"),), keys=())
    problems = assess(snap).problems
    assert [p.code for p in problems] == ["no-key-yet"]
    assert "rotation has not minted a key yet" in problems[0].message


def test_a_malformed_current_value_is_flagged() -> None:
    bad = replace(version("v2", "AWSCURRENT"), user_name=None, malformed="is not JSON")
    assert codes(snapshot(versions=(bad,), keys=())) == ["malformed-current"]


def test_a_secret_without_any_current_version_is_flagged() -> None:
    assert codes(snapshot(versions=(), keys=())) == ["no-current-version"]


def test_a_deleted_previous_key_is_shown_as_deleted_not_as_a_problem() -> None:
    rows = key_rows(snapshot(keys=(IamKey("AKIACURRENT", "Active"),)))
    assert [(row.role, row.status) for row in rows] == [
        ("current", "Active"),
        ("previous", "deleted"),
    ]


def test_the_table_shows_the_user_keys_ages_and_problems() -> None:
    text = format_table(assess(snapshot(rotation_enabled=False)))
    assert "User      bot" in text
    assert "Rotation  DISABLED, every 30 days, function bot-rotation" in text
    assert "ROLE      KEY ID        STATUS  AGE     VERSION" in text
    assert "previous  AKIAPREVIOUS  Active  30d 0h  v1" in text
    assert "Last      2026-03-01 11:00:00 UTC (1h 0m ago)" in text
    assert "[rotation-disabled]" in text


def test_the_json_form_is_serialisable_and_complete() -> None:
    data = to_json(assess(snapshot()))
    assert json.loads(json.dumps(data)) == data
    assert data["healthy"] is True
    assert data["keys"][0] == {
        "role": "current",
        "access_key_id": "AKIACURRENT",
        "status": "Active",
        "created": (NOW - timedelta(hours=1)).isoformat(),
        "age_seconds": 3600,
        "version_id": "v2",
    }


@pytest.mark.parametrize(
    ("stages", "state"),
    [
        ({"t": ["AWSPENDING"], "c": ["AWSCURRENT"]}, "running"),
        ({"t": ["AWSCURRENT"], "c": ["AWSPREVIOUS"]}, "done"),
        ({"t": ["AWSCURRENT", "AWSPENDING"], "c": ["AWSPREVIOUS"]}, "done"),
        ({"c": ["AWSCURRENT"]}, "abandoned"),
        ({"t": [], "c": ["AWSCURRENT"]}, "abandoned"),
        ({"t": ["AWSCURRENT"], "x": ["AWSPENDING"]}, "abandoned"),
    ],
)
def test_rotation_progress_is_read_from_the_version_stages(
    stages: dict[str, list[str]], state: str
) -> None:
    assert rotation_state(stages, "t") == state


def test_percentiles_interpolate_and_handle_tiny_samples() -> None:
    assert percentiles([]) == {"p50": 0.0, "p95": 0.0, "max": 0.0}
    assert percentiles([0.2]) == {"p50": 0.2, "p95": 0.2, "max": 0.2}
    result = percentiles([0.1, 0.2, 0.3, 0.4, 1.0])
    assert result["p50"] == 0.3
    assert 0.4 < result["p95"] < 1.0
    assert result["max"] == 1.0


def test_the_emulator_only_allowance_widens_only_resource_blind_services() -> None:
    document = iam_policies.rotation_function_policy(
        user_arn="arn:aws:iam::123456789012:user/ai-credential-rotation/bot",
        secret_arn=ARN,
        log_group_arn="arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/bot-rotation",
    )
    allowance = emulator_only_wildcard(document)
    assert allowance is not None
    for statement in allowance["Statement"]:
        assert statement["Resource"] == "*"
        assert "Condition" not in statement
    widened = {action for s in allowance["Statement"] for action in s["Action"]}
    granted = {action for s in document["Statement"] for action in s["Action"]}
    assert widened == granted
    data = iam_policies.data_access_policy(["s3://bucket/data/"], [])
    assert emulator_only_wildcard(data) is None
