"""Rotation schedules: what Secrets Manager accepts, and the shortest gap between rotations."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from components.schedule import (
    RotationSchedule,
    WindowSlot,
    check_grace_fits,
    parse_cron,
    rotation_schedule,
    spread_windows,
    sweep_expression,
    window_slot,
    with_slot,
)

CRON_CORPUS = json.loads((Path(__file__).parents[1] / "cron_corpus.json").read_text())["cases"]
CORPUS_START = date(2024, 1, 1)


def schedule(
    days: object = None, expression: object = None, window: object = "4h"
) -> RotationSchedule:
    return rotation_schedule(
        days=days,
        expression=expression,
        window=window,
        days_field="rotationDays",
        expression_field="rotationSchedule",
        window_field="rotationWindow",
    )


def test_no_schedule_is_the_monthly_default_whose_slot_comes_later() -> None:
    default = schedule()
    assert default == RotationSchedule(
        days=None, expression=None, window="4h", shortest_gap_hours=28 * 24 - 4
    )
    assert default.is_default


def test_the_default_cadence_becomes_the_monthly_cron_of_its_slot() -> None:
    rotation = with_slot(schedule(window="3h"), WindowSlot(day=28, hour=21))
    assert rotation.expression == "cron(0 21 28 * ? *)"
    # What Secrets Manager would be asked for is valid as an explicit schedule too.
    assert schedule(expression=rotation.expression, window="3h").shortest_gap_hours == (
        rotation.shortest_gap_hours
    )


def test_a_slot_whose_window_runs_past_midnight_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit a 4h window before midnight UTC"):
        with_slot(schedule(), WindowSlot(day=1, hour=21))


def test_an_explicit_schedule_gets_no_slot() -> None:
    with pytest.raises(ValueError, match="is not the default cadence"):
        with_slot(schedule(days=7), WindowSlot(day=1, hour=0))


@pytest.mark.parametrize("window_hours", [1, 4, 12, 24])
def test_a_name_always_hashes_to_the_same_slot_inside_the_day(window_hours: int) -> None:
    for name in ("support-bot", "forecast-agent", "a"):
        slot = window_slot(name, window_hours)
        assert slot == window_slot(name, window_hours)
        assert 1 <= slot.day <= 28
        assert 0 <= slot.hour <= 24 - window_hours


def test_known_names_keep_their_slots_across_processes() -> None:
    # hashlib, not hash(): these values must never change, or every stack's schedule would.
    assert window_slot("support-bot", 4) == WindowSlot(day=19, hour=20)
    assert sweep_expression("support-bot") == "cron(29 * * * ? *)"


def test_spread_windows_gives_distinct_slots_while_there_are_free_ones() -> None:
    consumers = [(f"bot-{index}", 4) for index in range(28 * 21)]
    slots = spread_windows(consumers)
    assert len(set(slots.values())) == 28 * 21


def test_beyond_the_free_slots_spread_windows_loads_them_evenly() -> None:
    slots = spread_windows([(f"bot-{index}", 4) for index in range(2 * 28 * 21 + 1)])
    loads: dict[WindowSlot, int] = {}
    for slot in slots.values():
        loads[slot] = loads.get(slot, 0) + 1
    assert sorted(set(loads.values())) == [2, 3]


def test_spread_windows_depends_on_the_set_of_consumers_not_their_order() -> None:
    consumers = [(f"bot-{index}", 4) for index in range(50)]
    assert spread_windows(consumers) == spread_windows(list(reversed(consumers)))


def test_a_consumer_keeps_its_hashed_slot_when_nobody_else_has_it() -> None:
    assert spread_windows([("support-bot", 4)]) == {"support-bot": window_slot("support-bot", 4)}


def test_sweeps_are_hourly_at_a_minute_spread_over_the_hour() -> None:
    minutes = {sweep_expression(f"bot-{index}") for index in range(1000)}
    assert len(minutes) == 60
    assert all(expression.endswith(" * * * ? *)") for expression in minutes)


def test_the_default_cadence_leaves_room_for_the_default_grace() -> None:
    check_grace_fits(24, schedule(), grace_field="grace", schedule_field="default")


@pytest.mark.parametrize(
    ("expression", "window", "gap_hours"),
    [
        ("rate(4 hours)", "1h", 3),
        ("rate(12 hours)", "4h", 8),
        ("rate(1 day)", "4h", 20),
        ("rate(10 days)", "4h", 236),
        ("cron(0 4 ? * MON *)", "4h", 7 * 24 - 4),
        ("cron(0 16 1,15 * ? *)", "4h", 14 * 24 - 4),  # Feb 15 -> Mar 1 in a common year
        ("cron(0 4/12 * * ? *)", "2h", 10),
        ("cron(0 8 ? * MON-FRI *)", "3h", 21),
        ("cron(0 2 ? * 2#1 *)", "3h", 28 * 24 - 3),  # first Monday: four weeks at least
        ("cron(0 2 ? * 6L *)", "3h", 28 * 24 - 3),  # last Friday
        ("cron(0 2 L * ? *)", "3h", 28 * 24 - 3),  # last day of the month: Jan 31 -> Feb 28
        ("cron(0 0 1 */2 ? *)", "24h", 59 * 24 - 24),  # Jan 1 -> Mar 1; at most 62 days
    ],
)
def test_valid_expressions_report_their_shortest_gap(
    expression: str, window: str, gap_hours: int
) -> None:
    result = schedule(expression=expression, window=window)
    assert (result.days, result.expression, result.window) == (None, expression, window)
    assert result.shortest_gap_hours == gap_hours


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("rate(3 hours)", "every 3 h"),
        ("rate(91 days)", "can wait 91 days between two rotations"),
        ("rate(2185 hours)", "can wait 91.0417 days between two rotations"),
        ("rate(0 days)", "not a valid rate expression"),
        ("rate(10 minutes)", "not a valid rate expression"),
        ("rate(10days)", "not a valid rate expression"),
        ("cron(0 4 * * ?)", "6 space-separated fields"),
        ("cron(0  4 * * ? *)", "6 space-separated fields"),
        ("cron(15 4 * * ? *)", "minutes other than 0"),
        ("cron(0 4 * * ? 2026)", "a year other than *"),
        ("cron(0 4 * * * *)", "? in neither or both"),
        ("cron(0 4 ? * ? *)", "? in neither or both"),
        ("cron(0 24 * * ? *)", "out of range or malformed"),
        ("cron(0 4 32 * ? *)", "out of range or malformed"),
        ("cron(0 4 ? * FOO *)", "out of range or malformed"),
        ("cron(0 4 ? * 2#6 *)", "out of range or malformed"),
        ("cron(0 5-1 * * ? *)", "out of range or malformed"),
        ("cron(0 */0 * * ? *)", "out of range or malformed"),
        ("cron(0 */2 * * ? *)", "2 h apart"),
        ("cron(0 0 30 2 ? *)", "never fires twice"),
        ("cron(0 0 29 2 ? *)", "can wait 1461 days"),  # leap years only
        ("cron(0 0 15W * ? *)", "out of range or malformed"),  # no W in Secrets Manager
        ("cron(0 4 1 */3 ? *)", "can wait 92 days"),  # quarterly: Oct 1 -> Jan 1
        ("every day", "neither a rate() nor a cron()"),
        (30, "neither a rate() nor a cron()"),
    ],
)
def test_malformed_or_unsupported_expressions_are_refused(expression: object, reason: str) -> None:
    with pytest.raises(ValueError, match="rotationSchedule") as refused:
        schedule(expression=expression, window="1h")
    assert repr(expression) in str(refused.value)
    assert reason in str(refused.value)


@pytest.mark.parametrize("days", [0, -1, 1.5, "30", True])
def test_days_that_are_not_a_whole_number_from_1_to_90_are_refused(days: object) -> None:
    with pytest.raises(ValueError, match=rf"rotationDays: {days!r} is not a whole number"):
        schedule(days=days)


@pytest.mark.parametrize("days", [91, 366])
def test_days_beyond_the_longest_rotation_period_are_refused_with_the_packs_message(
    days: int,
) -> None:
    # The same sentence the policy pack reports (components.limits.rotation_too_slow).
    with pytest.raises(
        ValueError,
        match=rf"rotationDays: {days} can wait {days} days between two rotations; keys must "
        "rotate at least every 90 days",
    ):
        schedule(days=days)


def test_days_and_expression_together_are_refused() -> None:
    with pytest.raises(ValueError, match="rotationDays and rotationSchedule: both are set"):
        schedule(days=7, expression="rate(7 days)")


@pytest.mark.parametrize(
    ("expression", "window", "reason"),
    [
        (None, "0h", "not a rotation window"),
        (None, "25h", "not a rotation window"),
        (None, "4", "not a rotation window"),
        (None, 4, "not a rotation window"),
        (
            "cron(0 22 * * ? *)",
            "4h",
            "runs past midnight UTC, which Secrets Manager refuses; use at most 2h",
        ),
        ("rate(6 hours)", "8h", "longer than the 6 h between rotations"),
    ],
)
def test_windows_that_secrets_manager_refuses_are_refused(
    expression: str | None, window: object, reason: str
) -> None:
    with pytest.raises(ValueError, match=rf"rotationWindow: {window!r}") as refused:
        schedule(expression=expression, window=window)
    assert reason in str(refused.value)


def test_grace_must_end_before_the_next_rotation_can_come() -> None:
    daily = schedule(days=1)  # as little as 20 h between rotations, sweep needs 1 h
    check_grace_fits(19, daily, grace_field="previousKeyGraceHours", schedule_field="daily")
    with pytest.raises(
        ValueError, match=r"previousKeyGraceHours: 19\.5 h is longer than daily"
    ) as e:
        check_grace_fits(19.5, daily, grace_field="previousKeyGraceHours", schedule_field="daily")
    assert "use at most 19 h of grace" in str(e.value)


@pytest.mark.parametrize("case", CRON_CORPUS, ids=lambda case: case["expression"])
def test_the_config_reads_every_cron_of_the_corpus_as_the_pack_does(case: dict[str, Any]) -> None:
    # tests/delivery/test_policy_pack.py holds the policy pack to the same corpus.
    expression = case["expression"]
    if case["config"] == "accepted":
        assert schedule(expression=expression, window="1h").expression == expression
    else:
        with pytest.raises(ValueError, match="rotationSchedule") as refused:
            schedule(expression=expression, window="1h")
        assert case["config"] in str(refused.value)
    if case["first_firings"] is None:
        with pytest.raises(ValueError):
            parse_cron(expression)
        return
    hours = parse_cron(expression).firing_hours(CORPUS_START, 13 * 366)[:3]
    start = datetime(CORPUS_START.year, CORPUS_START.month, CORPUS_START.day)
    assert [(start + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:00Z") for hour in hours] == case[
        "first_firings"
    ]
