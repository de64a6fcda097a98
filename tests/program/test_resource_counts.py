"""How many AWS resources a consumer and a stack cost, in both modes (issue 13)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from components.contract import COMPONENT_TYPE, SHARED_ROTATOR_TYPE


def consumers(count: int, *, isolated: bool) -> list[dict[str, Any]]:
    """``count`` consumers with the default configuration (one read path each)."""
    return [
        {
            "name": f"bot-{index}",
            "readPaths": [f"s3://acme-kb/bot-{index}/"],
            **({"isolatedRotator": True} if isolated else {}),
        }
        for index in range(count)
    ]


def aws_resources_by_parent(engine: Any) -> Counter[str]:
    """AWS (custom) resources per parent URN."""
    return Counter(r.parent for r in engine.registered() if r.type.startswith("aws:"))


def component_urn(engine: Any, component_type: str, name: str) -> str:
    (component,) = [r for r in engine.of_type(component_type) if r.name == name]
    urn: str = component.urn
    return urn


@pytest.mark.parametrize(("isolated", "per_consumer"), [(False, 6), (True, 12)])
def test_each_consumer_costs_a_fixed_number_of_aws_resources(
    engine: Any, isolated: bool, per_consumer: int
) -> None:
    engine.run_program({"consumers": consumers(3, isolated=isolated)})
    counts = aws_resources_by_parent(engine)
    for index in range(3):
        assert counts[component_urn(engine, COMPONENT_TYPE, f"bot-{index}")] == per_consumer


@pytest.mark.parametrize("isolated", [False, True])
def test_the_stack_costs_the_same_handful_whatever_the_number_of_consumers(
    engine: Any, isolated: bool
) -> None:
    engine.run_program({"consumers": consumers(3, isolated=isolated)})
    shared = component_urn(engine, SHARED_ROTATOR_TYPE, "shared-rotator")
    assert aws_resources_by_parent(engine)[shared] == 13


def test_an_alarm_email_adds_one_subscription_for_the_whole_stack(engine: Any) -> None:
    engine.run_program(
        {"consumers": consumers(3, isolated=False), "alarmEmail": "oncall@example.com"}
    )
    subscriptions = engine.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert [s.name for s in subscriptions] == ["credrot-_shared-alarm-email"]


def test_a_default_consumer_gets_an_inline_policy_and_no_managed_one(engine: Any) -> None:
    engine.run_program({"consumers": consumers(1, isolated=False)})
    types = Counter(
        r.type
        for r in engine.registered()
        if r.parent == component_urn(engine, COMPONENT_TYPE, "bot-0")
    )
    assert types == {
        "aws:iam/user:User": 1,
        "aws:iam/userPolicy:UserPolicy": 1,
        "aws:secretsmanager/secret:Secret": 1,
        "aws:secretsmanager/secretRotation:SecretRotation": 1,
        "aws:lambda/invocation:Invocation": 1,
        "aws:scheduler/schedule:Schedule": 1,
    }
