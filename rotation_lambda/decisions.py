"""Pure decisions, no AWS calls: which access keys may go, when a key's grace ends, backoff.

The rules, each a promise the README makes:
- a key is deleted or deactivated only when the secret's own versions prove it is not
  AWSCURRENT; an Active AWSPREVIOUS key only once its grace is over;
- an Active key that no version records is never touched: someone may use it;
- grace starts when a key stops being current: at the finish of the rotation that replaced
  it, recorded as a ``credrot-current-since-<epoch>`` label on the AWSCURRENT version.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from rotation_lambda.errors import KeyInGraceError, UnknownKeyError

# IAM's hard limit on access keys per user; Inactive keys count too.
MAX_KEYS_PER_USER = 2

# A custom staging label on the AWSCURRENT version: when that version became current.
# Versions are immutable and Pulumi manages the secret's tags, so a label is the one place
# the function can record a moment without drift; it also survives any retry of the step.
CURRENT_SINCE_PREFIX = "credrot-current-since-"
_CURRENT_SINCE = re.compile(re.escape(CURRENT_SINCE_PREFIX) + r"(\d{1,12})")


@dataclass(frozen=True)
class AccessKey:
    """IAM access-key metadata (ListAccessKeys); never the secret part."""

    key_id: str
    active: bool
    created: datetime


class KeyRole(StrEnum):
    """What the secret's versions prove about a key."""

    CURRENT = "current"  # in AWSCURRENT: never deleted, never deactivated
    PREVIOUS = "previous"  # Active, in AWSPREVIOUS: apps may still hold it; goes after its grace
    OLDER = "older"  # Active, recorded only by older versions: replaced twice, or abandoned
    INACTIVE = "inactive"  # nobody can authenticate with it: removable to make room
    UNKNOWN = "unknown"  # Active and recorded nowhere: someone may use it; never touched


def current_since_label(moment: datetime) -> str:
    """The label that records `moment` as when its version became AWSCURRENT."""
    return f"{CURRENT_SINCE_PREFIX}{int(moment.timestamp())}"


def current_since(stages: Iterable[str]) -> datetime | None:
    """When a version became AWSCURRENT, from its labels (the latest, if several)."""
    moments = [int(match[1]) for stage in stages if (match := _CURRENT_SINCE.fullmatch(stage))]
    return datetime.fromtimestamp(max(moments), UTC) if moments else None


def is_current_since_label(stage: str) -> bool:
    """True for labels written by `current_since_label`."""
    return _CURRENT_SINCE.fullmatch(stage) is not None


def grace_is_over(since: datetime | None, now: datetime, grace: timedelta) -> bool:
    """True once `grace` has passed since the current version became current.

    An unknown moment (no label) is never over: the caller records "now" instead, so grace
    is counted from the first time the function sees the version, never from too early.
    """
    return since is not None and now - since >= grace


def classify_keys(
    keys: Iterable[AccessKey],
    *,
    current_key_id: str | None,
    previous_key_ids: Iterable[str] = (),
    older_key_ids: Iterable[str] = (),
) -> dict[str, KeyRole]:
    """Give every key of the user its role.

    `previous_key_ids`: recorded by the AWSPREVIOUS version; `older_key_ids`: recorded by
    versions that are neither AWSCURRENT, AWSPREVIOUS nor a rotation in progress.
    """
    previous, older = set(previous_key_ids), set(older_key_ids)
    roles: dict[str, KeyRole] = {}
    for key in keys:
        if key.key_id == current_key_id:
            roles[key.key_id] = KeyRole.CURRENT
        elif not key.active:
            roles[key.key_id] = KeyRole.INACTIVE
        elif key.key_id in previous:
            roles[key.key_id] = KeyRole.PREVIOUS
        elif key.key_id in older:
            roles[key.key_id] = KeyRole.OLDER
        else:
            roles[key.key_id] = KeyRole.UNKNOWN
    return roles


def active_keys_to_explain(keys: Iterable[AccessKey], current_key_id: str | None) -> set[str]:
    """Active keys other than the current one: the ones whose role needs evidence."""
    return {key.key_id for key in keys if key.active and key.key_id != current_key_id}


def plan_deletions(
    keys: Iterable[AccessKey],
    roles: dict[str, KeyRole],
    *,
    grace_over: bool,
    grace_ends: datetime | None,
) -> list[tuple[str, KeyRole]]:
    """The keys to delete so that one new key fits, in order, with the role justifying each.

    Only as many as room requires: Inactive keys first, then Active keys only older versions
    record, then the AWSPREVIOUS key once its grace is over; oldest first within each.
    Raises UnknownKeyError for any Active key recorded nowhere (even with room: such a live
    key is the static credential this product removes), and KeyInGraceError when room needs
    a key whose grace is not over. Nothing has changed when either is raised.
    """
    unknown = sorted(key_id for key_id, role in roles.items() if role is KeyRole.UNKNOWN)
    if unknown:
        raise UnknownKeyError(
            f"IAM user has Active access key(s) {', '.join(unknown)} that this secret never"
            " recorded; refusing to rotate around a key that may be in use. If it is a stray,"
            " deactivate or delete it, then retry the rotation (aws iam update-access-key"
            " --status Inactive); if something uses it, move that to this secret first",
            tuple(unknown),
        )
    by_age = sorted(keys, key=lambda key: key.created)
    needed = len(by_age) - (MAX_KEYS_PER_USER - 1)
    order = [
        key.key_id
        for role in (KeyRole.INACTIVE, KeyRole.OLDER)
        for key in by_age
        if roles[key.key_id] is role
    ]
    in_grace = [key.key_id for key in by_age if roles[key.key_id] is KeyRole.PREVIOUS]
    if grace_over:
        order += in_grace
        in_grace = []
    if needed > len(order):
        ends = (
            f"ends at {grace_ends:%Y-%m-%dT%H:%M:%SZ}"
            if grace_ends is not None
            else "is counted from now (the current version carried no finish time)"
        )
        raise KeyInGraceError(
            f"IAM user has no room for a new access key: key(s) {', '.join(in_grace)}, no longer"
            f" current, are still Active inside their grace period, which {ends}. A rotation"
            " never deletes a key that apps or offline workloads may still use before its"
            " grace ends: wait (the hourly sweep deactivates it, the next rotation deletes it),"
            " or deactivate it now with `credrot rotate --force` or `credrot revoke`",
            tuple(in_grace),
            grace_ends,
        )
    return [(key_id, roles[key_id]) for key_id in order[: max(needed, 0)]]


def keys_to_retire(roles: dict[str, KeyRole]) -> list[str]:
    """Active keys the sweep deactivates once the grace is over (sorted, for stable logs)."""
    return sorted(
        key_id for key_id, role in roles.items() if role in (KeyRole.PREVIOUS, KeyRole.OLDER)
    )


def backoff_delay(
    attempt: int, rand: Callable[[], float], *, base: float = 0.5, cap: float = 8.0
) -> float:
    """Capped exponential backoff with full jitter: rand() * min(cap, base * 2**attempt)."""
    return rand() * min(cap, base * 2.0 ** min(attempt, 32))
