"""Fixtures for the resilience tests: the in-process moto sandbox (credrot.sandbox.aws), in
both of the rotation function's modes.

One sandbox per test module and mode: it is moto in-process, patched towards AWS, with the
rotation handler driven step by step. Every test makes its own consumer (a fresh IAM user and
secret), so tests sharing the sandbox never see each other's keys. Every consumer is deployed
as the component does (names, the secret's user tag, the user's reverse binding and rotator
tags); in the shared mode the function's environment names no user or secret (each
invocation finds them from the secret), so the fault matrix, the state machine and the
invariant checks all run against the shared function too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from credrot.sandbox.aws import MODES, Sandbox


@pytest.fixture(scope="module", params=MODES)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """moto with a recorded rotation function; boto3.DEFAULT_SESSION is the handler's."""
    with Sandbox(request.param) as running:
        yield running
