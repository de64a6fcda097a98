"""The resources one RotatedAccessKey and the stack's SharedRotator register, their names and
their parents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.contract import COMPONENT_TYPE, SHARED_ROTATOR_TYPE

# (type, name suffix) of every child of a consumer with default args.
DEFAULT_CHILDREN = {
    ("aws:iam/user:User", "user"),
    ("aws:iam/userPolicy:UserPolicy", "data-access"),
    ("aws:secretsmanager/secret:Secret", "secret"),
    ("aws:secretsmanager/secretRotation:SecretRotation", "rotation"),
    ("aws:lambda/invocation:Invocation", "first-key"),
    ("aws:scheduler/schedule:Schedule", "sweep"),
}
# What isolatedRotator adds: today's dedicated function and its pieces.
ISOLATED_CHILDREN = {
    ("aws:cloudwatch/logGroup:LogGroup", "rotation-logs"),
    ("aws:iam/role:Role", "rotation-role"),
    ("aws:iam/rolePolicy:RolePolicy", "rotation-policy"),
    ("aws:lambda/function:Function", "rotator"),
    ("aws:lambda/permission:Permission", "allow-secretsmanager"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "errors"),
}
# The stack's shared pieces, with the topic created and no email.
SHARED_CHILDREN = {
    ("aws:cloudwatch/logGroup:LogGroup", "rotation-logs"),
    ("aws:iam/role:Role", "rotation-role"),
    ("aws:iam/rolePolicy:RolePolicy", "rotation-policy"),
    ("aws:lambda/function:Function", "rotator"),
    ("aws:lambda/permission:Permission", "allow-secretsmanager"),
    ("aws:iam/role:Role", "scheduler-role"),
    ("aws:iam/rolePolicy:RolePolicy", "scheduler-policy"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "errors"),
    ("aws:cloudwatch/eventRule:EventRule", "rotation-failed"),
    ("aws:cloudwatch/eventTarget:EventTarget", "rotation-failed-target"),
    ("aws:sns/topic:Topic", "alarms"),
    ("aws:sns/topicPolicy:TopicPolicy", "alarms-policy"),
    ("aws:iam/policy:Policy", "reader"),
}


def children(engine: Any, name: str) -> set[tuple[str, str]]:
    """(type, name suffix) of the resources named after ``name`` (a consumer, or "_shared")."""
    return {
        (r.type, r.name.removeprefix(f"credrot-{name}-"))
        for r in engine.registered()
        if r.type.startswith("aws:") and r.name.startswith(f"credrot-{name}-")
    }


def test_one_consumer_registers_exactly_the_expected_resources(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy("support-bot")
    assert children(engine, "support-bot") == DEFAULT_CHILDREN
    assert children(engine, "_shared") == SHARED_CHILDREN
    assert [r.name for r in engine.of_type(COMPONENT_TYPE)] == ["support-bot"]
    assert [r.name for r in engine.of_type(SHARED_ROTATOR_TYPE)] == ["shared-rotator"]


def test_an_isolated_consumer_adds_its_own_function_and_pieces(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy("support-bot", isolated_rotator=True)
    assert children(engine, "support-bot") == DEFAULT_CHILDREN | ISOLATED_CHILDREN
    assert children(engine, "_shared") == SHARED_CHILDREN


def test_every_child_is_parented_to_its_component_and_named_after_it(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy("support-bot", rotator={"alarm_email": "oncall@example.com"})
    component_urn = engine.component_urn("support-bot")
    (component,) = engine.of_type(COMPONENT_TYPE)
    (shared,) = engine.of_type(SHARED_ROTATOR_TYPE)
    assert component.urn == component_urn
    for resource in engine.registered():
        if not resource.type.startswith("aws:"):
            continue
        if resource.name.startswith("credrot-_shared-"):
            assert resource.parent == shared.urn, resource.name
            assert f"::{SHARED_ROTATOR_TYPE}${resource.type}::" in resource.urn
        else:
            assert resource.parent == component_urn, resource.name
            assert resource.name.startswith("credrot-support-bot-"), resource.name
            # The URN's type chain says the same: ParentType$ChildType.
            assert f"::{COMPONENT_TYPE}${resource.type}::" in resource.urn


def test_an_email_adds_a_subscription_and_a_given_topic_replaces_the_created_one(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy("with-email", rotator={"alarm_email": "oncall@example.com"})
    assert children(engine, "_shared") == SHARED_CHILDREN | {
        ("aws:sns/topicSubscription:TopicSubscription", "alarm-email")
    }


def test_a_given_topic_replaces_the_created_one(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(
        "given-topic",
        rotator={"alarm_topic_arn": "arn:aws:sns:us-east-1:123456789012:ai-alarms"},
    )
    assert children(engine, "_shared") == SHARED_CHILDREN - {
        ("aws:sns/topic:Topic", "alarms"),
        ("aws:sns/topicPolicy:TopicPolicy", "alarms-policy"),
    }


def test_extra_policies_are_attached_under_their_policy_names(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(
        "support-bot",
        extra_policy_arns=(
            "arn:aws:iam::aws:policy/AmazonBedrockReadOnly",
            "arn:aws:iam::123456789012:policy/team/ai-observability",
        ),
    )
    user_name = engine.one("aws:iam/user:User", "credrot-support-bot-user").inputs["name"]
    attachments = {
        r.name: r.inputs
        for r in engine.of_type("aws:iam/userPolicyAttachment:UserPolicyAttachment")
    }
    assert attachments == {
        "credrot-support-bot-extra-AmazonBedrockReadOnly": {
            "user": user_name,
            "policyArn": "arn:aws:iam::aws:policy/AmazonBedrockReadOnly",
        },
        "credrot-support-bot-extra-ai-observability": {
            "user": user_name,
            "policyArn": "arn:aws:iam::123456789012:policy/team/ai-observability",
        },
    }


@pytest.mark.parametrize("overrides", [{}, {"isolated_rotator": True}])
def test_no_access_key_resource_is_ever_created(
    engine: Any, deploy: Callable[..., dict[str, Any]], overrides: dict[str, Any]
) -> None:
    deploy("support-bot", **overrides)
    assert "aws:iam/accessKey:AccessKey" not in {r.type for r in engine.registered()}
