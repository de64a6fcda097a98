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
    RotatedAccessKeyArgs,
    SelfRead,
    SharedRotatorArgs,
    StackConfig,
    parse_stack_config,
)
from components.schedule import RotationSchedule, window_slot, with_slot

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NS = "ai-credential-rotation"
ROTATOR_ID = f"{NS}/test"

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


def parse(values: dict[str, object]) -> StackConfig:
    return parse_stack_config(values, rotator_id=ROTATOR_ID)


def consumer(**changes: Any) -> dict[str, Any]:
    entry = {**SUPPORT_BOT, **changes}
    return {key: value for key, value in entry.items() if value is not None}


def test_a_minimal_config_gets_every_default() -> None:
    config = parse(raw())
    assert config == StackConfig(
        rotator=SharedRotatorArgs(
            rotator_id=ROTATOR_ID,
            previous_key_grace_hours=24.0,
            propagation_timeout_seconds=60,
            log_retention_days=30,
            log_level="INFO",
        ),
        consumers={
            "support-bot": RotatedAccessKeyArgs(
                read_paths=("s3://acme-knowledge-base/support/",),
                write_paths=("s3://acme-transcripts/support-bot/",),
                previous_key_grace_hours=24.0,
                propagation_timeout_seconds=60,
                log_retention_days=30,
                recovery_window_days=7,
                log_level="INFO",
            )
        },
        window_slots={"support-bot": window_slot("support-bot", 4)},
    )
    # Monthly, in the slot the name hashes to (28 days apart in February).
    rotation = config.consumers["support-bot"].rotation
    assert with_slot(rotation, config.window_slots["support-bot"]) == RotationSchedule(
        days=None,
        expression=window_slot("support-bot", 4).expression,
        window="4h",
        shortest_gap_hours=28 * 24 - 4,
    )


def test_every_optional_key_is_read_and_typed() -> None:
    config = parse(
        raw(
            [
                consumer(
                    rotationSchedule="cron(0 2 ? * MON *)",
                    rotationWindow="3h",
                    extraPolicyArns=["arn:aws:iam::aws:policy/AmazonBedrockReadOnly"],
                    selfRead={
                        "sourceCidrs": ["192.0.32.0/20"],
                        "sourceVpces": ["vpce-0a1b2c3d4e5f67890"],
                        "restrictDataAccess": True,
                    },
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
    (support_bot,) = config.consumers.values()
    assert support_bot.rotation == RotationSchedule(
        days=None, expression="cron(0 2 ? * MON *)", window="3h", shortest_gap_hours=165
    )
    assert support_bot.extra_policy_arns == ("arn:aws:iam::aws:policy/AmazonBedrockReadOnly",)
    assert support_bot.self_read == SelfRead(
        source_cidrs=("192.0.32.0/20",),
        source_vpces=("vpce-0a1b2c3d4e5f67890",),
        restrict_data_access=True,
    )
    assert (
        config.rotator.previous_key_grace_hours,
        config.rotator.alarm_topic_arn,
        config.rotator.kms_key_arn,
        config.rotator.permissions_boundary_arn,
        config.rotator.propagation_timeout_seconds,
        config.rotator.log_retention_days,
        support_bot.recovery_window_days,
        config.rotator.log_level,
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
    config = parse({"consumers": [SUPPORT_BOT], "previousKeyGraceHours": 12})
    assert config.rotator.previous_key_grace_hours == 12.0
    assert list(config.consumers) == ["support-bot"]


def test_the_dev_stack_config_is_valid() -> None:
    stack_file = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    ours = {
        key.split(":", 1)[1]: value for key, value in stack_file.items() if key.startswith(f"{NS}:")
    }
    config = parse(ours)
    assert list(config.consumers) == ["support-bot", "forecast-agent"]
    assert config.rotator.alarm_email == "ai-platform-oncall@example.com"


# Every kind of bad config, shared with test_program.py, which runs each through __main__.py.
BAD_CONFIGS = json.loads((Path(__file__).parent / "bad_configs.json").read_text())


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=[case["id"] for case in BAD_CONFIGS])
def test_bad_config_is_refused_naming_key_and_value(case: dict[str, Any]) -> None:
    values: dict[str, object] = {key: None for key in STACK_KEYS}
    for key, value in case["config"].items():
        values[key] = value if isinstance(value, str) else json.dumps(value)
    with pytest.raises(ValueError) as refused:
        parse(values)
    assert f"{NS}:{case['key']}" in str(refused.value)
    assert case["says"] in str(refused.value)


def test_an_unknown_stack_key_is_refused() -> None:
    with pytest.raises(ValueError, match=f"{NS}:previousKeyGraceHour: unknown key"):
        parse({**raw(), "previousKeyGraceHour": "12"})


def test_self_read_from_anywhere_needs_the_explicit_opt_in() -> None:
    config = parse(raw([consumer(selfRead={"allowFromAnywhere": True})]))
    assert config.consumers["support-bot"].self_read == SelfRead(allow_from_anywhere=True)


def test_cidrs_are_normalised() -> None:
    config = parse(raw([consumer(selfRead={"sourceCidrs": ["2620:0:2D0::/48"]})]))
    assert config.consumers["support-bot"].self_read == SelfRead(source_cidrs=("2620:0:2d0::/48",))


def test_self_read_through_vpc_endpoints_alone_needs_no_cidrs() -> None:
    self_read = {"sourceVpces": ["vpce-1a2b3c4d"], "restrictDataAccess": True}
    config = parse(raw([consumer(selfRead=self_read)]))
    assert config.consumers["support-bot"].self_read == SelfRead(
        source_vpces=("vpce-1a2b3c4d",), restrict_data_access=True
    )


SOURCE_CIDRS = f"{NS}:consumers[0].selfRead.sourceCidrs"


def refusal(self_read: dict[str, Any]) -> str:
    """The error a consumer with this selfRead gets (the test fails if it is accepted)."""
    with pytest.raises(ValueError) as refused:
        parse(raw([consumer(selfRead=self_read)]))
    return str(refused.value)


# One CIDR per category aws:SourceIp never carries, each only partly inside it where the
# category allows, so that overlapping (not only lying inside) is what is refused.
@pytest.mark.parametrize(
    ("cidr", "category"),
    [
        ("10.20.0.0/16", "10.0.0.0/8, private"),
        ("172.16.0.0/12", "172.16.0.0/12, private"),
        ("172.31.255.0/24", "172.16.0.0/12, private"),
        ("192.168.1.0/24", "192.168.0.0/16, private"),
        ("fd12:3456:789a::/48", "fc00::/7, private (unique local)"),
        ("100.64.0.0/10", "100.64.0.0/10, shared address space (carrier-grade NAT)"),
        ("100.127.0.0/16", "100.64.0.0/10, shared address space (carrier-grade NAT)"),
        ("127.0.0.0/8", "127.0.0.0/8, loopback"),
        ("::1/128", "::1/128, loopback"),
        ("169.254.169.0/24", "169.254.0.0/16, link-local"),
        ("fe80::/64", "fe80::/10, link-local"),
        ("192.0.2.0/24", "192.0.2.0/24, documentation (TEST-NET-1)"),
        ("198.51.100.0/24", "198.51.100.0/24, documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "203.0.113.0/24, documentation (TEST-NET-3)"),
        ("203.0.112.0/23", "203.0.113.0/24, documentation (TEST-NET-3)"),
        ("2001:db8::/32", "2001:db8::/32, documentation"),
        ("3fff::/32", "3fff::/20, documentation"),
        ("0.0.0.0/8", "0.0.0.0/8, unspecified"),
        ("::/128", "::/128, unspecified"),
        ("224.0.0.0/8", "224.0.0.0/4, multicast"),
        ("ff02::/32", "ff00::/8, multicast"),
        ("240.0.0.0/8", "240.0.0.0/4, reserved"),
        ("255.255.255.255/32", "240.0.0.0/4, reserved"),
        ("192.0.0.0/24", "192.0.0.0/24, reserved for IETF protocol assignments"),
        ("198.18.0.0/15", "198.18.0.0/15, reserved for benchmarking"),
        ("4000::/32", "reserved address space (outside 2000::/3"),
        ("::ffff:0:0/96", "::ffff:0:0/96, IPv4-mapped"),
        ("64:ff9b::/96", "64:ff9b::/96, NAT64"),
    ],
)
def test_a_cidr_overlapping_space_aws_source_ip_never_carries_is_refused(
    cidr: str, category: str
) -> None:
    message = refusal({"sourceCidrs": ["192.0.32.0/20", cidr]})
    assert f"{SOURCE_CIDRS}[1]: {cidr!r} overlaps {category}" in message
    assert "aws:SourceIp never carries" in message
    assert "give that public egress CIDR, or use sourceVpces" in message


@pytest.mark.parametrize(
    "cidrs",
    [
        ["0.0.0.0/1", "128.0.0.0/1"],
        ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"],
        ["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/2", "192.0.32.0/20"],
        ["::/1", "8000::/1"],
    ],
)
def test_cidrs_that_cover_the_whole_address_space_in_pieces_are_refused(
    cidrs: list[str],
) -> None:
    message = refusal({"sourceCidrs": cidrs})
    assert f"{SOURCE_CIDRS}: " in message and "together cover the whole IPv" in message
    assert "set allowFromAnywhere: true" in message


@pytest.mark.parametrize(
    ("cidr", "shortest"), [("8.0.0.0/7", 8), ("2600::/31", 32), ("0.0.0.0/0", None)]
)
def test_a_prefix_broader_than_a_slash_8_or_slash_32_is_refused_pointing_to_allow_from_anywhere(
    cidr: str, shortest: int | None
) -> None:
    message = refusal({"sourceCidrs": [cidr]})
    said = "is the whole internet" if shortest is None else f"is broader than /{shortest}"
    assert f"{SOURCE_CIDRS}[0]: {cidr!r} {said}" in message
    assert "drop sourceCidrs and set allowFromAnywhere: true" in message


@pytest.mark.parametrize("cidrs", [["9.0.0.0/8"], ["2620::/32"], ["192.0.32.0/20", "8.8.8.8/32"]])
def test_public_prefixes_down_to_slash_8_and_slash_32_are_accepted(cidrs: list[str]) -> None:
    config = parse(raw([consumer(selfRead={"sourceCidrs": cidrs})]))
    assert config.consumers["support-bot"].self_read == SelfRead(source_cidrs=tuple(cidrs))


@pytest.mark.parametrize(
    "vpce",
    ["vpc-1a2b3c4d", "vpce-1A2B3C4D", "vpce-1a2b3c4", "vpce-0a1b2c3d4e5f6789", "vpce-xyz", 7],
)
def test_a_malformed_vpc_endpoint_id_is_refused_with_the_expected_form(vpce: object) -> None:
    message = refusal({"sourceVpces": ["vpce-1a2b3c4d", vpce]})
    assert f"{NS}:consumers[0].selfRead.sourceVpces[1]: {vpce!r} is not a VPC endpoint id" in (
        message
    )
    assert "vpce- followed by 8 or 17 lowercase hexadecimal digits" in message


def test_allow_from_anywhere_contradicts_vpc_endpoints_too() -> None:
    message = refusal({"allowFromAnywhere": True, "sourceVpces": ["vpce-1a2b3c4d"]})
    assert f"{NS}:consumers[0].selfRead.allowFromAnywhere: true contradicts" in message
    assert "sourceVpces ['vpce-1a2b3c4d']" in message


def test_isolated_rotator_is_read_per_consumer_and_defaults_to_false() -> None:
    config = parse(raw([consumer(), consumer(name="ext-bot", isolatedRotator=True)]))
    assert [c.isolated_rotator for c in config.consumers.values()] == [False, True]


@pytest.mark.parametrize("key", ["isolatedRotator", "ownReaderPolicy"])
@pytest.mark.parametrize("value", ['"true"', "1"])
def test_per_consumer_switches_must_be_json_booleans(key: str, value: str) -> None:
    entry = json.dumps([{**SUPPORT_BOT, key: json.loads(value)}])
    with pytest.raises(ValueError, match=rf"consumers\[0\]\.{key}: .* is not true or false"):
        parse(raw() | {"consumers": entry})


def test_own_reader_policy_is_read_per_consumer_and_defaults_to_false() -> None:
    config = parse(raw([consumer(), consumer(name="ext-bot", ownReaderPolicy=True)]))
    assert [c.own_reader_policy for c in config.consumers.values()] == [False, True]


@pytest.mark.parametrize(("value", "expected"), [(None, 10), ("1", 1), ("1000", 1000)])
def test_rotator_concurrency_defaults_to_10_and_accepts_1_to_1000(
    value: str | None, expected: int
) -> None:
    assert parse(raw(rotatorConcurrency=value)).rotator.concurrency == expected


@pytest.mark.parametrize("value", ["0", "1001", "2.5", "many"])
def test_a_bad_rotator_concurrency_is_refused_naming_the_key(value: str) -> None:
    with pytest.raises(ValueError, match=f"{NS}:rotatorConcurrency: .* from 1 to 1000"):
        parse(raw(rotatorConcurrency=value))


def test_consumers_deployed_together_get_distinct_window_slots() -> None:
    names = [f"bot-{index}" for index in range(100)]
    config = parse(raw([consumer(name=name) for name in names]))
    expressions = [config.window_slots[name].expression for name in config.consumers]
    assert len(set(expressions)) == len(names)
    assert all(expression and expression.startswith("cron(0 ") for expression in expressions)


def test_an_explicit_schedule_is_honoured_as_written() -> None:
    config = parse(
        raw([consumer(rotationDays=7), consumer(name="b", rotationSchedule="rate(10 days)")])
    )
    assert [(c.rotation.days, c.rotation.expression) for c in config.consumers.values()] == [
        (7, None),
        (None, "rate(10 days)"),
    ]
