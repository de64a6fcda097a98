"""The function's wall clock, a module attribute looked up at call time so that tests and
benches can move time (grace periods are hours long): `clock.now`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


now: Callable[[], datetime] = _utc_now
