"""Secrets Manager reads and added latency per 10,000 credential uses, three ways.

Usage: ``python bench/client.py [--uses N] [--window-seconds S] [--window-run-seconds D]``.

A "credential use" is obtaining the access key pair that signs ONE AWS call, in the form
botocore's signer needs it (access key id + secret access key). The same definition for all:
- ``credrot.client``: ``session.get_credentials().get_frozen_credentials()``, exactly what
  botocore's signer calls for every request of a credrot session;
- naive: ``json.loads(GetSecretValue(AWSCURRENT)["SecretString"])`` for every call;
- aws-secretsmanager-caching: ``json.loads(SecretCache.get_secret_string(arn))`` with
  ``SecretCacheConfig(secret_refresh_interval=...)`` set to the same window as credrot's.

All three read a consumer's secret in credrot's embedded emulator (moto's server over HTTP
on 127.0.0.1, IAM authentication on) as the app's reader identity, each with its own
Secrets Manager client whose GetSecretValue and DescribeSecret calls are counted with
``before-call`` hooks. Two runs:
1. ``--uses`` uses (default 10,000) in one thread, well inside one refresh window (900 s,
   credrot's default): reads and the time spent obtaining credentials (the added latency);
2. 4 threads using credentials for ``--window-run-seconds`` with a short window: reads per
   refresh window elapsed (the target: credrot makes at most 1 GetSecretValue per window).
3. A fleet: ``--fleet`` sessions (default 100) started together, each with its own client,
   used on a simulated clock for ``--fleet-windows`` windows: the re-reads (every read but
   each session's first, made when the app starts) counted per tenth of a window. The figure
   is the peak-to-mean ratio of those counts (target <= 1.5), for credrot as it is and for
   the same sessions without jitter (lockstep, the behaviour before it).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import _bootstrap  # noqa: F401  (the repository root on sys.path; see bench/_bootstrap.py)
from aws_secretsmanager_caching import SecretCache, SecretCacheConfig

import credrot.app.client
from bench.common import (
    Check,
    Table,
    median,
    percentile,
    sealed_aws,
    write_results,
)
from credrot.app.client import SecretCredentials
from credrot.app.secret import CURRENT, DEFAULT_REFRESH_SECONDS
from credrot.client import session
from credrot.sandbox.emulator import Emulator
from credrot.sandbox.provision import Consumer, provision_consumer

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient

APPROACHES = ("credrot.client", "naive GetSecretValue", "aws-secretsmanager-caching")
THREADS = 4
# As botocore holds it (ReadOnlyCredentials): access key id, secret access key.
KeyPair = tuple[str | None, str | None]


class CallCounter:
    """Counts a client's Secrets Manager reads (botocore before-call hooks)."""

    def __init__(self, client: SecretsManagerClient) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.secrets-manager.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1


@dataclass
class UseRun:
    """One approach in one run: how many uses, how long each took, what it read."""

    approach: str
    uses: int = 0
    seconds: float = 0.0  # wall time of the run
    use_seconds: list[float] = field(default_factory=list)  # single-thread run only
    calls: Counter[str] = field(default_factory=Counter)
    windows: int = 0
    wrong_keys: int = 0


def make_use(
    approach: str, emulator: Emulator, consumer: Consumer, window: float
) -> tuple[Callable[[], KeyPair], CallCounter]:
    """A function performing one credential use with ``approach``, and its read counter."""
    client: SecretsManagerClient = emulator.client("secretsmanager", consumer.reader)
    counter = CallCounter(client)
    arn = consumer.secret_arn
    if approach == "credrot.client":
        credentials = session(
            arn, refresh_seconds=window, region_name=emulator.region, secrets_client=client
        ).get_credentials()
        assert credentials is not None  # a credrot session always carries its credentials

        def use_credrot() -> KeyPair:
            frozen = credentials.get_frozen_credentials()
            return frozen.access_key, frozen.secret_key

        return use_credrot, counter
    if approach == "naive GetSecretValue":

        def use_naive() -> KeyPair:
            value = json.loads(
                client.get_secret_value(SecretId=arn, VersionStage=CURRENT)["SecretString"]
            )
            return value["AccessKeyId"], value["SecretAccessKey"]

        return use_naive, counter
    cache = SecretCache(
        config=SecretCacheConfig(secret_refresh_interval=max(1, round(window))), client=client
    )

    def use_cache() -> KeyPair:
        value = json.loads(cache.get_secret_string(arn))
        return value["AccessKeyId"], value["SecretAccessKey"]

    return use_cache, counter


def run_uses(approach: str, emulator: Emulator, consumer: Consumer, uses: int) -> UseRun:
    """``uses`` credential uses in one thread, each timed; one refresh window (default)."""
    use, counter = make_use(approach, emulator, consumer, DEFAULT_REFRESH_SECONDS)
    expected = _current_key(emulator, consumer)
    run = UseRun(approach, uses=uses)
    started = time.perf_counter()
    for _ in range(uses):
        before = time.perf_counter()
        pair = use()
        run.use_seconds.append(time.perf_counter() - before)
        if pair[0] != expected:
            run.wrong_keys += 1
    run.seconds = time.perf_counter() - started
    run.calls = counter.calls
    run.windows = math.ceil(run.seconds / DEFAULT_REFRESH_SECONDS)
    return run


def run_windows(
    approach: str, emulator: Emulator, consumer: Consumer, window: float, duration: float
) -> UseRun:
    """THREADS threads using credentials for ``duration`` seconds with a ``window`` refresh."""
    use, counter = make_use(approach, emulator, consumer, window)
    stop = threading.Event()
    barrier = threading.Barrier(THREADS + 1)
    counts = [0] * THREADS
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        barrier.wait()
        while not stop.is_set():
            try:
                use()
            except BaseException as error:  # reported below
                errors.append(error)
                return
            counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(duration)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{approach}: a credential use failed: {errors[0]!r}")
    run = UseRun(approach, uses=sum(counts), seconds=elapsed, calls=counter.calls)
    run.windows = math.ceil(elapsed / window)
    return run


@dataclass
class FleetRun:
    """Re-reads of a fleet of sessions, per tenth of a refresh window."""

    label: str
    sessions: int
    windows: int
    per_tenth: list[int]

    @property
    def peak_to_mean(self) -> float:
        mean = sum(self.per_tenth) / len(self.per_tenth)
        return max(self.per_tenth) / mean if mean else math.inf


class _SimulatedClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment


def run_fleet(
    emulator: Emulator, consumer: Consumer, sessions: int, windows: int, *, jitter: bool
) -> FleetRun:
    """``sessions`` sessions started together, stepped through ``windows`` windows of a
    simulated clock (reads are real GetSecretValue calls to the emulator)."""
    window = 900.0
    clock = _SimulatedClock()
    start = clock.moment
    reads_at: list[datetime] = []
    fleet = []
    for _ in range(sessions):
        client: SecretsManagerClient = emulator.client("secretsmanager", consumer.reader)
        client.meta.events.register(
            "before-call.secrets-manager.GetSecretValue",
            lambda **_: reads_at.append(clock.moment),
        )
        fleet.append(SecretCredentials(consumer.secret_arn, client, window, time_fetcher=clock))
    lockstep = None if jitter else (lambda seconds, draw, first: seconds)
    original = credrot.app.client.refresh_delay
    credrot.app.client.refresh_delay = lockstep or original
    try:
        for credentials in fleet:
            credentials.get_frozen_credentials()
        first_reads = len(reads_at)
        steps = windows * 100
        for _ in range(steps):
            clock.moment += timedelta(seconds=window / 100)
            for credentials in fleet:
                credentials.get_frozen_credentials()
    finally:
        credrot.app.client.refresh_delay = original
    per_tenth = [0] * (windows * 10)
    for moment in reads_at[first_reads:]:
        index = int((moment - start).total_seconds() / (window / 10))
        per_tenth[min(index, len(per_tenth) - 1)] += 1
    label = "credrot.client (jitter)" if jitter else "same sessions without jitter (lockstep)"
    return FleetRun(label, sessions, windows, per_tenth)


def _current_key(emulator: Emulator, consumer: Consumer) -> str:
    sm: SecretsManagerClient = emulator.client("secretsmanager")
    value = json.loads(
        sm.get_secret_value(SecretId=consumer.secret_arn, VersionStage=CURRENT)["SecretString"]
    )
    key_id: str = value["AccessKeyId"]
    return key_id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="GetSecretValue calls and added latency per 10,000 credential uses:"
        " credrot.client vs naive GetSecretValue vs aws-secretsmanager-caching (emulator).",
        epilog="Prints two tables and writes bench/results/client.json.",
    )
    for flag, kind, default, text in (
        ("--uses", int, 10_000, "uses per approach (default 10000)"),
        ("--window-seconds", float, 1.0, "short refresh window of run 2 (default 1)"),
        ("--window-run-seconds", float, 6.0, "duration of run 2 (default 6)"),
        ("--fleet", int, 100, "sessions started together in run 3 (default 100)"),
        ("--fleet-windows", int, 6, "refresh windows of run 3 (default 6)"),
    ):
        parser.add_argument(flag, type=kind, default=default, help=text)
    args = parser.parse_args(argv)
    if args.fleet < 1 or args.fleet_windows < 1:
        parser.error("--fleet >= 1, --fleet-windows >= 1")
    if args.uses < 1 or args.window_seconds <= 0 or args.window_run_seconds < args.window_seconds:
        parser.error("--uses >= 1, --window-seconds > 0, --window-run-seconds >= --window-seconds")

    with sealed_aws(), Emulator() as emulator:
        consumer = provision_consumer(emulator, "client-bench")
        emulator.enable_iam_authentication()
        uses = [run_uses(approach, emulator, consumer, args.uses) for approach in APPROACHES]
        windows = [
            run_windows(approach, emulator, consumer, args.window_seconds, args.window_run_seconds)
            for approach in APPROACHES
            if approach != "naive GetSecretValue"
        ]
        fleets = [
            run_fleet(emulator, consumer, args.fleet, args.fleet_windows, jitter=jitter)
            for jitter in (True, False)
        ]

    first = Table(
        f"Per {args.uses:,} credential uses (1 thread, within one"
        f" {DEFAULT_REFRESH_SECONDS:g} s refresh window)",
        [
            "approach",
            "GetSecretValue",
            "DescribeSecret",
            "added latency",
            "median us/use",
            "p99 us/use",
            "max ms/use",
            "target",
            "met?",
        ],
    )
    for run in uses:
        reads = run.calls["GetSecretValue"]
        target = verdict = ""
        if run.approach == "credrot.client":
            target = "<= 1 GetSecretValue / window"
            verdict = "yes" if reads <= run.windows else "NO"
        first.add(
            run.approach,
            reads,
            run.calls["DescribeSecret"],
            f"{run.seconds * 1000:,.0f} ms",
            f"{median(run.use_seconds) * 1e6:.1f}",
            f"{percentile(run.use_seconds, 0.99) * 1e6:.1f}",
            f"{max(run.use_seconds) * 1000:.1f}",
            target,
            verdict,
        )
    first.notes.append(
        "credential use = obtaining the key pair that signs one AWS call (credrot:"
        " get_credentials().get_frozen_credentials(), as botocore's signer does; naive:"
        " GetSecretValue + json; caching: SecretCache.get_secret_string + json)"
    )
    first.notes.append(
        f"added latency = total time spent obtaining credentials for {args.uses:,} calls; reads go"
        " over HTTP to the local emulator (a real endpoint adds network latency per read)"
    )
    wrong = [run.approach for run in uses if run.wrong_keys]
    if wrong:
        first.notes.append(f"WRONG KEY returned by: {', '.join(wrong)}")
    first.print()

    second = Table(
        f"Refresh windows ({THREADS} threads for {args.window_run_seconds:g} s, window"
        f" {args.window_seconds:g} s)",
        [
            "approach",
            "uses",
            "windows",
            "GetSecretValue",
            "DescribeSecret",
            "reads/window",
            "target",
            "met?",
        ],
    )
    for run in windows:
        reads = run.calls["GetSecretValue"]
        product = run.approach == "credrot.client"
        second.add(
            run.approach,
            run.uses,
            run.windows,
            reads,
            run.calls["DescribeSecret"],
            f"{(reads + run.calls['DescribeSecret']) / run.windows:.2f}",
            "<= 1 GetSecretValue / window" if product else "",
            ("yes" if reads <= run.windows else "NO") if product else "",
        )
    second.add("naive GetSecretValue", "-", "-", "1 per use", "-", "-", "", "")
    second.notes.append(
        "aws-secretsmanager-caching refreshes metadata (DescribeSecret) every 1/2-1 interval"
        " and reads a value (GetSecretValue) once per version id"
    )
    second.print()

    third = Table(
        f"A fleet of {args.fleet} sessions started together, {args.fleet_windows} windows"
        " (simulated clock, real reads): re-reads per tenth of a window",
        ["sessions", "re-reads", "mean/tenth", "peak/tenth", "peak-to-mean", "target", "met?"],
    )
    for fleet in fleets:
        product = fleet.label.startswith("credrot")
        third.add(
            fleet.label,
            sum(fleet.per_tenth),
            f"{sum(fleet.per_tenth) / len(fleet.per_tenth):.1f}",
            max(fleet.per_tenth),
            f"{fleet.peak_to_mean:.2f}",
            "<= 1.5" if product else "",
            ("yes" if fleet.peak_to_mean <= 1.5 else "NO") if product else "",
        )
    third.notes.append(
        "each session's first read (when the app starts) is not counted; the first re-read comes"
        " after a random part of the window (the sessions of one process spread evenly), later"
        " ones after the window +-20%"
    )
    third.print()

    checks = [
        Check(
            f"credrot GetSecretValue per refresh window ({label})",
            f"{run.calls['GetSecretValue']} in {run.windows} window(s)",
            "<= 1 per window",
            run.calls["GetSecretValue"] <= run.windows,
        )
        for run, label in (
            (next(r for r in uses if r.approach == "credrot.client"), f"{args.uses:,} uses"),
            (
                next(r for r in windows if r.approach == "credrot.client"),
                f"{THREADS} threads, {args.window_seconds:g} s window",
            ),
        )
    ]
    checks.append(
        Check(
            f"fleet peak-to-mean re-reads per tenth of a window ({args.fleet} sessions)",
            f"{fleets[0].peak_to_mean:.2f} (lockstep: {fleets[1].peak_to_mean:.2f})",
            "<= 1.5",
            fleets[0].peak_to_mean <= 1.5,
        )
    )
    write_results(
        "client",
        {
            "fleet": [
                {
                    "label": fleet.label,
                    "sessions": fleet.sessions,
                    "windows": fleet.windows,
                    "per_tenth_of_window": fleet.per_tenth,
                    "peak_to_mean": round(fleet.peak_to_mean, 3),
                }
                for fleet in fleets
            ],
            "definition": "one credential use = obtaining the key pair that signs one AWS call",
            "uses": args.uses,
            "per_uses": [
                {
                    "approach": run.approach,
                    "get_secret_value": run.calls["GetSecretValue"],
                    "describe_secret": run.calls["DescribeSecret"],
                    "added_latency_ms": round(run.seconds * 1000, 1),
                    "median_us_per_use": round(median(run.use_seconds) * 1e6, 2),
                    "p99_us_per_use": round(percentile(run.use_seconds, 0.99) * 1e6, 2),
                    "max_ms_per_use": round(max(run.use_seconds) * 1000, 2),
                    "wrong_keys": run.wrong_keys,
                }
                for run in uses
            ],
            "refresh_windows": {
                "threads": THREADS,
                "window_seconds": args.window_seconds,
                "run_seconds": args.window_run_seconds,
                "results": [
                    {
                        "approach": run.approach,
                        "uses": run.uses,
                        "windows": run.windows,
                        "get_secret_value": run.calls["GetSecretValue"],
                        "describe_secret": run.calls["DescribeSecret"],
                    }
                    for run in windows
                ],
            },
        },
        checks,
    )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
