"""Every name the component derives fits AWS's limits, for the longest consumer name allowed.

Pulumi auto-names a resource from its logical name plus 8 characters ("-" and 7 random hex),
so the physical name of a child is ``len(logical name) + 8`` long; the component derives the
logical names as ``RESOURCE_NAME_PREFIX + consumer + "-" + role``. MAX_NAME_LENGTH is what
keeps the longest of them within its type's limit. The IAM user is named by the program in
the same shape (``default_user_name``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest

from components.config import MAX_NAME_LENGTH, check_name
from components.contract import RESOURCE_NAME_PREFIX

AUTO_NAME_SUFFIX_LENGTH = len("-1a2b3c4")
# The physical name limits AWS sets, by Pulumi type.
NAME_LIMITS = {
    "aws:iam/user:User": 64,
    "aws:iam/role:Role": 64,
    "aws:iam/policy:Policy": 128,
    "aws:iam/rolePolicy:RolePolicy": 128,
    "aws:secretsmanager/secret:Secret": 512,
    "aws:lambda/function:Function": 64,
    "aws:cloudwatch/logGroup:LogGroup": 512,
    "aws:cloudwatch/eventRule:EventRule": 64,
    "aws:sns/topic:Topic": 256,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 255,
    "aws:scheduler/schedule:Schedule": 64,
}
LONGEST_NAME = "a" * (MAX_NAME_LENGTH - 2) + "-z"


def has_name(resource_type: str) -> bool:
    """True if resources of this type have a name (Pulumi auto-names it when not given)."""
    _, module_path, class_name = resource_type.split(":")
    module_name = module_path.split("/")[0]
    module = importlib.import_module(
        f"pulumi_aws.{'lambda_' if module_name == 'lambda' else module_name}"
    )
    return isinstance(getattr(getattr(module, class_name), "name", None), property)


def test_the_longest_name_is_valid_and_one_more_character_is_not() -> None:
    assert check_name(LONGEST_NAME, "name") == LONGEST_NAME
    with pytest.raises(ValueError, match=f"1-{MAX_NAME_LENGTH} lowercase"):
        check_name(LONGEST_NAME + "a", "name")


def test_every_named_child_of_the_longest_consumer_fits_its_aws_limit(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    # Every optional child: its own function, a managed data policy (self-read from anywhere
    # with long paths outgrows the inline size), an extra policy, the stack's e-mail.
    deploy(
        LONGEST_NAME,
        isolated_rotator=True,
        read_paths=tuple(f"s3://acme-knowledge-base/{'p' * 60}{index}/" for index in range(12)),
        extra_policy_arns=("arn:aws:iam::aws:policy/AmazonBedrockReadOnly",),
        rotator={"alarm_email": "oncall@example.com"},
    )
    named = [
        r
        for r in engine.registered()
        if r.type.startswith("aws:") and has_name(r.type) and "_shared" not in r.name
    ]

    assert {r.type for r in named} == set(NAME_LIMITS) - {
        "aws:cloudwatch/eventRule:EventRule",
        "aws:sns/topic:Topic",
    }
    for resource in named:
        given = resource.inputs.get("name")
        physical_length = len(given) if given else len(resource.name) + AUTO_NAME_SUFFIX_LENGTH
        assert resource.name.startswith(f"{RESOURCE_NAME_PREFIX}{LONGEST_NAME}-"), resource.name
        assert physical_length <= NAME_LIMITS[resource.type], (resource.type, resource.name)


def test_the_tightest_name_is_an_isolated_consumers_role_with_two_characters_to_spare(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(LONGEST_NAME, isolated_rotator=True)
    slack = {
        r.name: NAME_LIMITS[r.type] - len(r.name) - AUTO_NAME_SUFFIX_LENGTH
        for r in engine.registered()
        if r.type in NAME_LIMITS and "_shared" not in r.name
    }

    # The per-consumer RotationFailed rule (0 to spare) is gone; MAX_NAME_LENGTH stays, since
    # consumer names are configuration that existing stacks already hold.
    assert min(slack.values()) == 2
    assert slack[f"{RESOURCE_NAME_PREFIX}{LONGEST_NAME}-rotation-role"] == 2


def test_every_shared_name_fits_its_aws_limit(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy("support-bot", rotator={"alarm_email": "oncall@example.com"})
    for resource in engine.registered():
        if resource.type in NAME_LIMITS and resource.name.startswith("credrot-_shared-"):
            physical_length = len(resource.name) + AUTO_NAME_SUFFIX_LENGTH
            assert physical_length <= NAME_LIMITS[resource.type], resource.name
