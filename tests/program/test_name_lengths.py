"""Every name the component derives fits AWS's limits, for the longest consumer name allowed.

Pulumi auto-names a resource from its logical name plus 8 characters ("-" and 7 random hex),
so the physical name of a child is ``len(logical name) + 8`` long; the component derives the
logical names as ``RESOURCE_NAME_PREFIX + consumer + "-" + role``. MAX_NAME_LENGTH is what
keeps the longest of them within its type's limit.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest

from components.config import MAX_NAME_LENGTH, check_name
from components.contract import RESOURCE_NAME_PREFIX
from components.rotated_access_key import COMPONENT_TYPE

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
    # Every optional child: the created topic with an e-mail, and an extra policy.
    deploy(
        LONGEST_NAME,
        alarm_email="oncall@example.com",
        extra_policy_arns=("arn:aws:iam::aws:policy/AmazonBedrockReadOnly",),
    )
    named = [r for r in engine.registered() if r.type != COMPONENT_TYPE and has_name(r.type)]

    assert {r.type for r in named} == set(NAME_LIMITS)
    for resource in named:
        given = resource.inputs.get("name")
        physical_length = len(given) if given else len(resource.name) + AUTO_NAME_SUFFIX_LENGTH
        assert resource.name.startswith(f"{RESOURCE_NAME_PREFIX}{LONGEST_NAME}-"), resource.name
        assert physical_length <= NAME_LIMITS[resource.type], (resource.type, resource.name)


def test_the_limit_is_reached_exactly_so_the_name_cannot_grow(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(LONGEST_NAME)
    slack = min(
        NAME_LIMITS[r.type] - len(r.name) - AUTO_NAME_SUFFIX_LENGTH
        for r in engine.registered()
        if r.type in NAME_LIMITS
    )

    # 0: MAX_NAME_LENGTH is as long as the tightest name allows, not shorter.
    assert slack == 0
