"""The resources one RotatedAccessKey registers, their names and their parent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.rotated_access_key import COMPONENT_TYPE

# (type, name suffix) of every child with default args: the topic is created, no email.
DEFAULT_CHILDREN = {
    ("aws:iam/user:User", "user"),
    ("aws:iam/policy:Policy", "data-access"),
    ("aws:iam/userPolicyAttachment:UserPolicyAttachment", "data-access-attachment"),
    ("aws:secretsmanager/secret:Secret", "secret"),
    ("aws:lambda/invocation:Invocation", "first-key"),
    ("aws:cloudwatch/logGroup:LogGroup", "rotation-logs"),
    ("aws:iam/role:Role", "rotation-role"),
    ("aws:iam/rolePolicy:RolePolicy", "rotation-policy"),
    ("aws:lambda/function:Function", "rotator"),
    ("aws:lambda/permission:Permission", "allow-secretsmanager"),
    ("aws:secretsmanager/secretRotation:SecretRotation", "rotation"),
    ("aws:cloudwatch/eventRule:EventRule", "sweep"),
    ("aws:cloudwatch/eventTarget:EventTarget", "sweep-target"),
    ("aws:lambda/permission:Permission", "allow-sweep"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "errors"),
    ("aws:cloudwatch/eventRule:EventRule", "rotation-failed"),
    ("aws:cloudwatch/eventTarget:EventTarget", "rotation-failed-target"),
    ("aws:sns/topic:Topic", "alarms"),
    ("aws:sns/topicPolicy:TopicPolicy", "alarms-policy"),
    ("aws:iam/policy:Policy", "reader"),
}


def children(engine: Any, name: str) -> set[tuple[str, str]]:
    """(type, name suffix) of the resources named after component ``name``."""
    return {
        (r.type, r.name.removeprefix(f"credrot-{name}-"))
        for r in engine.registered()
        if r.type != COMPONENT_TYPE and r.name.startswith(f"credrot-{name}-")
    }


def test_one_consumer_registers_exactly_the_expected_resources(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy("support-bot")
    assert children(engine, "support-bot") == DEFAULT_CHILDREN
    assert [r.name for r in engine.of_type(COMPONENT_TYPE)] == ["support-bot"]


def test_every_child_is_parented_to_the_component_and_named_after_it(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy("support-bot", alarm_email="oncall@example.com")
    component_urn = engine.component_urn("support-bot")
    (component,) = engine.of_type(COMPONENT_TYPE)
    assert component.urn == component_urn
    for resource in engine.registered():
        if resource.type == COMPONENT_TYPE:
            continue
        assert resource.parent == component_urn, resource.name
        assert resource.name.startswith("credrot-support-bot-"), resource.name
        # The URN's type chain says the same: ParentType$ChildType.
        assert f"::{COMPONENT_TYPE}${resource.type}::" in resource.urn


def test_an_email_adds_a_subscription_and_a_given_topic_replaces_the_created_one(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy("with-email", alarm_email="oncall@example.com")
    deploy("given-topic", alarm_topic_arn="arn:aws:sns:us-east-1:123456789012:ai-alarms")
    assert children(engine, "with-email") == DEFAULT_CHILDREN | {
        ("aws:sns/topicSubscription:TopicSubscription", "alarm-email")
    }
    assert children(engine, "given-topic") == DEFAULT_CHILDREN - {
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
    attachments = {
        r.name: r.inputs
        for r in engine.of_type("aws:iam/userPolicyAttachment:UserPolicyAttachment")
    }
    assert attachments == {
        "credrot-support-bot-data-access-attachment": {
            "user": "credrot-support-bot-user",
            "policyArn": (
                "arn:aws:iam::123456789012:policy/ai-credential-rotation/credrot-support-bot-data-access"
            ),
        },
        "credrot-support-bot-extra-AmazonBedrockReadOnly": {
            "user": "credrot-support-bot-user",
            "policyArn": "arn:aws:iam::aws:policy/AmazonBedrockReadOnly",
        },
        "credrot-support-bot-extra-ai-observability": {
            "user": "credrot-support-bot-user",
            "policyArn": "arn:aws:iam::123456789012:policy/team/ai-observability",
        },
    }


@pytest.mark.parametrize("overrides", [{}, {"alarm_email": "oncall@example.com"}])
def test_no_access_key_resource_is_ever_created(
    engine: Any, deploy: Callable[..., dict[str, Any]], overrides: dict[str, Any]
) -> None:
    deploy("support-bot", **overrides)
    assert "aws:iam/accessKey:AccessKey" not in {r.type for r in engine.registered()}
