"""Pure decisions on plain data: health problems, key roles, rendering, rotation progress."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from components import iam_policies
from credrot.ops.health import (
    IamKey,
    Snapshot,
    UserPolicy,
    VersionView,
    assess,
    format_table,
    key_rows,
    self_read_from_anywhere,
    stuck_pending_version,
    to_json,
)
from credrot.ops.operations import rotation_state
from credrot.sandbox.drill import percentiles
from credrot.sandbox.provision import emulator_only_wildcard

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
    assert "credrot unstick ai-credential-rotation/bot" in problems["stuck-pending"]


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
    since = f"credrot-current-since-{int((NOW - timedelta(hours=25)).timestamp())}"
    old_current = (
        version("v2", "AWSCURRENT", since, key="AKIACURRENT", age=timedelta(hours=26)),
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
    unlabelled = (replace(old_current[0], stages=("AWSCURRENT",)), old_current[1])
    assert codes(snapshot(versions=unlabelled)) == []  # unknown: counted as in grace


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


def read_statement(
    action: Any = "secretsmanager:GetSecretValue", resource: Any = ARN, **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(
    ("statement", "from_anywhere"),
    [
        (read_statement(), True),
        (read_statement(action=["secretsmanager:Get*"]), True),
        (read_statement(action="*", resource="*"), True),
        (read_statement(resource="arn:aws:secretsmanager:eu-west-1:123456789012:secret:*"), True),
        (read_statement(Condition={"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}), False),
        (read_statement(Condition={"NotIpAddress": {"aws:SourceIp": ["0.0.0.0/0"]}}), False),
        (read_statement(Condition={"StringEquals": {"aws:SourceVpce": ["vpce-1a2b3c4d"]}}), False),
        (read_statement(Condition={"StringEquals": {"aws:PrincipalTag/x": "y"}}), True),
        (read_statement(action="secretsmanager:DescribeSecret"), False),
        (
            read_statement(resource="arn:aws:secretsmanager:eu-west-1:123456789012:secret:other"),
            False,
        ),
        ({**read_statement(), "Effect": "Deny"}, False),
    ],
)
def test_a_read_of_the_own_secret_without_a_source_ip_condition_is_from_anywhere(
    statement: dict[str, Any], from_anywhere: bool
) -> None:
    policy = UserPolicy("inline policy p", {"Version": "2012-10-17", "Statement": [statement]})
    assert self_read_from_anywhere([policy], ARN) == (["inline policy p"] if from_anywhere else [])


def test_self_read_from_anywhere_is_a_warning_that_keeps_the_secret_healthy() -> None:
    document = iam_policies.consumer_user_policy(
        ["s3://bucket/data/"], [], self_read_secret_arn=ARN
    )
    snap = snapshot(user_policies=(UserPolicy("policy data-access", document),))
    health = assess(snap)
    assert health.healthy
    assert [(p.code, p.severity) for p in health.problems] == [
        ("self-read-from-anywhere", "warning")
    ]
    assert "Warnings (1):" in format_table(health)
    data = to_json(health)
    assert data["problems"] == [] and data["warnings"][0]["code"] == "self-read-from-anywhere"
    limited = iam_policies.consumer_user_policy(
        ["s3://bucket/data/"], [], self_read_secret_arn=ARN, source_cidrs=["203.0.113.0/24"]
    )
    assert assess(snapshot(user_policies=(UserPolicy("p", limited),))).problems == ()
    through_endpoints = iam_policies.consumer_user_policy(
        ["s3://bucket/data/"], [], self_read_secret_arn=ARN, source_vpces=["vpce-1a2b3c4d"]
    )
    assert assess(snapshot(user_policies=(UserPolicy("p", through_endpoints),))).problems == ()


def test_unreadable_user_policies_are_a_warning_not_a_failure() -> None:
    health = assess(snapshot(user_policies_error="AccessDenied: no"))
    assert health.healthy
    assert [p.code for p in health.warnings] == ["policies-not-checked"]


def test_the_emulator_only_allowance_keeps_a_source_ip_and_a_source_vpce_condition() -> None:
    document = iam_policies.consumer_user_policy(
        ["s3://bucket/data/"],
        [],
        self_read_secret_arn=ARN,
        source_cidrs=["203.0.113.0/24"],
        source_vpces=["vpce-1a2b3c4d"],
        restrict_data_access=True,
    )
    allowance = emulator_only_wildcard(document)
    assert allowance is not None
    assert allowance["Statement"] == [
        {
            "Sid": "ReadOwnSecretOnAnyResource",
            "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}},
        },
        {
            "Sid": "ReadOwnSecretViaVpceOnAnyResource",
            "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceVpce": ["vpce-1a2b3c4d"]}},
        },
    ]
