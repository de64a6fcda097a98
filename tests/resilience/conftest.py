"""Fixtures for the resilience tests: the bench's moto sandbox (bench/rig.py).

One sandbox per test module: it is moto in-process, patched towards AWS, with the rotation
handler driven step by step. Every test makes its own consumer (a fresh IAM user and
secret), so tests sharing the sandbox never see each other's keys.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.rig import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """moto with a recorded rotation function; boto3.DEFAULT_SESSION is the handler's."""
    with Sandbox() as running:
        yield running
