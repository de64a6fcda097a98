"""The whole program, __main__.py, under the mock engine: config in, maps by consumer out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.rotated_access_key import default_user_name
from components.schedule import window_slot
from tests.program.conftest import consumer

ACCOUNT = "123456789012"
NS = "ai-credential-rotation"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMPONENT_TYPE = "ai-credential-rotation:index:RotatedAccessKey"
SHARED_ROTATOR_TYPE = "ai-credential-rotation:index:SharedRotator"
CHILDREN_PER_CONSUMER = 6  # the default configuration
SHARED_CHILDREN = 13  # the created alarm topic included, no email subscription
BAD_CONFIGS = json.loads((Path(__file__).parent / "bad_configs.json").read_text())
READER = f"arn:aws:iam::{ACCOUNT}:policy/ai-credential-rotation/credrot-_shared-reader"


def expected_exports(*names: str, isolated: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    return {
        "secret_arns": {
            name: f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:credrot-{name}-secret-AbCdEf"
            for name in names
        },
        # One attribute-based reader policy for the whole stack.
        "reader_policy_arns": {name: READER for name in names},
        "user_names": {name: default_user_name(name, f"{NS}/test") for name in names},
        "self_read_access": {
            name: {"enabled": False, "sourceCidrs": [], "sourceVpces": [], "fromAnywhere": False}
            for name in names
        },
        "rotation_function_names": {
            name: f"credrot-{name}-rotator" if name in isolated else "credrot-_shared-rotator"
            for name in names
        },
    }


def aws_resources(engine: Any) -> list[Any]:
    return [r for r in engine.registered() if r.type.startswith("aws:")]


def test_one_consumer_deploys_one_component_and_exports_maps_by_name(engine: Any) -> None:
    exports = engine.run_program({"consumers": [consumer("support-bot")]})
    assert exports == expected_exports("support-bot")
    assert [r.name for r in engine.of_type(COMPONENT_TYPE)] == ["support-bot"]
    assert [r.name for r in engine.of_type(SHARED_ROTATOR_TYPE)] == ["shared-rotator"]
    assert len(aws_resources(engine)) == SHARED_CHILDREN + CHILDREN_PER_CONSUMER


def test_three_consumers_deploy_three_components_and_export_three_entries(engine: Any) -> None:
    names = ("support-bot", "forecast-agent", "code-reviewer")
    exports = engine.run_program(
        {
            "consumers": [
                consumer("support-bot"),
                consumer("forecast-agent", rotationSchedule="cron(0 2 ? * MON *)"),
                consumer(
                    "code-reviewer",
                    rotationDays=7,
                    writePaths=["s3://acme-reviews/out/"],
                    isolatedRotator=True,
                ),
            ]
        }
    )
    assert exports == expected_exports(*names, isolated=("code-reviewer",))
    assert sorted(r.name for r in engine.of_type(COMPONENT_TYPE)) == sorted(names)
    assert len(aws_resources(engine)) == SHARED_CHILDREN + 3 * CHILDREN_PER_CONSUMER + 6
    for name in names:
        component_urn = engine.component_urn(name)
        children = [r for r in engine.registered() if r.parent == component_urn]
        assert len(children) == CHILDREN_PER_CONSUMER + (6 if name == "code-reviewer" else 0)
        assert all(r.name.startswith(f"credrot-{name}-") for r in children)
    assert engine.of_type("aws:iam/accessKey:AccessKey") == []


def test_exports_of_an_earlier_run_do_not_leak_into_the_next(engine: Any) -> None:
    engine.run_program({"consumers": [consumer("support-bot"), consumer("forecast-agent")]})
    exports = engine.run_program({"consumers": [consumer("code-reviewer")]})
    assert exports == expected_exports("code-reviewer")


def test_consumers_whose_names_hash_to_one_slot_rotate_in_distinct_windows(engine: Any) -> None:
    assert window_slot("bot-35", 4) == window_slot("bot-47", 4)
    engine.run_program({"consumers": [consumer("bot-35"), consumer("bot-47")]})
    rotations = engine.of_type("aws:secretsmanager/secretRotation:SecretRotation")
    expressions = {r.inputs["rotationRules"]["scheduleExpression"] for r in rotations}
    assert len(rotations) == 2 and len(expressions) == 2
    assert window_slot("bot-35", 4).expression in expressions


@pytest.mark.parametrize("function", ["credrot-_shared-rotator", "credrot-forecast-agent-rotator"])
def test_stack_settings_reach_the_shared_and_the_isolated_functions(
    engine: Any, function: str
) -> None:
    engine.run_program(
        {
            "consumers": [
                consumer("support-bot"),
                consumer("forecast-agent", isolatedRotator=True),
            ],
            "previousKeyGraceHours": "12",
            "propagationTimeoutSeconds": "120",
            "logRetentionDays": "90",
            "recoveryWindowDays": "30",
            "logLevel": "warning",
            "alarmTopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:platform-alarms",
        }
    )
    inputs = engine.one("aws:lambda/function:Function", function).inputs
    variables = inputs["environment"]["variables"]
    assert variables["PREVIOUS_KEY_GRACE_HOURS"] == "12"
    assert variables["PROPAGATION_TIMEOUT_SECONDS"] == "120"
    assert variables["LOG_LEVEL"] == "WARNING"
    assert inputs["timeout"] == 150
    log_group = engine.one(
        "aws:cloudwatch/logGroup:LogGroup", function.replace("-rotator", "-rotation-logs")
    )
    assert log_group.inputs["retentionInDays"] == 90
    for name in ("support-bot", "forecast-agent"):
        secret = engine.one("aws:secretsmanager/secret:Secret", f"credrot-{name}-secret")
        assert secret.inputs["recoveryWindowInDays"] == 30
    assert engine.of_type("aws:sns/topic:Topic") == []


def test_rotator_concurrency_reserves_the_shared_functions_concurrency(engine: Any) -> None:
    engine.run_program({"consumers": [consumer("support-bot")], "rotatorConcurrency": "25"})
    function = engine.one("aws:lambda/function:Function", "credrot-_shared-rotator")
    assert function.inputs["reservedConcurrentExecutions"] == 25


def test_the_shared_function_reserves_ten_executions_by_default(engine: Any) -> None:
    engine.run_program({"consumers": [consumer("support-bot")]})
    function = engine.one("aws:lambda/function:Function", "credrot-_shared-rotator")
    assert function.inputs["reservedConcurrentExecutions"] == 10


def test_the_dev_stack_deploys(engine: Any) -> None:
    stack_file = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    config = {
        key.split(":", 1)[1]: value for key, value in stack_file.items() if key.startswith(f"{NS}:")
    }
    exports = engine.run_program(config)
    assert sorted(exports["secret_arns"]) == ["forecast-agent", "support-bot"]
    assert exports["self_read_access"]["forecast-agent"] == {
        "enabled": True,
        "sourceCidrs": [],
        "sourceVpces": ["vpce-0a1b2c3d4e5f67890", "vpce-0f9e8d7c6b5a43210"],
        "fromAnywhere": False,
    }
    # One confirmation email for the whole stack, not one per consumer.
    assert len(engine.of_type("aws:sns/topicSubscription:TopicSubscription")) == 1


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=[case["id"] for case in BAD_CONFIGS])
def test_bad_config_is_refused_before_any_resource_is_registered(
    engine: Any, case: dict[str, Any]
) -> None:
    with pytest.raises(ValueError) as refused:
        engine.run_program(case["config"])
    assert f"{NS}:{case['key']}" in str(refused.value)
    assert case["says"] in str(refused.value)
    # engine.run waited for every outstanding registration before re-raising.
    assert engine.mocks.resources == []
    assert [r for r in engine.monitor.requests if r.type != "pulumi:pulumi:Stack"] == []


def test_the_project_file_runs_the_program_from_the_project_venv() -> None:
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == NS
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": ".venv"},
    }
