"""Stack configuration: parsed into typed objects, or refused naming the key and the value.

Pure: no mock engine. Values are given as ``pulumi.Config.get`` returns them (JSON text for
structured values, text for numbers) unless a test says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import (
    STACK_KEYS,
    ConsumerConfig,
    SelfRead,
    StackConfig,
    parse_stack_config,
)
from components.schedule import RotationSchedule

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NS = "ai-credential-rotation"

SUPPORT_BOT = {
    "name": "support-bot",
    "readPaths": ["s3://acme-knowledge-base/support/"],
    "writePaths": ["s3://acme-transcripts/support-bot/"],
}


def raw(consumers: Any = None, **keys: Any) -> dict[str, object]:
    """Raw values as pulumi.Config.get returns them: JSON/number text, None when unset."""
    values: dict[str, object] = {key: None for key in STACK_KEYS}
    values["consumers"] = json.dumps([SUPPORT_BOT] if consumers is None else consumers)
    for key, value in keys.items():
        values[key] = value if isinstance(value, str) or value is None else json.dumps(value)
    return values


def consumer(**changes: Any) -> dict[str, Any]:
    entry = {**SUPPORT_BOT, **changes}
    return {key: value for key, value in entry.items() if value is not None}


def test_a_minimal_config_gets_every_default() -> None:
    assert parse_stack_config(raw()) == StackConfig(
        consumers=(
            ConsumerConfig(
                name="support-bot",
                read_paths=("s3://acme-knowledge-base/support/",),
                write_paths=("s3://acme-transcripts/support-bot/",),
                rotation=RotationSchedule(
                    days=30, expression=None, window="4h", shortest_gap_hours=716
                ),
            ),
        ),
        previous_key_grace_hours=24.0,
        propagation_timeout_seconds=60,
        log_retention_days=30,
        recovery_window_days=7,
        log_level="INFO",
    )


def test_every_optional_key_is_read_and_typed() -> None:
    config = parse_stack_config(
        raw(
            [
                consumer(
                    rotationSchedule="cron(0 2 ? * MON *)",
                    rotationWindow="3h",
                    extraPolicyArns=["arn:aws:iam::aws:policy/AmazonBedrockReadOnly"],
                    selfRead={"sourceCidrs": ["203.0.113.0/24"], "restrictDataAccess": True},
                )
            ],
            previousKeyGraceHours="1.5",
            alarmTopicArn="arn:aws:sns:us-east-1:123456789012:ai-alarms",
            kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            permissionsBoundaryArn="arn:aws:iam::123456789012:policy/ai-boundary",
            propagationTimeoutSeconds="120",
            logRetentionDays="90",
            recoveryWindowDays="0",
            logLevel="debug",
        )
    )
    (support_bot,) = config.consumers
    assert support_bot.rotation == RotationSchedule(
        days=None, expression="cron(0 2 ? * MON *)", window="3h", shortest_gap_hours=165
    )
    assert support_bot.extra_policy_arns == ("arn:aws:iam::aws:policy/AmazonBedrockReadOnly",)
    assert support_bot.self_read == SelfRead(
        source_cidrs=("203.0.113.0/24",), restrict_data_access=True
    )
    assert (
        config.previous_key_grace_hours,
        config.alarm_topic_arn,
        config.kms_key_arn,
        config.permissions_boundary_arn,
        config.propagation_timeout_seconds,
        config.log_retention_days,
        config.recovery_window_days,
        config.log_level,
    ) == (
        1.5,
        "arn:aws:sns:us-east-1:123456789012:ai-alarms",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:iam::123456789012:policy/ai-boundary",
        120,
        90,
        0,
        "DEBUG",
    )


def test_decoded_values_from_a_stack_file_are_accepted_too() -> None:
    config = parse_stack_config({"consumers": [SUPPORT_BOT], "previousKeyGraceHours": 12})
    assert config.previous_key_grace_hours == 12.0
    assert [c.name for c in config.consumers] == ["support-bot"]


def test_the_dev_stack_config_is_valid() -> None:
    stack_file = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    ours = {
        key.split(":", 1)[1]: value for key, value in stack_file.items() if key.startswith(f"{NS}:")
    }
    config = parse_stack_config(ours)
    assert [c.name for c in config.consumers] == ["support-bot", "forecast-agent"]
    assert config.alarm_email == "ai-platform-oncall@example.com"


# Every kind of bad config, shared with test_program.py, which runs each through __main__.py.
BAD_CONFIGS = json.loads((Path(__file__).parent / "bad_configs.json").read_text())


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=[case["id"] for case in BAD_CONFIGS])
def test_bad_config_is_refused_naming_key_and_value(case: dict[str, Any]) -> None:
    values: dict[str, object] = {key: None for key in STACK_KEYS}
    for key, value in case["config"].items():
        values[key] = value if isinstance(value, str) else json.dumps(value)
    with pytest.raises(ValueError) as refused:
        parse_stack_config(values)
    assert f"{NS}:{case['key']}" in str(refused.value)
    assert case["says"] in str(refused.value)


def test_an_unknown_stack_key_is_refused() -> None:
    with pytest.raises(ValueError, match=f"{NS}:previousKeyGraceHour: unknown key"):
        parse_stack_config({**raw(), "previousKeyGraceHour": "12"})


def test_self_read_from_anywhere_needs_the_explicit_opt_in() -> None:
    config = parse_stack_config(raw([consumer(selfRead={"allowFromAnywhere": True})]))
    assert config.consumers[0].self_read == SelfRead(allow_from_anywhere=True)


def test_cidrs_are_normalised() -> None:
    config = parse_stack_config(raw([consumer(selfRead={"sourceCidrs": ["2001:DB8::/32"]})]))
    assert config.consumers[0].self_read == SelfRead(source_cidrs=("2001:db8::/32",))
