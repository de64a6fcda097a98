"""Load spread: a year of rotation windows and sweeps for a fleet, against Secrets Manager's
write quota.

Usage: ``python bench/spread.py [--consumers 1000] [--rotations 3]``.

1. The schedules come from the program itself: ``__main__.py`` runs under the mock engine
   (``bench/program.py``'s worker, default configuration, N consumers) and every
   SecretRotation's ``rotationRules`` (scheduleExpression, duration) and every sweep
   schedule's expression (and flexible window) is read from the registered inputs.
2. Each rotation's windows over one year (2027) follow the cron semantics of
   ``components/schedule.py``. A ``rate()`` or ``automaticallyAfterDays`` window opens at
   midnight UTC (RotationRulesType), counted from the day the fleet was deployed: all on the
   same day, the worst case.
3. Two models of when in its window a rotation runs: (a) worst case, every rotation at its
   window's opening minute; (b) uniform over the window (expected rotations per minute).
   Peaks: per minute, per clock hour, and per window-hour (rotations whose windows open in
   the same hour, i.e. consumers sharing a window start).
4. Secrets Manager write calls per rotation are counted, not assumed: real rotations run
   through the handler in credrot's emulator (moto, a botocore ``before-call`` counter, with
   ``bench/rotation.py``'s helpers), in the steady state (the sweep retired the previous key
   after its grace, then the next rotation), and the sweep that retires a key.
   The writes in the 50-TPS bucket (not adjustable) are PutSecretValue, UpdateSecret,
   UpdateSecretVersionStage and the replication calls ("Combined rate of PutSecretValue,
   RemoveRegionsFromReplication, ReplicateSecretToRegion, StopReplicationToReplica,
   UpdateSecret, and UpdateSecretVersionStage API requests: 50 per second", Secrets
   Manager quotas). Peak write TPS: (a) every rotation of the peak minute in the same second
   (an upper bound: the reserved concurrency of the shared function caps it further);
   (b) the peak minute's expected rotations spread over its 60 seconds.
5. Sweep invocations per minute: an hourly cron at a hashed minute fires at that minute;
   a flexible window spreads each firing uniformly over it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import _bootstrap  # noqa: F401  (the repository root on sys.path; see bench/_bootstrap.py)

from bench import program, rotation
from bench.common import Check, Table, met, sealed_aws, write_results
from components import schedule
from credrot.sandbox.emulator import Emulator
from credrot.sandbox.provision import provision_consumer
from rotation_lambda.handler import lambda_handler

YEAR_START = date(2027, 1, 1)
YEAR_DAYS = 365
MINUTES = YEAR_DAYS * 24 * 60
WRITE_QUOTA_TPS = 50.0
# Secrets Manager's combined 50-TPS write bucket (RotateSecret and TagResource have their own).
WRITE_OPERATIONS = frozenset(
    {
        "PutSecretValue",
        "UpdateSecret",
        "UpdateSecretVersionStage",
        "RemoveRegionsFromReplication",
        "ReplicateSecretToRegion",
        "StopReplicationToReplica",
    }
)
ROTATION_TYPE = "aws:secretsmanager/secretRotation:SecretRotation"
_RATE = re.compile(r"rate\((?P<value>\d+) (?P<unit>hours?|days?)\)")
_SWEEP_CRON = re.compile(r"cron\((?P<minute>\d+) \* \* \* \? \*\)")


@dataclass(frozen=True)
class Window:
    """One consumer's rotation rule: when its windows open, and for how long."""

    name: str
    expression: str
    hours: int

    def openings(self) -> list[int]:
        """Minutes since YEAR_START at which this rotation's windows open in the year."""
        return [hour * 60 for hour in _firing_hours(self.expression)]


def _firing_hours(expression: str) -> list[int]:
    """Hours since YEAR_START 00:00 UTC at which ``expression`` opens a rotation window.

    cron(): the simulator of components/schedule.py, which the config and the policy pack use.
    rate(): from midnight of the deploy day (YEAR_START), every N.
    """
    rate = _RATE.fullmatch(expression)
    if rate:
        step = int(rate["value"]) * (24 if rate["unit"].startswith("day") else 1)
        return list(range(0, YEAR_DAYS * 24, step))
    return schedule.parse_cron(expression).firing_hours(YEAR_START, YEAR_DAYS)


def rotation_windows(schedules: Sequence[dict[str, Any]]) -> list[Window]:
    """The SecretRotation inputs as windows (automaticallyAfterDays as rate(N days))."""
    windows = []
    for entry in schedules:
        if entry["type"] != ROTATION_TYPE:
            continue
        rules = entry["rotationRules"]
        expression = rules.get("scheduleExpression") or (
            f"rate({int(rules['automaticallyAfterDays'])} days)"
        )
        hours = int(str(rules.get("duration") or "24h").removesuffix("h"))
        windows.append(Window(entry["name"], expression, hours))
    return windows


def sweep_minutes(schedules: Sequence[dict[str, Any]]) -> tuple[list[float], list[str]]:
    """Expected sweep invocations in each minute of the hour (0-59), and the sweeps' forms."""
    per_minute = [0.0] * 60
    forms: Counter[str] = Counter()
    for entry in schedules:
        if entry["type"] == ROTATION_TYPE or not entry.get("scheduleExpression"):
            continue
        expression = entry["scheduleExpression"]
        flexible = entry.get("flexibleTimeWindow") or {}
        spread = (
            int(flexible.get("maximumWindowInMinutes") or 0)
            if flexible.get("mode") == "FLEXIBLE"
            else 0
        )
        cron = _SWEEP_CRON.fullmatch(expression)
        # rate(1 hour) counts from creation: a fleet deployed together fires in one minute.
        minute = int(cron["minute"]) if cron else 0
        forms[
            f"{'hashed-minute cron' if cron else expression}"
            f"{f', flexible {spread} min' if spread else ', no flexible window'}"
        ] += 1
        for offset in range(max(spread, 1)):
            per_minute[(minute + offset) % 60] += 1 / max(spread, 1)
    return per_minute, [f"{count} x {form}" for form, count in sorted(forms.items())]


def simulate(windows: Sequence[Window]) -> dict[str, float]:
    """Peak rotations per minute, per clock hour and per window-hour, both models."""
    opening = [0] * MINUTES  # (a): rotations at each minute
    uniform_delta = [0.0] * (MINUTES + 1)  # (b): expected rate, as a difference array
    starts: Counter[int] = Counter()  # window openings per clock hour
    for window in windows:
        length = window.hours * 60
        for minute in window.openings():
            opening[minute] += 1
            uniform_delta[minute] += 1 / length
            uniform_delta[min(minute + length, MINUTES)] -= 1 / length
            starts[minute // 60] += 1
    uniform = []
    rate = 0.0
    for minute in range(MINUTES):
        rate += uniform_delta[minute]
        uniform.append(rate)
    hours = MINUTES // 60
    return {
        "rotations_in_year": sum(opening),
        "a_peak_per_minute": max(opening),
        "a_peak_per_hour": max(sum(opening[h * 60 : h * 60 + 60]) for h in range(hours)),
        "b_peak_per_minute": max(uniform),
        "b_peak_per_hour": max(sum(uniform[h * 60 : h * 60 + 60]) for h in range(hours)),
        "peak_per_window_hour": max(starts.values()),
        "busiest_day_rotations": max(
            sum(opening[d * 1440 : d * 1440 + 1440]) for d in range(YEAR_DAYS)
        ),
    }


def write_calls(rotations: int) -> tuple[float, dict[str, float], float, dict[str, int]]:
    """Write calls per rotation by operation, and per sweep that retires a key.

    The steady state AWS sees: two keys, the sweep retires the previous one after its grace
    (here zero), then the next rotation. bench/rotation.py's helpers run both through the
    real handler in the emulator, whose botocore ``before-call`` hook counts every call.
    """
    by_operation: Counter[str] = Counter()
    sweep_calls: Counter[str] = Counter()
    with sealed_aws(), Emulator(handler=lambda_handler) as emulator:
        consumer = provision_consumer(emulator, "spread-app")  # rotates once: one key
        emulator.enable_iam_authentication()
        sm = emulator.client("secretsmanager")
        rotation._rotate(emulator, sm, consumer)  # two keys: steady state from here on
        for _ in range(rotations):
            sweep_calls = rotation._retire_previous_key(emulator, consumer, "rotation_lambda")
            _seconds, invocations, problem = rotation._rotate(emulator, sm, consumer)
            if problem:
                raise RuntimeError(f"a measured rotation failed: {problem}")
            for invocation in invocations:
                for call, count in invocation.api_calls.items():
                    service, _, operation = call.partition(":")
                    if service == "secretsmanager" and operation in WRITE_OPERATIONS:
                        by_operation[operation] += count
    per_rotation = {op: n / rotations for op, n in sorted(by_operation.items())}
    sweep_writes = {
        call.partition(":")[2]: n
        for call, n in sorted(sweep_calls.items())
        if call.startswith("secretsmanager:") and call.partition(":")[2] in WRITE_OPERATIONS
    }
    return (
        sum(per_rotation.values()),
        per_rotation,
        float(sum(sweep_writes.values())),
        sweep_writes,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Peak rotations and Secrets Manager write TPS for a fleet over a year.",
        epilog="Prints tables and writes bench/results/spread.json.",
    )
    parser.add_argument("--consumers", type=int, default=1000, help="fleet size (default 1000)")
    parser.add_argument(
        "--rotations",
        type=int,
        default=3,
        help="real rotations to count write calls (default 3)",
    )
    args = parser.parse_args(argv)
    if args.consumers < 1 or args.rotations < 1:
        parser.error("--consumers and --rotations: at least 1")

    figures = program.run_once(args.consumers, schedules=True)
    windows = rotation_windows(figures["schedules"])
    if len(windows) != args.consumers:
        raise RuntimeError(f"{len(windows)} rotations registered for {args.consumers} consumers")
    peaks = simulate(windows)
    sweeps, sweep_forms = sweep_minutes(figures["schedules"])
    writes, writes_by_op, sweep_writes, sweep_by_op = write_calls(args.rotations)
    a_tps = peaks["a_peak_per_minute"] * writes  # the peak minute's rotations in one second
    b_tps = peaks["b_peak_per_minute"] * writes / 60
    sweep_tps = max(sweeps) * sweep_writes  # busy sweeps of one minute in one second
    distinct = Counter(f"{w.expression} {w.hours}h" for w in windows)

    table = Table(
        f"Rotation load, {args.consumers} consumers (default config), one year from {YEAR_START}",
        [
            "model",
            "peak / minute",
            "peak / hour",
            "peak / window-hour",
            "write TPS",
            "quota",
            "met?",
        ],
    )
    table.add(
        "(a) at the window's opening minute",
        peaks["a_peak_per_minute"],
        peaks["a_peak_per_hour"],
        peaks["peak_per_window_hour"],
        f"{a_tps:.1f}",
        f"{WRITE_QUOTA_TPS:g}",
        met(a_tps, WRITE_QUOTA_TPS),
    )
    table.add(
        "(b) uniform within the window",
        f"{peaks['b_peak_per_minute']:.3f}",
        f"{peaks['b_peak_per_hour']:.2f}",
        peaks["peak_per_window_hour"],
        f"{b_tps:.3f}",
        f"{WRITE_QUOTA_TPS:g}",
        met(b_tps, WRITE_QUOTA_TPS),
    )
    table.notes += [
        f"{peaks['rotations_in_year']:.0f} rotations in the year, at most"
        f" {peaks['busiest_day_rotations']:.0f} on one day; {len(distinct)} distinct windows"
        f" among {len(windows)} consumers (e.g. {next(iter(distinct))})",
        f"write calls per rotation (counted over {args.rotations} real rotations):"
        f" {writes:g} = "
        + ", ".join(f"{op} {n:g}" for op, n in writes_by_op.items())
        + "; (a) puts the peak minute's rotations in one second, (b) spreads the peak"
        " minute's expected rotations over 60 s",
    ]
    sweep_table = Table(
        "Sweep schedules (RetirePreviousKey, hourly per consumer)",
        ["figure", "value"],
    )
    sweep_table.add("invocations per hour", f"{sum(sweeps):.0f}")
    sweep_table.add("peak invocations per minute", f"{max(sweeps):.1f}")
    sweep_table.add("mean invocations per minute", f"{sum(sweeps) / 60:.1f}")
    sweep_table.add(
        "write calls per sweep that retires a key",
        f"{sweep_writes:g}" + (f" ({sweep_by_op})" if sweep_by_op else ""),
    )
    sweep_table.add(
        "write TPS if a peak minute's sweeps all retire in one second", f"{sweep_tps:g}"
    )
    sweep_table.notes += sweep_forms
    table.print()
    sweep_table.print()
    write_results(
        "spread",
        {
            "consumers": args.consumers,
            "year_start": str(YEAR_START),
            "distinct_windows": len(distinct),
            **peaks,
            "writes_per_rotation": writes,
            "writes_per_rotation_by_operation": writes_by_op,
            "write_tps_a": a_tps,
            "write_tps_b": b_tps,
            "write_quota_tps": WRITE_QUOTA_TPS,
            "sweep_invocations_per_minute": sweeps,
            "sweep_writes": sweep_writes,
            "sweep_forms": sweep_forms,
        },
        [
            Check(
                f"{args.consumers} consumers: peak SM write TPS, (a) opening minute, one second",
                f"{a_tps:.1f}",
                f"<= {WRITE_QUOTA_TPS:g}",
                a_tps <= WRITE_QUOTA_TPS,
            ),
            Check(
                f"{args.consumers} consumers: peak rotations per window-hour",
                f"{peaks['peak_per_window_hour']:.0f}",
                "spread (not all in one hour)",
                peaks["peak_per_window_hour"] < args.consumers,
            ),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
