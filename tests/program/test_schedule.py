"""Rotation schedules: what Secrets Manager accepts, and the shortest gap between rotations."""

from __future__ import annotations

import pytest

from components.schedule import RotationSchedule, check_grace_fits, rotation_schedule


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


def test_no_schedule_rotates_every_30_days() -> None:
    assert schedule() == RotationSchedule(
        days=30, expression=None, window="4h", shortest_gap_hours=30 * 24 - 4
    )


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
        ("cron(0 0 29 2 ? *)", "never fires twice"),  # leap years only
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
