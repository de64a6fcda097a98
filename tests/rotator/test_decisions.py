"""The pure decisions, on plain data: which keys may go, the grace period, the backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rotation_lambda import decisions
from rotation_lambda.decisions import MAX_KEYS_PER_USER, AccessKey, KeyRole
from rotation_lambda.errors import KeyInGraceError, UnknownKeyError

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
GRACE_ENDS = T0 + timedelta(hours=24)


def key(key_id, *, active=True, minutes=0):
    return AccessKey(key_id, active, T0 + timedelta(minutes=minutes))


def plan(keys, roles, *, grace_over=True):
    return decisions.plan_deletions(keys, roles, grace_over=grace_over, grace_ends=GRACE_ENDS)


def test_the_current_key_is_current_even_if_other_versions_record_it():
    roles = decisions.classify_keys([key("A")], current_key_id="A", previous_key_ids={"A"})

    assert roles == {"A": KeyRole.CURRENT}


def test_an_inactive_current_key_is_still_current_and_never_a_candidate():
    roles = decisions.classify_keys([key("A", active=False)], current_key_id="A", older_key_ids=())

    assert roles == {"A": KeyRole.CURRENT}


def test_keys_are_classified_by_what_the_old_versions_record():
    keys = [key("CUR"), key("PREV"), key("OLD"), key("OFF", active=False), key("NEW")]

    roles = decisions.classify_keys(
        keys, current_key_id="CUR", previous_key_ids={"PREV", "OLD"}, older_key_ids={"OLD"}
    )

    assert roles == {
        "CUR": KeyRole.CURRENT,
        "PREV": KeyRole.PREVIOUS,
        "OLD": KeyRole.PREVIOUS,  # AWSPREVIOUS wins: it is the stricter role
        "OFF": KeyRole.INACTIVE,
        "NEW": KeyRole.UNKNOWN,
    }
    older = decisions.classify_keys(keys, current_key_id="CUR", older_key_ids={"OLD"})
    assert older["OLD"] is KeyRole.OLDER


def test_a_key_created_after_the_rotation_started_is_not_taken_for_the_rotations_own():
    # The old "created in a later second" rule took a hand-made key for the rotation's own
    # and deleted it. Dates prove nothing: an Active key no version records is unknown.
    roles = decisions.classify_keys(
        [key("HAND", minutes=60)], current_key_id=None, older_key_ids=()
    )

    assert roles == {"HAND": KeyRole.UNKNOWN}


def test_the_previous_key_goes_only_when_room_is_needed_and_its_grace_is_over():
    with_room = [key("CUR")]
    full = [key("CUR"), key("PREV")]
    roles = {"CUR": KeyRole.CURRENT, "PREV": KeyRole.PREVIOUS}

    assert plan(with_room, {"CUR": KeyRole.CURRENT}) == []
    assert plan(full, roles) == [("PREV", KeyRole.PREVIOUS)]


def test_a_previous_key_inside_its_grace_refuses_the_plan_naming_the_key_and_the_end():
    full = [key("CUR"), key("PREV")]

    with pytest.raises(KeyInGraceError, match="PREV") as error:
        plan(full, {"CUR": KeyRole.CURRENT, "PREV": KeyRole.PREVIOUS}, grace_over=False)

    assert error.value.key_ids == ("PREV",)
    assert error.value.grace_ends == GRACE_ENDS
    assert "2025-03-02T12:00:00Z" in str(error.value)
    assert "credrot rotate --force" in str(error.value)


def test_an_older_key_makes_room_even_while_the_previous_key_is_in_its_grace():
    keys = [key("PREV"), key("OLD", minutes=5)]
    roles = {"PREV": KeyRole.PREVIOUS, "OLD": KeyRole.OLDER}

    assert plan(keys, roles, grace_over=False) == [("OLD", KeyRole.OLDER)]


def test_an_inactive_key_makes_room_before_any_active_key():
    keys = [key("PREV"), key("OFF", active=False, minutes=5)]
    roles = {"PREV": KeyRole.PREVIOUS, "OFF": KeyRole.INACTIVE}

    assert plan(keys, roles, grace_over=False) == [("OFF", KeyRole.INACTIVE)]


def test_an_inactive_key_stays_when_there_is_room():
    assert plan([key("OFF", active=False)], {"OFF": KeyRole.INACTIVE}) == []


def test_the_oldest_inactive_key_goes_first():
    keys = [key("NEWER", active=False, minutes=5), key("OLDER", active=False)]
    roles = {"NEWER": KeyRole.INACTIVE, "OLDER": KeyRole.INACTIVE}

    assert plan(keys, roles) == [("OLDER", KeyRole.INACTIVE)]


def test_an_unknown_active_key_refuses_the_whole_plan_naming_the_key():
    keys = [key("CUR"), key("STRAY")]

    with pytest.raises(UnknownKeyError, match="STRAY") as error:
        plan(keys, {"CUR": KeyRole.CURRENT, "STRAY": KeyRole.UNKNOWN})

    assert error.value.key_ids == ("STRAY",)
    assert "deactivate or delete it, then retry" in str(error.value)


def test_an_unknown_active_key_refuses_the_rotation_even_when_there_is_room():
    with pytest.raises(UnknownKeyError, match="STRAY") as error:
        plan([key("STRAY")], {"STRAY": KeyRole.UNKNOWN})

    assert error.value.key_ids == ("STRAY",)


def test_the_sweep_retires_previous_and_older_keys_only():
    roles = {
        "CUR": KeyRole.CURRENT,
        "PREV": KeyRole.PREVIOUS,
        "OLD": KeyRole.OLDER,
        "OFF": KeyRole.INACTIVE,
        "HAND": KeyRole.UNKNOWN,
    }

    assert decisions.keys_to_retire(roles) == ["OLD", "PREV"]


ROLES = st.sampled_from(list(KeyRole))


@given(
    st.lists(st.tuples(ROLES, st.booleans(), st.integers(0, 10_000)), max_size=MAX_KEYS_PER_USER),
    st.booleans(),
)
def test_a_plan_never_deletes_a_current_unknown_or_in_grace_key(specs, grace_over):
    specs = [spec for i, spec in enumerate(specs) if spec[0] is not KeyRole.CURRENT or i == 0]
    keys = [key(f"K{i}", active=active, minutes=age) for i, (_, active, age) in enumerate(specs)]
    roles = {f"K{i}": role for i, (role, _, _) in enumerate(specs)}

    try:
        deleted = dict(plan(keys, roles, grace_over=grace_over))
    except UnknownKeyError:
        assert KeyRole.UNKNOWN in roles.values()
        return
    except KeyInGraceError as error:
        assert not grace_over
        assert {roles[key_id] for key_id in error.key_ids} == {KeyRole.PREVIOUS}
        return

    assert KeyRole.UNKNOWN not in roles.values()
    assert KeyRole.CURRENT not in deleted.values()
    assert KeyRole.UNKNOWN not in deleted.values()
    if not grace_over:
        assert KeyRole.PREVIOUS not in deleted.values()
    assert len(keys) - len(deleted) < MAX_KEYS_PER_USER
    assert len(deleted) == max(len(keys) - (MAX_KEYS_PER_USER - 1), 0)


def test_the_finish_time_label_round_trips_to_the_second():
    moment = datetime(2026, 12, 1, 17, 30, 5, 900_000, tzinfo=UTC)

    label = decisions.current_since_label(moment)

    assert label == "credrot-current-since-1796146205"
    assert decisions.is_current_since_label(label)
    assert decisions.current_since(["AWSCURRENT", label]) == moment.replace(microsecond=0)


def test_a_version_with_no_finish_label_has_no_known_since():
    assert decisions.current_since(["AWSCURRENT", "BOOTSTRAP", "credrot-current-since-x"]) is None


def test_the_latest_of_several_finish_labels_counts():
    early, late = (
        decisions.current_since_label(T0),
        decisions.current_since_label(T0 + timedelta(hours=1)),
    )

    assert decisions.current_since([late, early]) == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("age", "grace", "over"),
    [
        (timedelta(hours=23, minutes=59), timedelta(hours=24), False),
        (timedelta(hours=24), timedelta(hours=24), True),
        (timedelta(0), timedelta(0), True),
    ],
)
def test_the_grace_period_is_over_once_that_long_has_passed_since_the_finish(age, grace, over):
    assert decisions.grace_is_over(T0, T0 + age, grace) is over


def test_an_unknown_finish_time_never_counts_as_grace_over():
    assert decisions.grace_is_over(None, T0 + timedelta(days=3650), timedelta(0)) is False


def test_backoff_doubles_from_half_a_second_up_to_an_eight_second_cap():
    delays = [decisions.backoff_delay(attempt, lambda: 1.0) for attempt in range(7)]

    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


@given(st.integers(0, 10_000), st.floats(0, 1, exclude_max=True))
def test_backoff_has_full_jitter_within_the_cap(attempt, rand):
    delay = decisions.backoff_delay(attempt, lambda: rand)

    assert 0 <= delay <= 8.0
    assert delay == pytest.approx(rand * min(8.0, 0.5 * 2 ** min(attempt, 32)))
