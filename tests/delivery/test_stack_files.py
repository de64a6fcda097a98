"""The stack files: the prod one is an example that cannot be deployed by mistake.

A production stack file whose values only look real (a documentation network, a reserved
e-mail domain) deploys a stack that cannot work. Pulumi.prod.yaml instead marks every value
to fill in, and the stack's config validation refuses it until each is replaced.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.config import NAMESPACE, PLACEHOLDER_MARKER, parse_stack_config

# Values that only look real: documentation networks (RFC 5737, RFC 3849), reserved e-mail
# and DNS names (RFC 2606), AWS's documentation account.
NEVER_REAL = re.compile(
    r"192\.0\.2\.|198\.51\.100\.|203\.0\.113\.|2001:db8:|@example\.|\.example\b|111122223333"
)

Config = dict[str, Any]
ROTATOR_ID = f"{NAMESPACE}/prod"


def project_keys(config: Config) -> Config:
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{NAMESPACE}:")}


def test_the_prod_stack_file_is_refused_until_its_placeholders_are_replaced(
    prod_stack_file: tuple[Config, Config],
) -> None:
    written, _ = prod_stack_file

    with pytest.raises(ValueError, match=rf"^{NAMESPACE}:\w+.*: '{PLACEHOLDER_MARKER}") as refused:
        parse_stack_config(project_keys(written), rotator_id=ROTATOR_ID)
    assert "placeholder of the example stack file" in str(refused.value)


def test_each_placeholder_is_refused_by_name(prod_stack_file: tuple[Config, Config]) -> None:
    written, filled = prod_stack_file
    keys = project_keys(written)
    placeholders = [key for key, value in keys.items() if PLACEHOLDER_MARKER in json.dumps(value)]
    assert {"alarmEmail", "permissionsBoundaryArn", "consumers"} <= set(placeholders)

    for key in placeholders:
        # Only this key left unfilled: the refusal names it.
        config = {**project_keys(filled), key: keys[key]}
        with pytest.raises(ValueError, match=rf"^{NAMESPACE}:{key}\b"):
            parse_stack_config(config, rotator_id=ROTATOR_ID)


def test_the_filled_in_prod_stack_file_is_accepted(prod_stack_file: tuple[Config, Config]) -> None:
    _, filled = prod_stack_file

    config = parse_stack_config(project_keys(filled), rotator_id=ROTATOR_ID)

    assert config.rotator.permissions_boundary_arn  # the deploy role requires one
    assert config.rotator.alarm_email


def test_no_stack_file_value_only_looks_real(prod_stack_file: tuple[Config, Config]) -> None:
    written, _ = prod_stack_file

    assert NEVER_REAL.findall(json.dumps(written)) == []


def test_the_never_real_pattern_catches_what_it_names() -> None:
    for value in ("203.0.113.0/24", "2001:db8::/32", "oncall@example.com", "111122223333"):
        assert NEVER_REAL.search(value), value
    assert not NEVER_REAL.search("52.94.76.10/32")
