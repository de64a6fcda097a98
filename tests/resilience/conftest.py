"""Fixtures for the resilience tests: the bench's moto sandbox (bench/rig.py), in both of the
rotation function's modes.

One sandbox per test module and mode: it is moto in-process, patched towards AWS, with the
rotation handler driven step by step. Every test makes its own consumer (a fresh IAM user and
secret), so tests sharing the sandbox never see each other's keys. In the shared mode every
consumer is deployed as for the stack's shared function (`SharedTarget`), so the fault matrix,
the state machine and the invariant checks all run against it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest

from bench.rig import ROTATION_GRACE_HOURS, USER_PATH, Sandbox, Target
from components import contract
from rotation_lambda.settings import SECRET_USER_TAG


class SharedTarget(Target):
    """A consumer served by the stack's shared function: its names carry the stack's prefix,
    its secret's tag names its user, and its user carries the rotator id; the function's
    environment names no user or secret (each invocation finds them from the secret)."""

    def __init__(self, sandbox: Sandbox, name: str) -> None:
        super().__init__(sandbox, f"{contract.RESOURCE_NAME_PREFIX}{name}")
        sandbox.sm.tag_resource(
            SecretId=self.secret_arn, Tags=[{"Key": SECRET_USER_TAG, "Value": self.user_name}]
        )
        sandbox.iam.tag_user(
            UserName=self.user_name, Tags=[{"Key": contract.ROTATOR_TAG, "Value": "drill"}]
        )

    def environ(self, **overrides: str) -> dict[str, str]:
        return {
            **contract.shared_function_environment(
                user_path=USER_PATH,
                secret_name_prefix=contract.RESOURCE_NAME_PREFIX,
                propagation_timeout_seconds=60,
                previous_key_grace_hours=ROTATION_GRACE_HOURS,
                log_level="DEBUG",  # every line the handler could write is checked for secrets
            ),
            **overrides,
        }


@pytest.fixture(scope="module", params=["isolated", "shared"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """moto with a recorded rotation function; boto3.DEFAULT_SESSION is the handler's."""
    with Sandbox() as running:
        if request.param == "shared":
            # bench/faults.py and the state machine make their consumers with new_target.
            names = count(1)

            def new_shared_target(prefix: str = "app", **_: Any) -> Target:
                return SharedTarget(running, f"{prefix}{next(names)}")

            running.new_target = new_shared_target
        yield running
