"""Consumers per account-region at AWS's default quotas, shared and isolated rotators.

Usage: ``python bench/quotas.py [--consumers 10,20]``.

The resource counts are the program's own: ``__main__.py`` runs under the mock engine
(``bench/program.py``'s worker) at two sizes per mode, default configuration, and every
resource type is fitted as per stack + per consumer (the fit must be exact). Shared mode is
the default; isolated mode sets ``isolatedRotator: true`` on every consumer. Reserved
concurrency is the sum of the functions' ``reservedConcurrentExecutions``.

For each quota: consumers = floor((quota - per stack) / per consumer), one stack per
account-region; the smallest binds. IAM's quotas are per account (IAM is global): every
region's stacks share them. The quotas are AWS's defaults as documented in the service
quota pages (FIELD-NOTES.md lists them); "adjustable" says whether Service Quotas can raise
one. Prints a markdown table (the README's "Scale and quotas" section quotes it).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import _bootstrap  # noqa: F401  (the repository root on sys.path; see bench/_bootstrap.py)

from bench import program
from bench.common import Check, write_results

MODES = ("shared", "isolated")
TARGET_CONSUMERS = 5000  # the issue: one account-region holds IAM's hard limit on users
# Lambda keeps 100 of the account's concurrency unreserved.
LAMBDA_CONCURRENCY = 1000
LAMBDA_UNRESERVED_MINIMUM = 100
# How much of a quota one run uses: (resources by type, the run's figures) -> count.
Usage = Callable[[dict[str, int], dict[str, Any]], float]


@dataclass(frozen=True)
class Quota:
    """One AWS default quota and how to count what the program uses of it."""

    name: str
    scope: str
    default: int
    adjustable: str
    count: Usage


def _of(*types: str) -> Usage:
    return lambda by_type, _figures: float(sum(by_type.get(typ, 0) for typ in types))


def _reserved_concurrency(_by_type: dict[str, int], figures: dict[str, Any]) -> float:
    return float(
        sum(
            entry.get("reservedConcurrentExecutions") or 0
            for entry in figures["schedules"]
            if entry["type"] == "aws:lambda/function:Function"
        )
    )


QUOTAS = (
    Quota("IAM users", "account", 5000, "no (hard)", _of("aws:iam/user:User")),
    Quota("IAM roles", "account", 1000, "yes", _of("aws:iam/role:Role")),
    Quota("IAM customer managed policies", "account", 1500, "yes", _of("aws:iam/policy:Policy")),
    Quota(
        "EventBridge rules per event bus",
        "account-region",
        300,
        "yes",
        _of("aws:cloudwatch/eventRule:EventRule"),
    ),
    Quota(
        "EventBridge Scheduler schedules",
        "account-region",
        1_000_000,
        "yes",
        _of("aws:scheduler/schedule:Schedule"),
    ),
    Quota(
        "Secrets Manager secrets",
        "account-region",
        500_000,
        "yes",
        _of("aws:secretsmanager/secret:Secret"),
    ),
    Quota("SNS topics", "account-region", 100_000, "yes", _of("aws:sns/topic:Topic")),
    Quota(
        "Lambda concurrency reserved (1,000 less 100 kept unreserved)",
        "account-region",
        LAMBDA_CONCURRENCY - LAMBDA_UNRESERVED_MINIMUM,
        "yes",
        _reserved_concurrency,
    ),
)
# Not a count that grows with consumers, so not in the fit: shown as notes.
NOTES = (
    "Lambda resource policy (20 KB per function): shared mode adds one statement per stack"
    " (Secrets Manager, scoped by source account and the secrets' ARN prefix), not one per"
    " consumer; isolated mode gives each function its own policy",
    "no default count quota applies to metric alarms (PutMetricAlarm is rate-limited, not counted)",
)


def fit(runs: Sequence[dict[str, Any]], count: Usage) -> tuple[float, float]:
    """(per stack, per consumer) of ``count`` from the smallest and the largest run."""
    low, high = runs[0], runs[-1]
    span = high["consumers"] - low["consumers"]
    at_low, at_high = count(low["by_type"], low), count(high["by_type"], high)
    per_consumer = (at_high - at_low) / span
    per_stack = at_low - per_consumer * low["consumers"]
    return per_stack, per_consumer


def consumers_allowed(quota: int, per_stack: float, per_consumer: float) -> float:
    """Consumers one stack can hold under ``quota`` (inf when nothing grows with them)."""
    if per_consumer <= 0:
        return math.inf if per_stack <= quota else 0.0
    return float(max(0, math.floor((quota - per_stack) / per_consumer)))


def _binding(rows: Sequence[dict[str, Any]], mode: str) -> dict[str, Any]:
    """The row whose quota allows the fewest consumers in ``mode`` (the first on a tie)."""
    return min(rows, key=lambda row: float(row[mode]["consumers"]))


def _cell(per_stack: float, per_consumer: float) -> str:
    return f"{per_stack:g} + {per_consumer:g}/consumer"


def _allowed(value: float) -> str:
    return "not per consumer" if math.isinf(value) else f"{value:,.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Consumers per account-region at AWS's default quotas, by mode.",
        epilog="Prints a markdown table and writes bench/results/quotas.json.",
    )
    parser.add_argument(
        "--consumers", default="10,20", help="two sizes to fit per mode (default 10,20)"
    )
    args = parser.parse_args(argv)
    try:
        low_size, high_size = sorted(int(size) for size in args.consumers.split(","))
    except ValueError:
        parser.error(f"--consumers: {args.consumers!r} is not two integers")
    if low_size < 1 or low_size == high_size:
        parser.error("--consumers: two different positive counts")

    runs = {
        mode: [
            program.run_once(size, isolated=mode == "isolated", schedules=True)
            for size in (low_size, high_size)
        ]
        for mode in MODES
    }
    rows: list[dict[str, Any]] = []
    for quota in QUOTAS:
        row: dict[str, Any] = {
            "quota": quota.name,
            "scope": quota.scope,
            "default": quota.default,
            "adjustable": quota.adjustable,
        }
        for mode in MODES:
            per_stack, per_consumer = fit(runs[mode], quota.count)
            row[mode] = {
                "per_stack": per_stack,
                "per_consumer": per_consumer,
                "consumers": consumers_allowed(quota.default, per_stack, per_consumer),
            }
        rows.append(row)
    binding = {mode: _binding(rows, mode) for mode in MODES}

    lines = [
        "| Quota (default) | Scope | Adjustable | Shared: uses | Shared: consumers"
        " | Isolated: uses | Isolated: consumers |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [f"{row['quota']} ({row['default']:,})", row["scope"], row["adjustable"]]
        for mode in MODES:
            figures = row[mode]
            allowed = _allowed(figures["consumers"])
            if row is binding[mode]:
                allowed = f"**{allowed}** (binds)"
            cells += [_cell(figures["per_stack"], figures["per_consumer"]), allowed]
        lines.append("| " + " | ".join(cells) + " |")
    totals = {
        mode: fit(runs[mode], lambda by_type, _f: float(sum(by_type.values()))) for mode in MODES
    }
    alarms = {
        mode: fit(runs[mode], _of("aws:cloudwatch/metricAlarm:MetricAlarm")) for mode in MODES
    }
    notes = [
        "All AWS resources: "
        + "; ".join(f"{mode} {_cell(*totals[mode])}" for mode in MODES)
        + f" (fitted from {low_size} and {high_size} consumers under the mock engine).",
        "CloudWatch alarms: "
        + "; ".join(f"{mode} {_cell(*alarms[mode])}" for mode in MODES)
        + "; "
        + NOTES[1]
        + ".",
        NOTES[0] + ".",
        "Binding: "
        + "; ".join(
            f"{mode}: {binding[mode]['quota']} at {_allowed(binding[mode][mode]['consumers'])}"
            " consumers"
            for mode in MODES
        )
        + ". IAM quotas are per account, shared by every region's stacks.",
    ]
    print("Consumers per account-region at AWS default quotas (one stack)\n")
    print("\n".join(lines))
    print()
    print("\n".join(f"- {note}" for note in notes), end="\n\n", flush=True)
    shared = binding["shared"]["shared"]["consumers"]
    write_results(
        "quotas",
        {
            "sizes": [low_size, high_size],
            "rows": rows,
            "binding": {mode: binding[mode]["quota"] for mode in MODES},
            "all_resources": {
                mode: {"per_stack": a, "per_consumer": b} for mode, (a, b) in totals.items()
            },
            "markdown": "\n".join(lines),
            "notes": notes,
        },
        [
            Check(
                "shared mode: consumers per account-region at default quotas",
                f"{_allowed(shared)} ({binding['shared']['quota']})",
                f">= {TARGET_CONSUMERS:,}, IAM users binding",
                shared >= TARGET_CONSUMERS and binding["shared"]["quota"] == "IAM users",
            )
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
