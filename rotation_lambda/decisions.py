"""Pure decisions, no AWS calls: which access keys may go, is the grace over, how long to wait.

createSecret gathers evidence from the secret's versions lazily and asks `classify_keys`
after each piece; only keys the evidence proves are not current may be deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from rotation_lambda.errors import UnknownKeyError

# IAM's hard limit on access keys per user; Inactive keys count too.
MAX_KEYS_PER_USER = 2


@dataclass(frozen=True)
class AccessKey:
    """IAM access-key metadata (ListAccessKeys); never the secret part."""

    key_id: str
    active: bool
    created: datetime


class KeyRole(StrEnum):
    """What the secret's versions prove about a key."""

    CURRENT = "current"  # in AWSCURRENT: never deleted
    PREVIOUS = "previous"  # in AWSPREVIOUS: deleted only when room is needed
    ABANDONED = "abandoned"  # only in versions that are neither current nor previous
    OURS_UNRECORDED = "ours-unrecorded"  # created by a crashed attempt at this very token
    INACTIVE_UNKNOWN = "inactive-unknown"  # never recorded, Inactive: removable for room
    ACTIVE_UNKNOWN = "active-unknown"  # never recorded, Active: someone may use it


def classify_keys(
    keys: Iterable[AccessKey],
    *,
    current_key_id: str | None,
    previous_key_id: str | None = None,
    abandoned_key_ids: Collection[str] = (),
    token_created: datetime | None = None,
) -> dict[str, KeyRole]:
    """Give every key of the user its role given the evidence gathered so far.

    `token_created` is the CreatedDate of the rotation's own version, passed only while
    that version has no value: an Active key created since then and recorded nowhere can
    only be this rotation's own key from an attempt that crashed before recording it.
    """
    roles: dict[str, KeyRole] = {}
    for key in keys:
        if key.key_id == current_key_id:
            roles[key.key_id] = KeyRole.CURRENT
        elif key.key_id == previous_key_id:
            roles[key.key_id] = KeyRole.PREVIOUS
        elif key.key_id in abandoned_key_ids:
            roles[key.key_id] = KeyRole.ABANDONED
        elif not key.active:
            roles[key.key_id] = KeyRole.INACTIVE_UNKNOWN
        elif token_created is not None and _whole_seconds(key.created) > _whole_seconds(
            token_created
        ):
            roles[key.key_id] = KeyRole.OURS_UNRECORDED
        else:
            roles[key.key_id] = KeyRole.ACTIVE_UNKNOWN
    return roles


def _whole_seconds(moment: datetime) -> int:
    # IAM reports CreateDate to the second while Secrets Manager keeps milliseconds, so a
    # key from the same second as the version may predate it: only a later second proves
    # the key is ours. The price: a crashed attempt's key from that very second is refused
    # by name (the operator deletes it) instead of being cleaned up silently.
    return int(moment.timestamp())


def unexplained_active_keys(roles: dict[str, KeyRole]) -> list[str]:
    """Active keys that no evidence accounts for yet (sorted, for stable messages)."""
    return sorted(key_id for key_id, role in roles.items() if role is KeyRole.ACTIVE_UNKNOWN)


def plan_deletions(
    keys: Iterable[AccessKey], roles: dict[str, KeyRole]
) -> list[tuple[str, KeyRole]]:
    """Keys to delete before creating a new one, in order, with the role justifying each.

    Abandoned and own-unrecorded keys always go: nobody can be using them. Then, only while
    the user would otherwise be at IAM's limit, the previous key and Inactive unknown keys
    go (previous first, then oldest first). An Active unknown key is never deleted: the
    rotation is refused with an error naming it, before anything changes.
    """
    unknown = unexplained_active_keys(roles)
    if unknown:
        # Refused even when there is room: a live key outside rotation is the static,
        # leakable credential this product exists to remove, and it would block the next
        # rotation anyway. Nothing has been changed at this point.
        raise UnknownKeyError(
            f"IAM user has Active access key(s) {', '.join(unknown)} that this secret never"
            " recorded; refusing to rotate around a key that may be in use. If it is a stray,"
            " deactivate or delete it, then retry the rotation (aws iam update-access-key"
            " --status Inactive); if something uses it, move that to this secret first",
            tuple(unknown),
        )
    by_age = sorted(keys, key=lambda key: key.created)
    always = (KeyRole.ABANDONED, KeyRole.OURS_UNRECORDED)
    deletions = [(key.key_id, roles[key.key_id]) for key in by_age if roles[key.key_id] in always]
    remaining = len(by_age) - len(deletions)
    for role in (KeyRole.PREVIOUS, KeyRole.INACTIVE_UNKNOWN):
        for key in by_age:
            if remaining >= MAX_KEYS_PER_USER and roles[key.key_id] is role:
                deletions.append((key.key_id, role))
                remaining -= 1
    return deletions


def grace_is_over(current_created: datetime, now: datetime, grace: timedelta) -> bool:
    """True once the current version (created by createSecret) is at least `grace` old."""
    return now - current_created >= grace


def backoff_delay(
    attempt: int, rand: Callable[[], float], *, base: float = 0.5, cap: float = 8.0
) -> float:
    """Capped exponential backoff with full jitter: rand() * min(cap, base * 2**attempt)."""
    return rand() * min(cap, base * 2.0 ** min(attempt, 32))
