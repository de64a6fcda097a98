"""The pure decisions, on plain data: which keys may go, the grace period, the backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rotation_lambda.decisions import (
    MAX_KEYS_PER_USER,
    AccessKey,
    KeyRole,
    backoff_delay,
    classify_keys,
    grace_is_over,
    plan_deletions,
    unexplained_active_keys,
)
from rotation_lambda.errors import UnknownKeyError

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def key(key_id, *, active=True, minutes=0):
    return AccessKey(key_id, active, T0 + timedelta(minutes=minutes))


def test_the_current_key_is_current_even_if_other_versions_record_it():
    roles = classify_keys(
        [key("A")], current_key_id="A", previous_key_id="A", abandoned_key_ids={"A"}
    )

    assert roles == {"A": KeyRole.CURRENT}


def test_keys_are_classified_by_the_evidence_given():
    keys = [key("CUR"), key("PREV"), key("OLD"), key("OFF", active=False), key("NEW")]

    roles = classify_keys(
        keys, current_key_id="CUR", previous_key_id="PREV", abandoned_key_ids={"OLD"}
    )

    assert roles == {
        "CUR": KeyRole.CURRENT,
        "PREV": KeyRole.PREVIOUS,
        "OLD": KeyRole.ABANDONED,
        "OFF": KeyRole.INACTIVE_UNKNOWN,
        "NEW": KeyRole.ACTIVE_UNKNOWN,
    }
    assert unexplained_active_keys(roles) == ["NEW"]


def test_an_unrecorded_active_key_created_in_a_later_second_than_the_rotation_is_its_own():
    keys = [key("BEFORE", minutes=-1), key("SAME-SECOND"), key("AFTER", minutes=1)]
    # Secrets Manager keeps milliseconds, IAM whole seconds: a key from the same second
    # may predate the version, so only a later second proves it is ours.
    token_created = T0 + timedelta(milliseconds=400)

    roles = classify_keys(keys, current_key_id=None, token_created=token_created)

    assert roles == {
        "BEFORE": KeyRole.ACTIVE_UNKNOWN,
        "SAME-SECOND": KeyRole.ACTIVE_UNKNOWN,
        "AFTER": KeyRole.OURS_UNRECORDED,
    }


def test_without_the_tokens_date_no_key_is_claimed_as_our_own():
    roles = classify_keys([key("AFTER", minutes=5)], current_key_id=None)

    assert roles == {"AFTER": KeyRole.ACTIVE_UNKNOWN}


def test_an_inactive_key_is_never_claimed_as_our_own():
    roles = classify_keys(
        [key("OFF", active=False, minutes=5)], current_key_id=None, token_created=T0
    )

    assert roles == {"OFF": KeyRole.INACTIVE_UNKNOWN}


def test_the_previous_key_goes_only_when_room_is_needed():
    with_room = [key("CUR")]
    full = [key("CUR"), key("PREV")]

    assert plan_deletions(with_room, {"CUR": KeyRole.CURRENT}) == []
    assert plan_deletions(full, {"CUR": KeyRole.CURRENT, "PREV": KeyRole.PREVIOUS}) == [
        ("PREV", KeyRole.PREVIOUS)
    ]


def test_abandoned_and_own_unrecorded_keys_always_go():
    keys = [key("OLD"), key("MINE")]
    roles = {"OLD": KeyRole.ABANDONED, "MINE": KeyRole.OURS_UNRECORDED}

    assert plan_deletions(keys, roles) == [
        ("OLD", KeyRole.ABANDONED),
        ("MINE", KeyRole.OURS_UNRECORDED),
    ]


def test_an_inactive_unknown_key_stays_when_there_is_room():
    assert plan_deletions([key("OFF", active=False)], {"OFF": KeyRole.INACTIVE_UNKNOWN}) == []


def test_the_oldest_inactive_unknown_key_goes_first():
    keys = [key("NEWER", active=False, minutes=5), key("OLDER", active=False)]
    roles = {"NEWER": KeyRole.INACTIVE_UNKNOWN, "OLDER": KeyRole.INACTIVE_UNKNOWN}

    assert plan_deletions(keys, roles) == [("OLDER", KeyRole.INACTIVE_UNKNOWN)]


def test_an_active_unknown_key_refuses_the_whole_plan_naming_the_key():
    keys = [key("CUR"), key("STRAY")]

    with pytest.raises(UnknownKeyError, match="STRAY") as error:
        plan_deletions(keys, {"CUR": KeyRole.CURRENT, "STRAY": KeyRole.ACTIVE_UNKNOWN})

    assert error.value.key_ids == ("STRAY",)
    assert "deactivate or delete it, then retry" in str(error.value)


def test_an_active_unknown_key_refuses_the_rotation_even_when_there_is_room():
    keys = [key("STRAY")]

    with pytest.raises(UnknownKeyError, match="STRAY") as error:
        plan_deletions(keys, {"STRAY": KeyRole.ACTIVE_UNKNOWN})

    assert error.value.key_ids == ("STRAY",)


ROLES = st.sampled_from(list(KeyRole))
KEEP = (KeyRole.CURRENT, KeyRole.ACTIVE_UNKNOWN)


@given(
    st.lists(st.tuples(ROLES, st.booleans(), st.integers(0, 10_000)), max_size=MAX_KEYS_PER_USER)
)
def test_a_plan_makes_room_without_deleting_current_or_unknown_active_keys(specs):
    specs = [spec for i, spec in enumerate(specs) if spec[0] is not KeyRole.CURRENT or i == 0]
    keys = [key(f"K{i}", active=active, minutes=age) for i, (_, active, age) in enumerate(specs)]
    roles = {f"K{i}": role for i, (role, _, _) in enumerate(specs)}

    if KeyRole.ACTIVE_UNKNOWN in roles.values():
        with pytest.raises(UnknownKeyError):
            plan_deletions(keys, roles)
        return
    deleted = dict(plan_deletions(keys, roles))

    assert not set(deleted.values()) & set(KEEP)
    assert len(keys) - len(deleted) < MAX_KEYS_PER_USER
    always = {k for k, r in roles.items() if r in (KeyRole.ABANDONED, KeyRole.OURS_UNRECORDED)}
    assert always <= set(deleted)


@pytest.mark.parametrize(
    ("age", "grace", "over"),
    [
        (timedelta(hours=23, minutes=59), timedelta(hours=24), False),
        (timedelta(hours=24), timedelta(hours=24), True),
        (timedelta(0), timedelta(0), True),
    ],
)
def test_the_grace_period_is_over_once_the_current_version_is_that_old(age, grace, over):
    assert grace_is_over(T0, T0 + age, grace) is over


def test_backoff_doubles_from_half_a_second_up_to_an_eight_second_cap():
    delays = [backoff_delay(attempt, lambda: 1.0) for attempt in range(7)]

    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


@given(st.integers(0, 10_000), st.floats(0, 1, exclude_max=True))
def test_backoff_has_full_jitter_within_the_cap(attempt, rand):
    delay = backoff_delay(attempt, lambda: rand)

    assert 0 <= delay <= 8.0
    assert delay == pytest.approx(rand * min(8.0, 0.5 * 2 ** min(attempt, 32)))
