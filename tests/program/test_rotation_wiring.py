"""The rotation Lambda, who may invoke it, the rotation schedule, the sweep and the alarms.

``depends_on`` is read from the engine's own RegisterResource request (recorded by the
monitor in conftest): a dependency that no input property accounts for is an explicit one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi

from components.packaging import build_lambda_zip
from components.rotated_access_key import (
    HANDLER,
    LAMBDA_PACKAGE_DIR,
    RotatedAccessKey,
    RotatedAccessKeyArgs,
    rotation_lambda_archive,
)

ACCOUNT = "123456789012"
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:credrot-support-bot-secret-AbCdEf"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:credrot-support-bot-rotator"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:credrot-support-bot-alarms"
GIVEN_TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:platform-alarms"


def test_the_function_runs_the_packaged_handler_with_its_settings(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(previous_key_grace_hours=12.5, propagation_timeout_seconds=120, log_level="DEBUG")
    function = engine.one("aws:lambda/function:Function", "credrot-support-bot-rotator")
    inputs = function.inputs
    assert inputs["handler"] == "rotation_lambda.handler.lambda_handler"
    assert inputs["runtime"] == "python3.13"
    assert inputs["architectures"] == ["arm64"]
    assert inputs["timeout"] == 150  # the propagation wait plus 30 s
    assert inputs["role"] == (
        f"arn:aws:iam::{ACCOUNT}:role/ai-credential-rotation/credrot-support-bot-rotation-role"
    )
    assert inputs["environment"] == {
        "variables": {
            "IAM_USER_NAME": "credrot-support-bot-user",
            "IAM_USER_ARN": (
                f"arn:aws:iam::{ACCOUNT}:user/ai-credential-rotation/credrot-support-bot-user"
            ),
            "PROPAGATION_TIMEOUT_SECONDS": "120",
            "PREVIOUS_KEY_GRACE_HOURS": "12.5",
            "LOG_LEVEL": "DEBUG",
            "SECRET_ARN": SECRET_ARN,
        }
    }


def test_the_function_ships_the_deterministic_zip_and_its_hash(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    inputs = engine.one("aws:lambda/function:Function", "credrot-support-bot-rotator").inputs
    archive = rotation_lambda_archive()
    assert isinstance(inputs["code"], pulumi.FileArchive)
    assert inputs["code"].path == str(archive.path)
    assert archive.path.read_bytes() == build_lambda_zip(LAMBDA_PACKAGE_DIR, handler=HANDLER)
    assert inputs["sourceCodeHash"] == archive.source_code_hash


def test_the_log_group_exists_before_the_function_and_keeps_logs_30_days(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    log_group = engine.one("aws:cloudwatch/logGroup:LogGroup", "credrot-support-bot-rotation-logs")
    function = engine.one("aws:lambda/function:Function", "credrot-support-bot-rotator")
    assert log_group.inputs["retentionInDays"] == 30
    assert function.inputs["loggingConfig"] == {
        "logFormat": "Text",
        "logGroup": "credrot-support-bot-rotation-logs",
    }
    assert log_group.urn in function.property_dependencies["loggingConfig"]


def test_only_this_secrets_rotation_may_invoke_the_function(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    permission = engine.one(
        "aws:lambda/permission:Permission", "credrot-support-bot-allow-secretsmanager"
    )
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": "credrot-support-bot-rotator",
        "principal": "secretsmanager.amazonaws.com",
        "sourceArn": SECRET_ARN,
    }


def test_rotation_is_enabled_every_30_days_by_default_without_rotating_now(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    rotation = engine.one(
        "aws:secretsmanager/secretRotation:SecretRotation", "credrot-support-bot-rotation"
    )
    assert rotation.inputs == {
        "secretId": SECRET_ARN,
        "rotationLambdaArn": FUNCTION_ARN,
        "rotateImmediately": False,
        "rotationRules": {"automaticallyAfterDays": 30, "duration": "4h"},
    }


def test_a_schedule_expression_and_window_replace_the_days(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(rotation_schedule="cron(0 2 ? * MON *)", rotation_window="3h")
    rotation = engine.one(
        "aws:secretsmanager/secretRotation:SecretRotation", "credrot-support-bot-rotation"
    )
    assert rotation.inputs["rotationRules"] == {
        "scheduleExpression": "cron(0 2 ? * MON *)",
        "duration": "3h",
    }


def test_rotation_waits_for_the_permission_the_role_policy_and_the_first_key(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    rotation = engine.one(
        "aws:secretsmanager/secretRotation:SecretRotation", "credrot-support-bot-rotation"
    )
    permission = engine.one(
        "aws:lambda/permission:Permission", "credrot-support-bot-allow-secretsmanager"
    )
    role_policy = engine.one("aws:iam/rolePolicy:RolePolicy", "credrot-support-bot-rotation-policy")
    first_key = engine.one("aws:lambda/invocation:Invocation", "credrot-support-bot-first-key")
    secret = engine.one("aws:secretsmanager/secret:Secret", "credrot-support-bot-secret")
    function = engine.one("aws:lambda/function:Function", "credrot-support-bot-rotator")
    alarm_wiring = alarm_wiring_urns(engine)
    assert rotation.explicit_dependencies == {
        permission.urn,
        role_policy.urn,
        first_key.urn,
        *alarm_wiring,
    }
    assert rotation.property_dependencies["secretId"] == {secret.urn}
    assert rotation.property_dependencies["rotationLambdaArn"] == {function.urn}


def alarm_wiring_urns(engine: Any, *, with_topic_policy: bool = True) -> set[str]:
    """The resources a failed rotation's alert goes through (rule, target, topic policy)."""
    wiring = [
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "credrot-support-bot-errors"),
        ("aws:cloudwatch/eventRule:EventRule", "credrot-support-bot-rotation-failed"),
        ("aws:cloudwatch/eventTarget:EventTarget", "credrot-support-bot-rotation-failed-target"),
    ]
    if with_topic_policy:
        wiring.append(("aws:sns/topicPolicy:TopicPolicy", "credrot-support-bot-alarms-policy"))
    return {engine.one(type_, name).urn for type_, name in wiring}


def test_a_rotation_into_an_existing_topic_waits_for_the_rule_and_target(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    # The given topic's policy is its owner's: the rule and its target are what we wire.
    deploy(alarm_topic_arn=GIVEN_TOPIC_ARN)
    rotation = engine.one(
        "aws:secretsmanager/secretRotation:SecretRotation", "credrot-support-bot-rotation"
    )

    assert alarm_wiring_urns(engine, with_topic_policy=False) <= rotation.explicit_dependencies
    assert engine.of_type("aws:sns/topicPolicy:TopicPolicy") == []


def test_the_hourly_sweep_sends_retire_previous_key_for_this_secret(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    rule = engine.one("aws:cloudwatch/eventRule:EventRule", "credrot-support-bot-sweep")
    target = engine.one(
        "aws:cloudwatch/eventTarget:EventTarget", "credrot-support-bot-sweep-target"
    )
    permission = engine.one("aws:lambda/permission:Permission", "credrot-support-bot-allow-sweep")
    assert rule.inputs["scheduleExpression"] == "rate(1 hour)"
    assert target.inputs["rule"] == "credrot-support-bot-sweep"
    assert target.inputs["arn"] == FUNCTION_ARN
    assert json.loads(target.inputs["input"]) == {
        "Action": "RetirePreviousKey",
        "SecretId": SECRET_ARN,
    }
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": "credrot-support-bot-rotator",
        "principal": "events.amazonaws.com",
        "sourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/credrot-support-bot-sweep",
    }


def test_any_lambda_error_in_five_minutes_alarms_the_topic(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    alarm = engine.one("aws:cloudwatch/metricAlarm:MetricAlarm", "credrot-support-bot-errors")
    assert {key: value for key, value in alarm.inputs.items() if key != "alarmDescription"} == {
        "namespace": "AWS/Lambda",
        "metricName": "Errors",
        "dimensions": {"FunctionName": "credrot-support-bot-rotator"},
        "statistic": "Sum",
        "period": 300,
        "evaluationPeriods": 1,
        "threshold": 1,
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
        "treatMissingData": "notBreaching",
        "alarmActions": [TOPIC_ARN],
        "tags": {"ai-credential-rotation:consumer": "support-bot"},
    }


def test_a_failed_rotation_of_this_secret_goes_to_the_topic(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    rule = engine.one("aws:cloudwatch/eventRule:EventRule", "credrot-support-bot-rotation-failed")
    target = engine.one(
        "aws:cloudwatch/eventTarget:EventTarget", "credrot-support-bot-rotation-failed-target"
    )
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {
            "eventSource": ["secretsmanager.amazonaws.com"],
            "eventName": ["RotationFailed"],
            "additionalEventData": {"SecretId": [SECRET_ARN]},
        },
    }
    assert target.inputs == {"rule": "credrot-support-bot-rotation-failed", "arn": TOPIC_ARN}


def test_an_alarm_email_subscribes_to_the_created_topic(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(alarm_email="oncall@example.com")
    subscription = engine.one(
        "aws:sns/topicSubscription:TopicSubscription", "credrot-support-bot-alarm-email"
    )
    assert subscription.inputs == {
        "topic": TOPIC_ARN,
        "protocol": "email",
        "endpoint": "oncall@example.com",
    }


def test_a_given_topic_receives_both_alarms(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    outputs = deploy(alarm_topic_arn=GIVEN_TOPIC_ARN)
    alarm = engine.one("aws:cloudwatch/metricAlarm:MetricAlarm", "credrot-support-bot-errors")
    target = engine.one(
        "aws:cloudwatch/eventTarget:EventTarget", "credrot-support-bot-rotation-failed-target"
    )
    assert alarm.inputs["alarmActions"] == [GIVEN_TOPIC_ARN]
    assert target.inputs["arn"] == GIVEN_TOPIC_ARN
    assert outputs["alarm_topic_arn"] == GIVEN_TOPIC_ARN
    assert engine.of_type("aws:sns/topic:Topic") == []


def test_the_outputs_are_the_childrens_values(engine: Any) -> None:
    @pulumi.runtime.test
    def outputs_match_children() -> pulumi.Output[None]:
        key = RotatedAccessKey(
            "support-bot", RotatedAccessKeyArgs(read_paths=("s3://acme-kb/support/",))
        )

        def check(values: list[Any]) -> None:
            assert values == [
                SECRET_ARN,
                "credrot-support-bot-user",
                f"arn:aws:iam::{ACCOUNT}:user/ai-credential-rotation/credrot-support-bot-user",
                f"arn:aws:iam::{ACCOUNT}:policy/ai-credential-rotation/credrot-support-bot-reader",
                "credrot-support-bot-rotator",
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


def test_the_user_and_its_resources_are_tagged_and_bounded(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/ai-boundary"
    deploy(permissions_boundary_arn=boundary, tags={"team": "ai-platform"})
    user = engine.one("aws:iam/user:User", "credrot-support-bot-user")
    assert user.inputs == {
        "path": "/ai-credential-rotation/",
        "permissionsBoundary": boundary,
        "forceDestroy": True,
        "tags": {
            "team": "ai-platform",
            "ai-credential-rotation:consumer": "support-bot",
            "ai-credential-rotation:secret": SECRET_ARN,
        },
    }
    tagged = {r.name: r.inputs["tags"] for r in engine.registered() if "tags" in r.inputs}
    assert set(tagged) == {
        f"credrot-support-bot-{suffix}"
        for suffix in (
            "user",
            "data-access",
            "secret",
            "rotation-logs",
            "rotation-role",
            "rotator",
            "sweep",
            "errors",
            "rotation-failed",
            "alarms",
            "reader",
        )
    }
    common = {"team": "ai-platform", "ai-credential-rotation:consumer": "support-bot"}
    assert all(tags == common for name, tags in tagged.items() if name != user.name)


def test_only_the_rotation_and_the_first_key_have_explicit_dependencies(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(alarm_email="oncall@example.com", kms_key_arn=None)
    explicit = {r.name for r in engine.registered() if r.explicit_dependencies}
    assert explicit == {"credrot-support-bot-rotation", "credrot-support-bot-first-key"}


BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/boundaries/ai-apps"
SIGNING = f"arn:aws:lambda:us-east-1:{ACCOUNT}:code-signing-config:csc-0a1b2c3d4e5f67890"


def test_the_user_and_the_rotation_role_carry_the_permissions_boundary(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    # The pipeline's deploy role creates users and roles only with the boundary on them.
    deploy(permissions_boundary_arn=BOUNDARY)

    (user,) = engine.of_type("aws:iam/user:User")
    (role,) = engine.of_type("aws:iam/role:Role")
    assert user.inputs["permissionsBoundary"] == BOUNDARY
    assert role.inputs["permissionsBoundary"] == BOUNDARY


def test_the_function_takes_the_code_signing_configuration_when_given(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(code_signing_config_arn=SIGNING)

    (function,) = engine.of_type("aws:lambda/function:Function")
    assert function.inputs["codeSigningConfigArn"] == SIGNING


def test_without_code_signing_the_function_has_no_configuration(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()

    (function,) = engine.of_type("aws:lambda/function:Function")
    assert "codeSigningConfigArn" not in function.inputs
