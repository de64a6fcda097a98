"""RotatedAccessKeyArgs and the component's name: refused before any resource exists."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import SelfRead
from components.rotated_access_key import RotatedAccessKey, RotatedAccessKeyArgs
from components.shared_rotator import SharedRotatorArgs

VALID = {"read_paths": ("s3://acme-knowledge-base/support/",)}
TOPIC = "arn:aws:sns:us-east-1:123456789012:platform-alarms"


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"read_paths": ("http://acme/x/",)}, "read_paths[0]: 'http://acme/x/'"),
        ({"read_paths": "s3://acme/x/"}, "read_paths: 's3://acme/x/' is not a list"),
        ({"read_paths": ()}, "read_paths/write_paths: both are empty"),
        ({"write_paths": ("s3://acme/*/",)}, "write_paths[0]: 's3://acme/*/' contains a wildcard"),
        ({"rotation_days": 0}, "rotation_days: 0 is not"),
        (
            {"rotation_days": 7, "rotation_schedule": "rate(7 days)"},
            "rotation_days and rotation_schedule",
        ),
        ({"rotation_schedule": "cron(0 4 * * ?)"}, "rotation_schedule: 'cron(0 4 * * ?)'"),
        ({"rotation_window": "4"}, "rotation_window: '4'"),
        ({"previous_key_grace_hours": 0}, "previous_key_grace_hours: 0 is not"),
        ({"previous_key_grace_hours": "24"}, "previous_key_grace_hours: '24' is not"),
        ({"rotation_days": 1}, "previous_key_grace_hours: 24 h is longer than rotation_days"),
        ({"extra_policy_arns": ("ReadOnlyAccess",)}, "extra_policy_arns[0]: 'ReadOnlyAccess'"),
        ({"propagation_timeout_seconds": 900}, "propagation_timeout_seconds: 900 is not"),
        ({"log_retention_days": 2}, "log_retention_days: 2 is not"),
        ({"log_level": "TRACE"}, "log_level: 'TRACE' is not a log level"),
        ({"recovery_window_days": 1}, "recovery_window_days: 1 is not"),
        ({"kms_key_arn": "alias/ai"}, "kms_key_arn: 'alias/ai' is not a KMS key ARN"),
        ({"permissions_boundary_arn": "boundary"}, "permissions_boundary_arn: 'boundary'"),
        ({"isolated_rotator": "yes"}, "isolated_rotator: 'yes' is not true or false"),
        ({"self_read": SelfRead()}, "self_read.source_cidrs: [] is empty"),
        (
            {"self_read": SelfRead(source_cidrs=("10.0.0.1/8",))},
            "self_read.source_cidrs[0]: '10.0.0.1/8'",
        ),
        (
            {"self_read": SelfRead(source_cidrs=("100.64.0.0/16",))},
            "self_read.source_cidrs[0]: '100.64.0.0/16' overlaps 100.64.0.0/10",
        ),
        (
            {"self_read": SelfRead(source_vpces=("vpc-1a2b3c4d",))},
            "self_read.source_vpces[0]: 'vpc-1a2b3c4d' is not a VPC endpoint id",
        ),
        (
            {"self_read": SelfRead(source_vpces=("vpce-1a2b3c4d",), allow_from_anywhere=True)},
            "self_read.allow_from_anywhere: true contradicts self_read.source_vpces",
        ),
        (
            {"self_read": SelfRead(restrict_data_access=True, allow_from_anywhere=True)},
            "self_read.restrict_data_access: true needs self_read.source_cidrs",
        ),
        ({"tags": {"aws:owner": "me"}}, "tags: key 'aws:owner'"),
    ],
)
def test_bad_args_are_refused_naming_field_and_value(
    engine: Any, overrides: dict[str, Any], says: str
) -> None:
    def program() -> RotatedAccessKey:
        args = RotatedAccessKeyArgs(**{**VALID, **overrides})
        return RotatedAccessKey("support-bot", args, None)  # type: ignore[arg-type]

    with pytest.raises(ValueError) as refused:
        engine.run(program)
    assert says in str(refused.value)
    assert engine.mocks.resources == []


@pytest.mark.parametrize("name", ["Support-Bot", "support_bot", "bot-", "a" * 33, ""])
def test_a_bad_component_name_is_refused_before_the_component_registers(
    engine: Any, name: str
) -> None:
    with pytest.raises(ValueError, match=f"name: {name!r} is not a valid name"):
        engine.run(lambda: RotatedAccessKey(name, RotatedAccessKeyArgs(**VALID), None))  # type: ignore[arg-type]
    assert engine.mocks.resources == []


def test_args_of_the_wrong_type_are_refused(engine: Any) -> None:
    with pytest.raises(TypeError, match=r"args: .* is not a RotatedAccessKeyArgs"):
        engine.run(lambda: RotatedAccessKey("support-bot", VALID, None))  # type: ignore[arg-type]
    assert engine.mocks.resources == []


def test_a_consumer_without_the_stacks_rotator_is_refused(engine: Any) -> None:
    with pytest.raises(TypeError, match=r"rotator: None is not the stack's SharedRotator"):
        engine.run(lambda: RotatedAccessKey("support-bot", RotatedAccessKeyArgs(**VALID), None))  # type: ignore[arg-type]
    assert engine.mocks.resources == []


def test_args_default_to_the_monthly_cadence_in_a_4_hour_window() -> None:
    args = RotatedAccessKeyArgs(**VALID)
    assert args.rotation.is_default
    assert (args.rotation.days, args.rotation.expression, args.rotation.window) == (
        None,
        None,
        "4h",
    )


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"alarm_topic_arn": "alarms"}, "alarm_topic_arn: 'alarms' is not an ARN"),
        ({"alarm_email": "oncall"}, "alarm_email: 'oncall' is not an email address"),
        (
            {"alarm_email": "a@example.com", "alarm_topic_arn": TOPIC},
            "alarm_email: 'a@example.com'",
        ),
        ({"concurrency": 0}, "concurrency: 0 is not a whole number of concurrent executions"),
        ({"concurrency": 1001}, "concurrency: 1001 is not a whole number"),
        ({"isolated_consumers": ("Bad",)}, "isolated_consumers[0]: 'Bad' is not a valid name"),
        ({"rotator_id": ""}, "rotator_id: '' is not a tag value"),
        # The stack-wide settings follow the same rules as in RotatedAccessKeyArgs.
        ({"previous_key_grace_hours": 0}, "previous_key_grace_hours: 0 is not"),
        ({"kms_key_arn": "alias/ai"}, "kms_key_arn: 'alias/ai' is not a KMS key ARN"),
    ],
)
def test_bad_shared_rotator_args_are_refused_naming_field_and_value(
    overrides: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValueError) as refused:
        SharedRotatorArgs(**{"rotator_id": "ai-credential-rotation/test", **overrides})
    assert says in str(refused.value)
