"""The rotation functions, who may invoke them, the rotation schedule, the sweep and the alarms.

``depends_on`` is read from the engine's own RegisterResource request (recorded by the
monitor in conftest): a dependency that no input property accounts for is an explicit one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.contract import HANDLER
from components.packaging import LAMBDA_PACKAGE_DIR, build_lambda_zip
from components.rotated_access_key import RotatedAccessKey, RotatedAccessKeyArgs, default_user_name
from components.schedule import sweep_expression, window_slot
from components.shared_rotator import SharedRotator, SharedRotatorArgs, rotation_lambda_archive

ACCOUNT = "123456789012"
ROTATOR_ID = "ai-credential-rotation/test"
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:credrot-support-bot-secret-AbCdEf"
SHARED_FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:credrot-_shared-rotator"
ISOLATED_FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:credrot-support-bot-rotator"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:credrot-_shared-alarms"
GIVEN_TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:platform-alarms"
SCHEDULER_ROLE_ARN = (
    f"arn:aws:iam::{ACCOUNT}:role/ai-credential-rotation/credrot-_shared-scheduler-role"
)
USER_NAME = default_user_name("support-bot", ROTATOR_ID)
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/boundaries/ai-apps"
SIGNING = f"arn:aws:lambda:us-east-1:{ACCOUNT}:code-signing-config:csc-0a1b2c3d4e5f67890"


def test_the_shared_function_runs_the_packaged_handler_with_the_stacks_settings(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(
        rotator={
            "previous_key_grace_hours": 12.5,
            "propagation_timeout_seconds": 120,
            "log_level": "DEBUG",
            "concurrency": 7,
        }
    )
    inputs = engine.one("aws:lambda/function:Function", "credrot-_shared-rotator").inputs
    assert inputs["handler"] == "rotation_lambda.handler.lambda_handler"
    assert inputs["runtime"] == "python3.13"
    assert inputs["architectures"] == ["arm64"]
    assert inputs["timeout"] == 150  # the propagation wait plus 30 s
    assert inputs["reservedConcurrentExecutions"] == 7
    assert inputs["role"] == (
        f"arn:aws:iam::{ACCOUNT}:role/ai-credential-rotation/credrot-_shared-rotation-role"
    )
    # No user and no secret of its own: it follows each secret's user tag.
    assert inputs["environment"] == {
        "variables": {
            "IAM_USER_PATH": "/ai-credential-rotation/",
            "SECRET_NAME_PREFIX": "credrot-",
            "PROPAGATION_TIMEOUT_SECONDS": "120",
            "PREVIOUS_KEY_GRACE_HOURS": "12.5",
            "LOG_LEVEL": "DEBUG",
        }
    }


def test_an_isolated_function_keeps_todays_per_user_environment(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(
        isolated_rotator=True,
        previous_key_grace_hours=12.5,
        propagation_timeout_seconds=120,
        log_level="DEBUG",
    )
    inputs = engine.one("aws:lambda/function:Function", "credrot-support-bot-rotator").inputs
    assert inputs["timeout"] == 150
    assert "reservedConcurrentExecutions" not in inputs
    assert inputs["environment"] == {
        "variables": {
            "IAM_USER_NAME": USER_NAME,
            "IAM_USER_ARN": f"arn:aws:iam::{ACCOUNT}:user/ai-credential-rotation/{USER_NAME}",
            "PROPAGATION_TIMEOUT_SECONDS": "120",
            "PREVIOUS_KEY_GRACE_HOURS": "12.5",
            "LOG_LEVEL": "DEBUG",
            "SECRET_ARN": SECRET_ARN,
        }
    }


@pytest.mark.parametrize("function", ["credrot-_shared-rotator", "credrot-support-bot-rotator"])
def test_every_function_ships_the_deterministic_zip_and_its_hash(
    engine: Any, deploy: Callable[..., dict[str, Any]], function: str
) -> None:
    deploy(isolated_rotator=True)
    inputs = engine.one("aws:lambda/function:Function", function).inputs
    archive = rotation_lambda_archive()
    assert isinstance(inputs["code"], pulumi.FileArchive)
    assert inputs["code"].path == str(archive.path)
    assert archive.path.read_bytes() == build_lambda_zip(LAMBDA_PACKAGE_DIR, handler=HANDLER)
    assert inputs["sourceCodeHash"] == archive.source_code_hash


@pytest.mark.parametrize("base", ["credrot-_shared", "credrot-support-bot"])
def test_each_log_group_exists_before_its_function_and_keeps_logs_30_days(
    engine: Any, deploy: Callable[..., dict[str, Any]], base: str
) -> None:
    deploy(isolated_rotator=True)
    log_group = engine.one("aws:cloudwatch/logGroup:LogGroup", f"{base}-rotation-logs")
    function = engine.one("aws:lambda/function:Function", f"{base}-rotator")
    assert log_group.inputs["retentionInDays"] == 30
    assert function.inputs["loggingConfig"] == {
        "logFormat": "Text",
        "logGroup": f"{base}-rotation-logs",
    }
    assert log_group.urn in function.property_dependencies["loggingConfig"]


def test_secrets_manager_may_invoke_the_shared_function_for_this_accounts_project_secrets(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    (permission,) = engine.of_type("aws:lambda/permission:Permission")
    assert permission.name == "credrot-_shared-allow-secretsmanager"
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": "credrot-_shared-rotator",
        "principal": "secretsmanager.amazonaws.com",
        "sourceAccount": ACCOUNT,
        "sourceArn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:credrot-*",
    }


def test_only_this_secrets_rotation_may_invoke_an_isolated_function(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(isolated_rotator=True)
    permission = engine.one(
        "aws:lambda/permission:Permission", "credrot-support-bot-allow-secretsmanager"
    )
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": "credrot-support-bot-rotator",
        "principal": "secretsmanager.amazonaws.com",
        "sourceArn": SECRET_ARN,
    }


def test_by_default_rotation_is_monthly_in_the_hashed_slot_without_rotating_now(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    rotation = engine.rotation()
    assert rotation.inputs == {
        "secretId": SECRET_ARN,
        "rotationLambdaArn": SHARED_FUNCTION_ARN,
        "rotateImmediately": False,
        "rotationRules": {
            "scheduleExpression": window_slot("support-bot", 4).expression,
            "duration": "4h",
        },
    }


@pytest.mark.parametrize(
    ("overrides", "rules"),
    [
        (
            {"rotation_schedule": "cron(0 2 ? * MON *)", "rotation_window": "3h"},
            {"scheduleExpression": "cron(0 2 ? * MON *)", "duration": "3h"},
        ),
        ({"rotation_days": 7}, {"automaticallyAfterDays": 7, "duration": "4h"}),
    ],
)
def test_an_explicit_schedule_is_sent_as_written(
    engine: Any, deploy: Callable[..., dict[str, Any]], overrides: dict[str, Any], rules: Any
) -> None:
    deploy(**overrides)
    rotation = engine.rotation()
    assert rotation.inputs["rotationRules"] == rules


def alarm_wiring_urns(engine: Any, *, with_topic_policy: bool = True) -> set[str]:
    """The resources a failed rotation's alert goes through (alarm, rule, target, policy)."""
    wiring = [
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "credrot-_shared-errors"),
        ("aws:cloudwatch/eventRule:EventRule", "credrot-_shared-rotation-failed"),
        ("aws:cloudwatch/eventTarget:EventTarget", "credrot-_shared-rotation-failed-target"),
    ]
    if with_topic_policy:
        wiring.append(("aws:sns/topicPolicy:TopicPolicy", "credrot-_shared-alarms-policy"))
    return {engine.one(type_, name).urn for type_, name in wiring}


def test_rotation_waits_for_the_permission_the_role_policy_the_user_and_the_alarms(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    rotation = engine.rotation()
    permission = engine.one(
        "aws:lambda/permission:Permission", "credrot-_shared-allow-secretsmanager"
    )
    role_policy = engine.one("aws:iam/rolePolicy:RolePolicy", "credrot-_shared-rotation-policy")
    user = engine.one("aws:iam/user:User", "credrot-support-bot-user")
    secret = engine.one("aws:secretsmanager/secret:Secret", "credrot-support-bot-secret")
    function = engine.one("aws:lambda/function:Function", "credrot-_shared-rotator")
    assert rotation.explicit_dependencies == {
        permission.urn,
        role_policy.urn,
        user.urn,
        *alarm_wiring_urns(engine),
    }
    assert rotation.property_dependencies["secretId"] == {secret.urn}
    assert rotation.property_dependencies["rotationLambdaArn"] == {function.urn}


def test_an_isolated_rotation_waits_for_its_own_permission_policy_and_alarm(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(isolated_rotator=True)
    rotation = engine.rotation()
    own = {
        engine.one(type_, name).urn
        for type_, name in (
            ("aws:lambda/permission:Permission", "credrot-support-bot-allow-secretsmanager"),
            ("aws:iam/rolePolicy:RolePolicy", "credrot-support-bot-rotation-policy"),
            ("aws:cloudwatch/metricAlarm:MetricAlarm", "credrot-support-bot-errors"),
            ("aws:iam/user:User", "credrot-support-bot-user"),
        )
    }
    assert rotation.explicit_dependencies == own | alarm_wiring_urns(engine)
    assert rotation.inputs["rotationLambdaArn"] == ISOLATED_FUNCTION_ARN


def test_a_rotation_into_an_existing_topic_waits_for_the_rule_and_target(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    # The given topic's policy is its owner's: the rule and its target are what we wire.
    deploy(rotator={"alarm_topic_arn": GIVEN_TOPIC_ARN})
    rotation = engine.rotation()

    assert alarm_wiring_urns(engine, with_topic_policy=False) <= rotation.explicit_dependencies
    assert engine.of_type("aws:sns/topicPolicy:TopicPolicy") == []


@pytest.mark.parametrize(
    ("isolated", "function_arn"), [(False, SHARED_FUNCTION_ARN), (True, ISOLATED_FUNCTION_ARN)]
)
def test_the_hourly_sweep_is_a_schedule_sending_retire_previous_key_for_this_secret(
    engine: Any, deploy: Callable[..., dict[str, Any]], isolated: bool, function_arn: str
) -> None:
    deploy(isolated_rotator=isolated)
    schedule = engine.one("aws:scheduler/schedule:Schedule", "credrot-support-bot-sweep")
    first_key = engine.one("aws:lambda/invocation:Invocation", "credrot-support-bot-first-key")
    sweep_policy = engine.one("aws:iam/rolePolicy:RolePolicy", "credrot-_shared-scheduler-policy")
    assert schedule.inputs["scheduleExpression"] == sweep_expression("support-bot")
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule.inputs["target"]
    assert target["arn"] == function_arn
    assert target["roleArn"] == SCHEDULER_ROLE_ARN
    assert json.loads(target["input"]) == {"Action": "RetirePreviousKey", "SecretId": SECRET_ARN}
    # After the first key, and once the role may invoke the function.
    assert schedule.explicit_dependencies == {first_key.urn, sweep_policy.urn}
    # Scheduler invokes with its role: no Lambda permission for events or scheduler.
    principals = {p.inputs["principal"] for p in engine.of_type("aws:lambda/permission:Permission")}
    assert principals == {"secretsmanager.amazonaws.com"}


def test_any_error_of_the_shared_function_in_five_minutes_alarms_the_topic(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    alarm = engine.one("aws:cloudwatch/metricAlarm:MetricAlarm", "credrot-_shared-errors")
    assert {key: value for key, value in alarm.inputs.items() if key != "alarmDescription"} == {
        "namespace": "AWS/Lambda",
        "metricName": "Errors",
        "dimensions": {"FunctionName": "credrot-_shared-rotator"},
        "statistic": "Sum",
        "period": 300,
        "evaluationPeriods": 1,
        "threshold": 1,
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
        "treatMissingData": "notBreaching",
        "alarmActions": [TOPIC_ARN],
        "tags": {"ai-credential-rotation:rotator": ROTATOR_ID},
    }


def test_an_isolated_functions_errors_alarm_the_stacks_topic(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(isolated_rotator=True)
    alarm = engine.one("aws:cloudwatch/metricAlarm:MetricAlarm", "credrot-support-bot-errors")
    assert alarm.inputs["dimensions"] == {"FunctionName": "credrot-support-bot-rotator"}
    assert alarm.inputs["alarmActions"] == [TOPIC_ARN]


def test_a_failed_rotation_of_any_project_secret_goes_to_the_topic(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    (rule,) = engine.of_type("aws:cloudwatch/eventRule:EventRule")
    target = engine.one(
        "aws:cloudwatch/eventTarget:EventTarget", "credrot-_shared-rotation-failed-target"
    )
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {
            "eventSource": ["secretsmanager.amazonaws.com"],
            "eventName": ["RotationFailed"],
            "additionalEventData": {
                "SecretId": [
                    {"prefix": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:credrot-"}
                ]
            },
        },
    }
    assert target.inputs == {"rule": "credrot-_shared-rotation-failed", "arn": TOPIC_ARN}


def test_an_alarm_email_subscribes_to_the_created_topic(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(rotator={"alarm_email": "oncall@example.com"})
    subscription = engine.one(
        "aws:sns/topicSubscription:TopicSubscription", "credrot-_shared-alarm-email"
    )
    assert subscription.inputs == {
        "topic": TOPIC_ARN,
        "protocol": "email",
        "endpoint": "oncall@example.com",
    }


def test_a_given_topic_receives_both_alarms(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    outputs = deploy(rotator={"alarm_topic_arn": GIVEN_TOPIC_ARN})
    alarm = engine.one("aws:cloudwatch/metricAlarm:MetricAlarm", "credrot-_shared-errors")
    target = engine.one(
        "aws:cloudwatch/eventTarget:EventTarget", "credrot-_shared-rotation-failed-target"
    )
    assert alarm.inputs["alarmActions"] == [GIVEN_TOPIC_ARN]
    assert target.inputs["arn"] == GIVEN_TOPIC_ARN
    assert outputs["alarm_topic_arn"] == GIVEN_TOPIC_ARN
    assert engine.of_type("aws:sns/topic:Topic") == []


def test_the_outputs_are_the_childrens_values(engine: Any) -> None:
    @pulumi.runtime.test
    def outputs_match_children() -> pulumi.Output[None]:
        rotator = SharedRotator("shared-rotator", SharedRotatorArgs(rotator_id=ROTATOR_ID))
        key = RotatedAccessKey(
            "support-bot", RotatedAccessKeyArgs(read_paths=("s3://acme-kb/support/",)), rotator
        )

        def check(values: list[Any]) -> None:
            assert values == [
                SECRET_ARN,
                USER_NAME,
                f"arn:aws:iam::{ACCOUNT}:user/ai-credential-rotation/{USER_NAME}",
                f"arn:aws:iam::{ACCOUNT}:policy/ai-credential-rotation/credrot-_shared-reader",
                "credrot-_shared-rotator",
                TOPIC_ARN,
                {"enabled": False, "sourceCidrs": [], "sourceVpces": [], "fromAnywhere": False},
            ]

        return pulumi.Output.all(
            key.secret_arn,
            key.user_name,
            key.user_arn,
            key.reader_policy_arn,
            key.rotation_function_name,
            key.alarm_topic_arn,
            key.self_read_access,
        ).apply(check)

    outputs_match_children()


def test_a_consumer_whose_isolation_the_rotator_does_not_know_is_refused(engine: Any) -> None:
    def program() -> None:
        rotator = SharedRotator("shared-rotator", SharedRotatorArgs(rotator_id=ROTATOR_ID))
        args = RotatedAccessKeyArgs(read_paths=("s3://acme-kb/support/",), isolated_rotator=True)
        RotatedAccessKey("support-bot", args, rotator)

    with pytest.raises(ValueError, match="isolated_rotator: True for 'support-bot' disagrees"):
        engine.run(program)


def test_the_user_and_its_resources_are_tagged_and_bounded(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(permissions_boundary_arn=BOUNDARY, tags={"team": "ai-platform"})
    user = engine.one("aws:iam/user:User", "credrot-support-bot-user")
    assert user.inputs == {
        "name": USER_NAME,
        "path": "/ai-credential-rotation/",
        "permissionsBoundary": BOUNDARY,
        "forceDestroy": True,
        "tags": {
            "team": "ai-platform",
            "ai-credential-rotation:consumer": "support-bot",
            "ai-credential-rotation:secret": SECRET_ARN,
            "ai-credential-rotation:rotator": ROTATOR_ID,
        },
    }
    secret = engine.one("aws:secretsmanager/secret:Secret", "credrot-support-bot-secret")
    assert secret.inputs["tags"] == {
        "team": "ai-platform",
        "ai-credential-rotation:consumer": "support-bot",
        "ai-credential-rotation:user": USER_NAME,
    }
    consumer_tagged = {
        r.name for r in engine.registered() if "tags" in r.inputs and "support-bot" in r.name
    }
    assert consumer_tagged == {"credrot-support-bot-user", "credrot-support-bot-secret"}


def test_only_the_rotation_the_first_key_and_the_sweep_have_explicit_dependencies(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(rotator={"alarm_email": "oncall@example.com"})
    explicit = {r.name for r in engine.registered() if r.explicit_dependencies}
    assert explicit == {
        "credrot-support-bot-rotation",
        "credrot-support-bot-first-key",
        "credrot-support-bot-sweep",
    }


def deploy_isolated_with_both(deploy: Callable[..., dict[str, Any]], **setting: str) -> None:
    """An isolated consumer and the shared rotator, each given the same ``setting``."""
    deploy(isolated_rotator=True, rotator=setting, **setting)


def test_users_and_rotation_roles_carry_the_permissions_boundary(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    # The pipeline's deploy role creates users and roles only with the boundary on them.
    deploy_isolated_with_both(deploy, permissions_boundary_arn=BOUNDARY)

    (user,) = engine.of_type("aws:iam/user:User")
    roles = engine.of_type("aws:iam/role:Role")
    assert user.inputs["permissionsBoundary"] == BOUNDARY
    assert [r.name for r in roles] == [
        "credrot-_shared-rotation-role",
        "credrot-_shared-scheduler-role",
        "credrot-support-bot-rotation-role",
    ]
    assert all(role.inputs["permissionsBoundary"] == BOUNDARY for role in roles)


def test_every_function_takes_the_code_signing_configuration_when_given(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy_isolated_with_both(deploy, code_signing_config_arn=SIGNING)

    functions = engine.of_type("aws:lambda/function:Function")
    assert len(functions) == 2
    assert all(f.inputs["codeSigningConfigArn"] == SIGNING for f in functions)


def test_without_code_signing_the_function_has_no_configuration(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()

    (function,) = engine.of_type("aws:lambda/function:Function")
    assert "codeSigningConfigArn" not in function.inputs
