"""Rotation schedules as Secrets Manager accepts them, and how close two rotations can come.

Pure functions, no Pulumi: Secrets Manager rejects a bad schedule only at deploy time, after
other resources exist, and the Pulumi mock engine does not check it at all. So the rules of
"Schedule expressions in Secrets Manager rotation" are checked here, before anything is
created:

- ``rate(N hours)`` (N >= 4) or ``rate(N days)``;
- ``cron(0 Hours Day-of-month Month Day-of-week *)``: minutes must be 0 (windows open on the
  hour), the year must be ``*``, and exactly one of day-of-month and day-of-week is ``?``;
  ``L`` and ``#`` but not ``W`` (``cron_figures``, which the policy pack uses too);
- a rotation window ``Nh`` that ends by midnight UTC and before the next window opens.

The shortest time between two rotations is also what bounds the previous key's grace period:
the sweep must retire the previous key before the next rotation mints a new one, or the
Lambda would have to delete a key still inside its grace to stay within IAM's 2-key limit.

Spreading a fleet in time: with neither ``rotationDays`` nor ``rotationSchedule`` a consumer
rotates monthly, on a day (1-28) and at a window hour derived from a stable hash of its name
(``window_slot``; ``spread_windows`` makes the slots of consumers deployed together distinct
while free slots remain). Its hourly sweep fires at a minute derived the same way
(``sweep_expression``). An explicit ``rotationDays`` or ``rotationSchedule`` is honoured as
written, and does not spread: Secrets Manager opens a ``rate()`` window at a fixed time ("If
you use a rate() expression, the rotation window starts at midnight", RotationRulesType,
ScheduleExpression; Duration: "The window starts according to the ScheduleExpression"), so
only a cron() chooses the hour, and rewriting an operator's schedule would change what they
chose. Moving an existing consumer from the old default (every 30 days) to its monthly cron is
safe: the rotation is updated with RotateImmediately=false, which mints no key; AWS warns only
that "If using AutomaticallyAfterDays or a ScheduleExpression with rate(), the previously
scheduled rotation might still occur" (CloudFormation, RotationSchedule RotationRules), one
ordinary rotation at most, after which the cron() alone decides.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from components.limits import MAX_ROTATION_DAYS, rotation_too_slow

# Secrets Manager rotates at most every four hours.
MIN_ROTATION_HOURS = 4
MAX_ROTATION_HOURS = MAX_ROTATION_DAYS * 24
DEFAULT_ROTATION_WINDOW = "4h"
# The RetirePreviousKey sweep runs hourly (sweep_expression): a previous key outlives its
# grace by up to this.
SWEEP_INTERVAL_HOURS = 1
# The default cadence: monthly, on a day every month has, so a consumer never skips February.
DEFAULT_CADENCE_LAST_DAY = 28
# Shortest gap between two monthly firings on the same day: February's 28 days.
MONTHLY_GAP_HOURS = 28 * 24

_RATE = re.compile(r"rate\((?P<value>[1-9]\d*) (?P<unit>hours?|days?)\)")
_CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
_WINDOW = re.compile(r"(?P<hours>[1-9]\d?)h")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# The calendar's weekdays and leap days repeat every 28 years (inside 1901-2099): 28 years and
# one more, so that the gap from the cycle's last firing to the next cycle's first is counted
# too, hold every gap a cron() will ever have.
_SIMULATION_START = date(2024, 1, 1)
_SIMULATION_DAYS = (date(2053, 1, 1) - _SIMULATION_START).days

_RATE_HELP = (
    f"write rate(N hours) with N >= 4, or rate(N days) with N from 1 to {MAX_ROTATION_DAYS}"
)
_CRON_HELP = (
    "write cron(0 Hours Day-of-month Month Day-of-week *), e.g. cron(0 4 ? * MON *) or "
    "cron(0 2 1 * ? *): minutes 0, year *, and ? in exactly one of the day fields"
)


@dataclass(frozen=True)
class RotationSchedule:
    """A validated schedule: exactly one of ``days`` and ``expression`` is set."""

    days: int | None
    expression: str | None
    window: str
    # Shortest time between two scheduled rotations, rotation windows included.
    shortest_gap_hours: int

    @property
    def is_default(self) -> bool:
        """Neither days nor an expression was given: the monthly cadence, its slot not yet
        chosen (``with_slot``)."""
        return self.days is None and self.expression is None

    @property
    def window_hours(self) -> int:
        """The rotation window's length in hours."""
        return int(self.window.removesuffix("h"))


@dataclass(frozen=True)
class WindowSlot:
    """When a default-cadence consumer rotates: this day of every month, from this hour UTC."""

    day: int  # 1-28
    hour: int  # 0-23; hour + window ends by midnight UTC

    @property
    def expression(self) -> str:
        """The slot as the cron() Secrets Manager accepts (minutes 0, year *)."""
        return f"cron(0 {self.hour} {self.day} * ? *)"


def _stable_hash(text: str) -> int:
    # hashlib, not hash(): Python salts str hashes per process, and the slot must not move
    # between two runs of the program.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


@functools.cache
def _slots(window_hours: int) -> tuple[WindowSlot, ...]:
    """Every slot whose window ends by midnight UTC, in (day, hour) order."""
    return tuple(
        WindowSlot(day=day, hour=hour)
        for day in range(1, DEFAULT_CADENCE_LAST_DAY + 1)
        for hour in range(0, 24 - window_hours + 1)
    )


def _index(slot: WindowSlot) -> int:
    """A slot's position among all (day, hour) pairs, whatever the window."""
    return (slot.day - 1) * 24 + slot.hour


def window_slot(name: str, window_hours: int) -> WindowSlot:
    """The slot a consumer's name hashes to, for a window of ``window_hours``."""
    slots = _slots(window_hours)
    return slots[_stable_hash(name) % len(slots)]


def spread_windows(consumers: Sequence[tuple[str, int]]) -> dict[str, WindowSlot]:
    """A slot for each (name, window hours): its hashed slot, or the next free one after it.

    Consumers deployed together never share a slot while free slots remain (588 with 4-hour
    windows); beyond that each goes to the next least-used slot. Names are taken in sorted
    order, so the result depends on the set of consumers, not on the order of the list.
    Linear in the number of consumers (times the 672 slots at most): 5,000 take well under
    a second.
    """
    used = [0] * (DEFAULT_CADENCE_LAST_DAY * 24)
    chosen: dict[str, WindowSlot] = {}
    for name, window_hours in sorted(consumers):
        slots, indices = _slots(window_hours), _slot_indices(window_hours)
        start = _stable_hash(name) % len(slots)
        least = min(map(used.__getitem__, indices))
        for offset in range(len(slots)):
            position = (start + offset) % len(slots)
            if used[indices[position]] == least:
                break
        used[indices[position]] += 1
        chosen[name] = slots[position]
    return chosen


# Cached with the slots: the scan for the least-used slot reads every slot's count once per
# consumer (588 slots with 4-hour windows), so their positions are computed once.
@functools.cache
def _slot_indices(window_hours: int) -> tuple[int, ...]:
    """``_index`` of each of ``_slots(window_hours)``, in the same order."""
    return tuple(_index(slot) for slot in _slots(window_hours))


def with_slot(rotation: RotationSchedule, slot: WindowSlot) -> RotationSchedule:
    """The default cadence made concrete: the monthly cron of ``slot``."""
    if not rotation.is_default:
        raise ValueError(f"{rotation!r} is not the default cadence; it keeps its own schedule")
    if slot.hour + rotation.window_hours > 24 or not 1 <= slot.day <= DEFAULT_CADENCE_LAST_DAY:
        raise ValueError(f"{slot!r} does not fit a {rotation.window} window before midnight UTC")
    return replace(rotation, expression=slot.expression)


def sweep_expression(name: str) -> str:
    """The hourly sweep of one consumer, at a minute its name hashes to: a fleet's sweeps are
    spread over the hour, and each runs exactly hourly (the grace check counts on that)."""
    return f"cron({_stable_hash(f'sweep:{name}') % 60} * * * ? *)"


def rotation_schedule(
    *,
    days: object,
    expression: object,
    window: object,
    days_field: str,
    expression_field: str,
    window_field: str,
) -> RotationSchedule:
    """Validate one consumer's schedule. With neither ``days`` nor ``expression`` it is the
    default monthly cadence (``is_default``), whose day and hour ``with_slot`` sets later.

    Raises a ValueError naming the field (as the caller calls it), the value and the fix.
    """
    if days is not None and expression is not None:
        raise ValueError(
            f"{days_field} and {expression_field}: both are set ({days!r} and {expression!r});"
            " keep only one"
        )
    window_hours = _window_hours(window, window_field)
    if days is None and expression is None:
        return RotationSchedule(
            days=None,
            expression=None,
            window=str(window),
            shortest_gap_hours=MONTHLY_GAP_HOURS - window_hours,
        )
    if expression is None:
        rotation_days = days
        if isinstance(rotation_days, int | float) and rotation_days > MAX_ROTATION_DAYS:
            raise ValueError(f"{days_field}: {days!r} {rotation_too_slow(rotation_days)}")
        if (
            isinstance(rotation_days, bool)
            or not isinstance(rotation_days, int)
            or not 1 <= rotation_days <= MAX_ROTATION_DAYS
        ):
            raise ValueError(
                f"{days_field}: {days!r} is not a whole number of days from 1 to "
                f"{MAX_ROTATION_DAYS}"
            )
        interval, latest_start = rotation_days * 24, 0
    elif isinstance(expression, str) and expression.startswith("rate("):
        rotation_days = None
        interval, latest_start = _rate_hours(expression, expression_field), 0
    elif isinstance(expression, str) and expression.startswith("cron("):
        rotation_days = None
        interval, latest_start = _cron_gap_and_latest_hour(expression, expression_field)
    else:
        raise ValueError(
            f"{expression_field}: {expression!r} is neither a rate() nor a cron() expression; "
            f"{_RATE_HELP}; or {_CRON_HELP}"
        )

    if latest_start + window_hours > 24:
        raise ValueError(
            f"{window_field}: {window!r} from {latest_start}:00 UTC runs past midnight UTC, which"
            f" Secrets Manager refuses; use at most {24 - latest_start}h"
        )
    if window_hours > interval:
        raise ValueError(
            f"{window_field}: {window!r} is longer than the {interval} h between rotations, so"
            f" windows would overlap; use at most {interval}h"
        )
    return RotationSchedule(
        days=rotation_days,
        expression=expression if isinstance(expression, str) else None,
        window=str(window),
        shortest_gap_hours=interval - window_hours,
    )


def check_grace_fits(
    grace_hours: float, schedule: RotationSchedule, *, grace_field: str, schedule_field: str
) -> None:
    """Refuse a grace period the next rotation could cut short.

    Two rotations can come ``shortest_gap_hours`` apart (a rotation late in its window, the
    next early in its own), and the hourly sweep retires the previous key up to an hour after
    its grace ends. If the next rotation can come first, the user would need a third key.
    """
    room = schedule.shortest_gap_hours - SWEEP_INTERVAL_HOURS
    if grace_hours > room:
        raise ValueError(
            f"{grace_field}: {grace_hours:g} h is longer than {schedule_field} allows: two"
            f" rotations can come {schedule.shortest_gap_hours} h apart (window included) and"
            f" the hourly sweep needs {SWEEP_INTERVAL_HOURS} h, so the previous key would"
            f" still be in its grace when the next key is minted; use at most {max(room, 0)} h"
            " of grace, or rotate less often"
        )


def _window_hours(window: object, field: str) -> int:
    match = _WINDOW.fullmatch(window) if isinstance(window, str) else None
    if match is None or not 1 <= int(match["hours"]) <= 24:
        raise ValueError(
            f"{field}: {window!r} is not a rotation window; write whole hours from 1h to 24h,"
            f" e.g. {DEFAULT_ROTATION_WINDOW!r}"
        )
    return int(match["hours"])


def _rate_hours(expression: str, field: str) -> int:
    match = _RATE.fullmatch(expression)
    if match is None:
        raise ValueError(f"{field}: {expression!r} is not a valid rate expression; {_RATE_HELP}")
    hours = int(match["value"]) * (24 if match["unit"].startswith("day") else 1)
    if hours > MAX_ROTATION_HOURS:
        raise ValueError(f"{field}: {expression!r} {rotation_too_slow(hours / 24)}")
    if hours < MIN_ROTATION_HOURS:
        raise ValueError(
            f"{field}: {expression!r} rotates every {hours} h; Secrets Manager needs at least"
            f" {MIN_ROTATION_HOURS} h; {_RATE_HELP}"
        )
    return hours


# AWS's own list ("Schedule expressions in Secrets Manager rotation", Cron expressions table):
# Day-of-month takes the wildcards ", - * ? / L", Day-of-week "# , - * ? / L". Neither lists W
# (nearest weekday) nor LW, which EventBridge's cron has: Secrets Manager refuses them, so this
# parser does too, for the stack's config and the policy pack alike.
@dataclass(frozen=True)
class _DaySpec:
    """Which days a cron fires on: a day-of-month or a day-of-week rule (the other is ?)."""

    months: frozenset[int]
    month_days: tuple[int, ...] | None  # None: day-of-month is ?; else in order
    last_day_of_month: bool
    weekdays: frozenset[int] | None  # None: day-of-week is ? (1 = SUN ... 7 = SAT)
    nth_weekday: tuple[int, int] | None  # (weekday, n): "2#1", first Monday
    last_weekday: int | None  # "6L": last Friday of the month

    def days_in(self, month: _Month) -> list[int]:
        """The days of one month it fires on, in order (a month at a time, not a day at a
        time: the simulation spans 29 years)."""
        if month.month not in self.months:
            return []
        if self.last_day_of_month:
            return [month.length]
        if self.month_days is not None:
            return [day for day in self.month_days if day <= month.length]
        if self.nth_weekday is not None:
            wanted, nth = self.nth_weekday
            day = 1 + (wanted - month.first_weekday) % 7 + 7 * (nth - 1)
            return [day] if day <= month.length else []
        if self.last_weekday is not None:
            return [month.length - (month.weekday(month.length) - self.last_weekday) % 7]
        weekdays = self.weekdays or frozenset()
        return [day for day in range(1, month.length + 1) if month.weekday(day) in weekdays]


@dataclass(frozen=True)
class _Month:
    """One month of the simulation: what a day rule needs to know of it."""

    month: int
    length: int
    first_weekday: int  # of day 1; cron numbering, SUN=1..SAT=7
    offset: int  # days from the simulation's start to day 1 (negative if before it)

    def weekday(self, day: int) -> int:
        return (self.first_weekday + day - 2) % 7 + 1


@functools.cache
def _months(start: date, count: int) -> tuple[_Month, ...]:
    """The months that hold the ``count`` days from ``start``, built once per span."""
    end = start + timedelta(days=count)
    return tuple(
        _Month(
            month=month,
            length=calendar.monthrange(year, month)[1],
            first_weekday=date(year, month, 1).isoweekday() % 7 + 1,
            offset=date(year, month, 1).toordinal() - start.toordinal(),
        )
        for year in range(start.year, end.year + 1)
        for month in range(1, 13)
    )


@dataclass(frozen=True)
class CronRule:
    """A cron() Secrets Manager accepts: the hours of the day and the days it fires on."""

    hours: tuple[int, ...]
    days: _DaySpec

    def firing_days(self, start: date, count: int) -> list[int]:
        """Offsets from ``start`` of the days it fires on, among the ``count`` days from it."""
        return [
            offset
            for month in _months(start, count)
            for day in self.days.days_in(month)
            if 0 <= (offset := month.offset + day - 1) < count
        ]

    def firing_hours(self, start: date, count: int) -> list[int]:
        """Hours since ``start`` 00:00 UTC at which it opens a rotation window."""
        return [
            offset * 24 + hour for offset in self.firing_days(start, count) for hour in self.hours
        ]


@dataclass(frozen=True)
class CronFigures:
    """What the stack's config and the policy pack both read off a cron()."""

    shortest_gap_hours: int  # between two window openings
    longest_gap_days: int  # between two firing days: a quarterly cron can wait 92 days
    latest_hour: int  # the latest hour of day a window opens


def _cron_gap_and_latest_hour(expression: str, field: str) -> tuple[int, int]:
    """Shortest gap in hours between two firings, and the latest hour of day it fires."""
    try:
        figures = cron_figures(expression)
        if figures.longest_gap_days > MAX_ROTATION_DAYS:
            raise ValueError(rotation_too_slow(figures.longest_gap_days))
        if figures.shortest_gap_hours < MIN_ROTATION_HOURS:
            raise ValueError(
                f"can rotate {figures.shortest_gap_hours} h apart; Secrets Manager needs at"
                f" least {MIN_ROTATION_HOURS} h between rotations"
            )
    except ValueError as error:
        raise ValueError(f"{field}: {expression!r} {error}") from None
    return figures.shortest_gap_hours, figures.latest_hour


# Cached: a stack's consumers share at most a few hundred slot crons, each simulated over 29
# years; uncached, 1,000 consumers spent 2 s of the program here.
@functools.lru_cache(maxsize=4096)
def cron_figures(expression: str) -> CronFigures:
    """Gaps and latest hour of a ``cron(...)``, simulated over every calendar there is.

    The one cron simulator: the stack's config (``rotation_schedule``) and the policy pack
    (``policy/guardrails.py``) both read their figures here, and tests/cron_corpus.json holds
    them to the same answers. Raises a ValueError (without the field name) for an expression
    Secrets Manager refuses or that never fires twice; the limits (at most 90 days, at least
    4 hours) are each caller's to apply.
    """
    rule = parse_cron(expression)
    firing_days = rule.firing_days(_SIMULATION_START, _SIMULATION_DAYS)
    if len(firing_days) < 2:
        raise ValueError(f"never fires twice; {_CRON_HELP}")
    firings = [offset * 24 + hour for offset in firing_days for hour in rule.hours]
    return CronFigures(
        shortest_gap_hours=min(later - earlier for earlier, later in itertools.pairwise(firings)),
        longest_gap_days=max(later - earlier for earlier, later in itertools.pairwise(firing_days)),
        latest_hour=max(rule.hours),
    )


@functools.lru_cache(maxsize=4096)
def parse_cron(expression: str) -> CronRule:
    """Read a ``cron(...)`` as Secrets Manager does; a ValueError says what is wrong."""
    match = _CRON.fullmatch(expression)
    fields = match["fields"].split(" ") if match else []
    if len(fields) != 6:
        raise ValueError(f"does not have 6 space-separated fields; {_CRON_HELP}")
    minutes, hours_text, dom, month_text, dow, year = fields

    def bad(part: str, why: str) -> ValueError:
        return ValueError(f"has {why} ({part!r}); {_CRON_HELP}")

    if minutes != "0":
        raise bad(minutes, "minutes other than 0")
    if year != "*":
        raise bad(year, "a year other than *")
    if (dom == "?") == (dow == "?"):
        raise bad(f"{dom} {dow}", "? in neither or both day fields")
    try:
        hours = tuple(sorted(_values(hours_text, 0, 23, ())))
        spec = _DaySpec(
            months=_values(month_text, 1, 12, _MONTHS),
            month_days=None if dom in ("?", "L") else tuple(sorted(_values(dom, 1, 31, ()))),
            last_day_of_month=dom == "L",
            weekdays=None,
            nth_weekday=None,
            last_weekday=None,
        )
        if dom == "?":
            spec = _with_weekday_rule(spec, dow)
    except ValueError as error:
        raise bad(str(error), "a field out of range or malformed") from None
    return CronRule(hours=hours, days=spec)


def _with_weekday_rule(spec: _DaySpec, dow: str) -> _DaySpec:
    nth = re.fullmatch(r"([1-7A-Z]{1,3})#([1-5])", dow)
    last = re.fullmatch(r"([1-7A-Z]{1,3})L", dow)
    if nth:
        weekday = _value(nth[1], 1, 7, _WEEKDAYS)
        return replace(spec, nth_weekday=(weekday, int(nth[2])))
    if last:
        return replace(spec, last_weekday=_value(last[1], 1, 7, _WEEKDAYS))
    if dow == "L":
        return replace(spec, weekdays=frozenset({7}))
    return replace(spec, weekdays=_values(dow, 1, 7, _WEEKDAYS))


def _values(text: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    """Values of one cron field: lists of *, N, N-M, with an optional /step."""
    values: set[int] = set()
    for term in text.split(","):
        base, _, step_text = term.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(term)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, _, last_text = base.partition("-")
            first, last = _value(first_text, low, high, names), _value(last_text, low, high, names)
            if first > last:
                raise ValueError(term)
        else:
            first = _value(base, low, high, names)
            last = high if step else first
        values.update(range(first, last + 1, step or 1))
    return frozenset(values)


def _value(text: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if text.upper() in names:
        return names.index(text.upper()) + low
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(text)
    return int(text)
