"""The Pulumi program (``__main__.py``) under Pulumi's mock engine, for 100 to 5,000 consumers.

Usage: ``python bench/program.py [--consumers 100,1000,5000] [--repeats 1]``.

Each size runs in a fresh subprocess (this script with ``--worker N``), so the figures are
independent: Pulumi's runtime state, imports and memory start from nothing every time. The
worker imports Pulumi, the pulumi_aws modules the program uses and components/ (imports
are not the program's work, and uv installs no bytecode, so they would compile from source
inside the clock), sets the mocks, generates N consumers (one read path, one write path
each) as the ``ai-credential-rotation:consumers`` config, runs ``__main__.py`` with ``runpy``
under ``@pulumi.runtime.test`` (which waits for every registration) and reports:

- AWS resources registered (``aws:`` types; the component resources are counted apart as
  registrations), by type, and the fit resources = a + b * consumers (a: per stack,
  b: per consumer), which must be exact;
- program time: from ``set_mocks`` until every resource is registered, as wall time and as
  the process's CPU time (user + system, all threads); process wall time (the subprocess as
  the parent sees it: interpreter and imports included);
- peak memory: ``ru_maxrss`` of the worker;
- at 1,000 consumers, three more runs: the program without the stack-trace cache and
  without either setting of components/runtime_tuning.py (what each one saves), and the
  SDK's floor (as many bare registrations, tuned as the program is).

The mocks keep only what the figures need: a count by type (and, for bench/spread.py and
bench/quotas.py, a few inputs of the schedules and functions: ``RECORDED_INPUTS``). Outputs
echo the inputs plus a name, an id and an ARN, as a provider's would; that echo costs under
2 % of the program time.

Targets, at 1,000 consumers: peak RSS <= 500 MB and program time (wall) <= 20 s; and
linear growth: the marginal CPU time per consumer over the two spans (100 -> 1,000 and
1,000 -> 5,000 by default) agrees within 40 % (repeated runs on this shared 2-core machine
vary by about 20 %; a quadratic term that is half the time at the top size gives +56 %),
and the resource count is exactly linear. A size that does not finish within
``--timeout`` seconds or within ``--memory-limit-mb`` of heap is reported as such, with
the limit it hit.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import runpy
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _bootstrap  # noqa: F401  (the repository root on sys.path; see bench/_bootstrap.py)

from bench.common import (
    ROOT,
    Check,
    Table,
    linear_fit,
    met,
    run_python,
    write_results,
)

PROJECT = "ai-credential-rotation"
STACK = "bench"
ACCOUNT = "123456789012"
REGION = "us-east-1"
SIZES = (100, 1000, 5000)
TARGET_SIZE = 1000
MAX_PEAK_RSS_MB = 500.0
MAX_PROGRAM_SECONDS = 20.0
# Marginal CPU time per consumer may differ between two spans by this much and be "linear"
# (measurement noise here is ~20 %; a quadratic half of the time at the top gives +56 %).
LINEARITY_TOLERANCE = 0.4
DEFAULT_TIMEOUT_SECONDS = 1800.0
DEFAULT_MEMORY_LIMIT_MB = 8192
# Services whose pulumi_aws modules the program uses; imported before the clock starts.
PRELOADED_SERVICES = ("cloudwatch", "iam", "lambda_", "scheduler", "secretsmanager", "sns")
# The inputs bench/spread.py and bench/quotas.py read, by resource type (nothing else is kept).
RECORDED_INPUTS = {
    "aws:secretsmanager/secretRotation:SecretRotation": ("rotationRules",),
    "aws:scheduler/schedule:Schedule": ("scheduleExpression", "flexibleTimeWindow"),
    "aws:cloudwatch/eventRule:EventRule": ("scheduleExpression",),
    "aws:lambda/function:Function": ("reservedConcurrentExecutions",),
}


# The program as shipped, and without each of components/runtime_tuning.py's two settings.
TUNINGS = {
    "all": "as shipped",
    "gc": "without the stack-trace cache",
    "none": "without either (the SDK's defaults)",
}


def consumers_config(count: int, *, isolated: bool = False) -> list[dict[str, Any]]:
    """``count`` consumers with distinct names and paths (``isolatedRotator`` when asked)."""
    return [
        {
            "name": f"consumer-{index:04d}",
            "readPaths": [f"s3://bench-knowledge-base/consumer-{index:04d}/"],
            "writePaths": [f"s3://bench-outputs/consumer-{index:04d}/"],
            **({"isolatedRotator": True} if isolated else {}),
        }
        for index in range(count)
    ]


def floor_program(count: int, per_consumer: int) -> None:
    """The SDK's own floor: per consumer one component and ``per_consumer`` bare
    ``aws.iam.User`` children with one constant input, as many registrations as the program
    makes, none of its inputs, Outputs or dependencies."""
    import pulumi
    import pulumi_aws as aws

    class Bare(pulumi.ComponentResource):
        def __init__(self, name: str) -> None:
            super().__init__("bench:index:Bare", name, None, None)
            for index in range(per_consumer):
                aws.iam.User(
                    f"{name}-{index}", path="/bench/", opts=pulumi.ResourceOptions(parent=self)
                )
            self.register_outputs({})

    for index in range(count):
        Bare(f"bare-{index:04d}")


def worker(
    count: int,
    *,
    isolated: bool = False,
    schedules: bool = False,
    floor: int = 0,
    tuning: str = "all",
) -> dict[str, Any]:
    """Run the program once with ``count`` consumers in this process; return the figures.
    ``schedules``: also return the RECORDED_INPUTS of every resource of those types.
    ``tuning``: how much of components/runtime_tuning.py the program gets (a TUNINGS key)."""
    import gc
    import importlib

    import pulumi

    from components import runtime_tuning

    for service in PRELOADED_SERVICES:
        service_module = importlib.import_module(f"pulumi_aws.{service}")
        # pulumi_aws's service modules are lazy: importing one returns a placeholder that
        # executes the module (hundreds of files, compiled from source) on first attribute
        # access, which would otherwise happen inside the clock.
        getattr(service_module, "__all__", None)
    for module in sorted((ROOT / "components").glob("*.py")):
        importlib.import_module(f"components.{module.stem}")

    class ProviderLikeMocks(pulumi.runtime.Mocks):
        """Outputs shaped like the provider's: the inputs plus an id and an ARN."""

        def __init__(self) -> None:
            self.types: Counter[str] = Counter()
            self.schedules: list[dict[str, Any]] = []

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            self.types[args.typ] += 1
            if schedules and args.typ in RECORDED_INPUTS:
                kept = {key: args.inputs.get(key) for key in RECORDED_INPUTS[args.typ]}
                self.schedules.append({"type": args.typ, "name": args.name, **kept})
            name = str(args.inputs.get("name", args.name))
            service = args.typ.split(":")[1].split("/")[0]
            outputs = {
                **args.inputs,
                "name": name,
                "arn": f"arn:aws:{service}:{REGION}:{ACCOUNT}:{name}",
            }
            return f"{name}-id", outputs

        def call(
            self, args: pulumi.runtime.MockCallArgs
        ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            return {}, None

    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    mocks = ProviderLikeMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=False)
    pulumi.runtime.set_all_config(
        {f"{PROJECT}:consumers": json.dumps(consumers_config(count, isolated=isolated))}
    )

    shipped = runtime_tuning.tune_for_large_stacks

    def gc_only() -> runtime_tuning.Tuning:
        gc.disable()
        return runtime_tuning.Tuning(automatic_gc_disabled=True, stack_trace_cached=False)

    def untuned() -> runtime_tuning.Tuning:
        return runtime_tuning.Tuning(automatic_gc_disabled=False, stack_trace_cached=False)

    # __main__.py imports the function when it runs, so a variant replaces it here.
    runtime_tuning.tune_for_large_stacks = {"all": shipped, "gc": gc_only, "none": untuned}[tuning]

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run_program() -> None:
        if floor:
            shipped()  # as __main__.py does
            floor_program(count, floor)
        else:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    run_program()
    program_seconds = time.perf_counter() - started
    program_cpu_seconds = _cpu_seconds() - cpu_started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    aws_types = {typ: n for typ, n in sorted(mocks.types.items()) if typ.startswith("aws:")}
    figures: dict[str, Any] = {
        "consumers": count,
        "isolated": isolated,
        "resources": sum(aws_types.values()),
        "registrations": sum(mocks.types.values()),
        "by_type": aws_types,
        "program_seconds": program_seconds,
        "program_cpu_seconds": program_cpu_seconds,
        "peak_rss_mb": peak_kb / 1024,
        "full_collections": gc.get_stats()[2]["collections"],
    }
    if schedules:
        figures["schedules"] = mocks.schedules
    return figures


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class SizeDidNotFinish(RuntimeError):
    """A size hit the time or memory limit: the figures say which, and how far it got."""


def run_once(
    count: int,
    *,
    isolated: bool = False,
    schedules: bool = False,
    floor: int = 0,
    tuning: str = "all",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB,
) -> dict[str, Any]:
    """Run one size in a fresh subprocess; add its wall time. Raises SizeDidNotFinish when
    it hits ``timeout`` or ``memory_limit_mb``, RuntimeError when the program fails."""
    limit = memory_limit_mb * 1024 * 1024

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    started = time.perf_counter()
    try:
        completed = run_python(
            [
                str(Path(__file__).resolve()),
                "--worker",
                str(count),
                *(["--isolated"] if isolated else []),
                *(["--schedules"] if schedules else []),
                *(["--floor", str(floor)] if floor else []),
                "--tuning",
                tuning,
            ],
            check=False,
            timeout=timeout,
            before_exec=cap_memory,
        )
    except subprocess.TimeoutExpired:
        raise SizeDidNotFinish(f"{count} consumers: no result within {timeout:g} s") from None
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        if "MemoryError" in completed.stderr:
            raise SizeDidNotFinish(
                f"{count} consumers: out of memory at the {memory_limit_mb} MB heap limit"
                f" after {wall:.0f} s"
            )
        raise RuntimeError(f"the program failed for {count} consumers:\n{completed.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = wall
    return figures


def run_size(count: int, repeats: int, **limits: Any) -> dict[str, Any]:
    """Run one size ``repeats`` times, each in a fresh subprocess; the median of each timing."""
    runs = [run_once(count, **limits) for _ in range(repeats)]
    timed = ("program_seconds", "program_cpu_seconds", "process_seconds", "peak_rss_mb")
    return {**runs[0], **{key: statistics.median(run[key] for run in runs) for key in timed}}


def resource_fit(runs: Sequence[dict[str, Any]]) -> tuple[float, float, bool]:
    """(per stack a, per consumer b, exact?) of resources = a + b * consumers."""
    xs = [float(run["consumers"]) for run in runs]
    ys = [float(run["resources"]) for run in runs]
    slope, intercept = linear_fit(xs, ys)
    exact = all(abs(intercept + slope * x - y) < 1e-6 for x, y in zip(xs, ys, strict=True))
    return intercept, slope, exact


def type_fit(runs: Sequence[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Per resource type: (per stack, per consumer) from the smallest and largest run."""
    low, high = runs[0], runs[-1]
    span = high["consumers"] - low["consumers"]
    fits = {}
    for typ in sorted(set(low["by_type"]) | set(high["by_type"])):
        a_count, b_count = low["by_type"].get(typ, 0), high["by_type"].get(typ, 0)
        per_consumer = (b_count - a_count) / span
        fits[typ] = (a_count - per_consumer * low["consumers"], per_consumer)
    return fits


def _number(value: float) -> str:
    """A fitted count: 6 places at most, and no "-0" from rounding noise."""
    return f"{round(value, 6) + 0.0:g}"


def _spans(runs: Sequence[dict[str, Any]], key: str) -> list[float]:
    """Marginal ``key`` per consumer between consecutive sizes."""
    return [
        (later[key] - earlier[key]) / (later["consumers"] - earlier["consumers"])
        for earlier, later in itertools.pairwise(runs)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run __main__.py under Pulumi's mock engine for 100, 1,000 and 5,000"
        " consumers.",
        epilog="Prints a table and writes bench/results/program.json.",
    )
    parser.add_argument(
        "--consumers",
        default=",".join(str(size) for size in SIZES),
        help="comma-separated consumer counts, each in a fresh process (default 100,1000,5000)",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="fresh processes per size, median kept (default 1)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"seconds one size may take (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--memory-limit-mb",
        type=int,
        default=DEFAULT_MEMORY_LIMIT_MB,
        help=f"heap one size may use (default {DEFAULT_MEMORY_LIMIT_MB})",
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--isolated", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--schedules", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--tuning", choices=TUNINGS, default="all", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        figures = worker(
            args.worker,
            isolated=args.isolated,
            schedules=args.schedules,
            floor=args.floor,
            tuning=args.tuning,
        )
        print(json.dumps(figures), flush=True)
        return 0
    try:
        sizes = sorted({int(size) for size in args.consumers.split(",") if size.strip()})
    except ValueError:
        parser.error(f"--consumers: {args.consumers!r} is not a list of integers")
    if len(sizes) < 2 or sizes[0] < 1:
        parser.error("--consumers: give at least two positive counts (a fit needs two)")
    if args.repeats < 1:
        parser.error("--repeats: at least 1")

    runs: list[dict[str, Any]] = []
    unfinished: list[str] = []
    for size in sizes:
        try:
            runs.append(
                run_size(
                    size, args.repeats, timeout=args.timeout, memory_limit_mb=args.memory_limit_mb
                )
            )
        except SizeDidNotFinish as stop:
            unfinished.append(str(stop))
            break  # a larger size would not finish either
        print(
            f"{size} consumers: {runs[-1]['program_seconds']:.1f} s,"
            f" {runs[-1]['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    if len(runs) < 2:
        print("\n".join(unfinished), flush=True)
        return 1
    target_run = next((run for run in runs if run["consumers"] == TARGET_SIZE), None)
    if target_run is not None:
        # What the Pulumi SDK alone costs for as many registrations: the part of the program
        # time no change to this program can remove.
        per_consumer = round(target_run["registrations"] / TARGET_SIZE)  # component included
        target_run["floor"] = run_size(
            TARGET_SIZE, args.repeats, floor=per_consumer - 1, timeout=args.timeout
        )
        # What each of components/runtime_tuning.py's settings saves.
        target_run["tunings"] = {
            tuning: run_size(TARGET_SIZE, args.repeats, tuning=tuning, timeout=args.timeout)
            for tuning in TUNINGS
            if tuning != "all"
        }
    return report(runs, unfinished, args.repeats)


def report(runs: list[dict[str, Any]], unfinished: list[str], repeats: int) -> int:
    """Print the tables and write bench/results/program.json; exit status 0."""
    xs = [float(run["consumers"]) for run in runs]
    per_stack, per_consumer, exact = resource_fit(runs)
    cpu_slope, cpu_intercept = linear_fit(xs, [run["program_cpu_seconds"] for run in runs])
    program_slope, program_intercept = linear_fit(xs, [run["program_seconds"] for run in runs])
    wall_slope, wall_intercept = linear_fit(xs, [run["process_seconds"] for run in runs])
    memory_slope, memory_intercept = linear_fit(xs, [run["peak_rss_mb"] for run in runs])
    cpu_spans = _spans(runs, "program_cpu_seconds")
    rss_spans = _spans(runs, "peak_rss_mb")
    ratio = cpu_spans[-1] / cpu_spans[0] if len(cpu_spans) > 1 else 1.0
    linear_cpu = len(cpu_spans) > 1 and abs(ratio - 1) <= LINEARITY_TOLERANCE
    target_run = next((run for run in runs if run["consumers"] == TARGET_SIZE), None)

    table = Table(
        f"Pulumi program under the mock engine (median of {repeats} fresh process"
        f"{'es' if repeats > 1 else ''} per size)",
        [
            "consumers",
            "AWS resources",
            "per consumer",
            "registrations",
            "program wall s",
            "program CPU s",
            "process wall s",
            "peak RSS MB",
            "full GCs",
            "target",
            "met?",
        ],
    )
    for run in runs:
        target, verdict = "", ""
        if run is target_run:
            target = f"<= {MAX_PROGRAM_SECONDS:g} s, <= {MAX_PEAK_RSS_MB:g} MB"
            verdict = (
                "yes"
                if run["program_seconds"] <= MAX_PROGRAM_SECONDS
                and run["peak_rss_mb"] <= MAX_PEAK_RSS_MB
                else f"time {met(run['program_seconds'], MAX_PROGRAM_SECONDS)},"
                f" RSS {met(run['peak_rss_mb'], MAX_PEAK_RSS_MB)}"
            )
        table.add(
            run["consumers"],
            run["resources"],
            f"{run['resources'] / run['consumers']:.2f}",
            run["registrations"],
            f"{run['program_seconds']:.1f}",
            f"{run['program_cpu_seconds']:.1f}",
            f"{run['process_seconds']:.1f}",
            f"{run['peak_rss_mb']:.0f}",
            run["full_collections"],
            target,
            verdict,
        )
    table.notes.extend(f"did not finish: {line}" for line in unfinished)
    floor = target_run.get("floor") if target_run is not None else None
    if target_run is not None and floor is not None:
        share = floor["program_cpu_seconds"] / target_run["program_cpu_seconds"]
        table.notes.append(
            f"SDK floor at {TARGET_SIZE}: {floor['registrations']} bare registrations (per"
            f" consumer a component and {round(floor['registrations'] / TARGET_SIZE) - 1}"
            f" aws.iam.User with one constant input, tuned as the program is) take"
            f" {floor['program_seconds']:.1f} s"
            f" wall, {floor['program_cpu_seconds']:.1f} s CPU: {share:.0%} of the program's"
            " CPU is the Pulumi SDK registering that many resources at all"
        )

    tunings = Table(
        f"What components/runtime_tuning.py saves at {TARGET_SIZE} consumers",
        ["program", "program wall s", "program CPU s", "peak RSS MB", "full GCs"],
    )
    variants = target_run.get("tunings", {}) if target_run is not None else {}
    for tuning, label in TUNINGS.items():
        variant = target_run if tuning == "all" else variants.get(tuning)
        if variant is not None and variants:
            tunings.add(
                label,
                f"{variant['program_seconds']:.1f}",
                f"{variant['program_cpu_seconds']:.1f}",
                f"{variant['peak_rss_mb']:.0f}",
                variant["full_collections"],
            )

    growth = Table(
        "Growth per consumer (least squares over the sizes)",
        ["figure", "per consumer", "per stack (intercept)", "target", "met?"],
    )
    growth.add(
        "AWS resources",
        _number(per_consumer),
        _number(per_stack),
        "exactly a + b*N",
        "yes" if exact else "NO",
    )
    spans_text = " vs ".join(f"{span * 1000:.1f}" for span in cpu_spans)
    growth.add(
        "program CPU time",
        f"{cpu_slope * 1000:.1f} ms",
        f"{cpu_intercept:.2f} s",
        f"linear (spans +-{LINEARITY_TOLERANCE:.0%})",
        ("yes" if linear_cpu else "NO") if len(cpu_spans) > 1 else "needs 3 sizes",
    )
    growth.add(
        "program wall time", f"{program_slope * 1000:.1f} ms", f"{program_intercept:.2f} s", "", ""
    )
    growth.add(
        "process wall time", f"{wall_slope * 1000:.1f} ms", f"{wall_intercept:.2f} s", "", ""
    )
    growth.add("peak RSS", f"{memory_slope * 1024:.0f} KB", f"{memory_intercept:.0f} MB", "", "")
    sizes_text = " -> ".join(str(run["consumers"]) for run in runs)
    growth.notes.append(
        f"marginal CPU ms per consumer over {sizes_text}: {spans_text}"
        + (f" (ratio {ratio:.2f})" if len(cpu_spans) > 1 else "")
        + "; peak RSS KB per consumer: "
        + " vs ".join(f"{span * 1024:.0f}" for span in rss_spans)
    )
    fits = type_fit(runs)
    by_type = Table(
        "AWS resources by type (per stack + per consumer)",
        ["type", "per stack", "per consumer", f"at {runs[-1]['consumers']}"],
    )
    for typ, (stack_count, consumer_count) in fits.items():
        by_type.add(
            typ, _number(stack_count), _number(consumer_count), runs[-1]["by_type"].get(typ, 0)
        )
    table.print()
    if variants:
        tunings.print()
    growth.print()
    by_type.print()

    checks = [
        Check(
            "AWS resources = per stack + per consumer x N",
            f"{_number(per_stack)} + {_number(per_consumer)} N",
            "exact, linear",
            exact,
        )
    ]
    if target_run is not None:
        checks += [
            Check(
                f"{TARGET_SIZE} consumers: program time (wall)",
                f"{target_run['program_seconds']:.1f} s"
                f" (CPU {target_run['program_cpu_seconds']:.1f} s)",
                f"<= {MAX_PROGRAM_SECONDS:g} s",
                target_run["program_seconds"] <= MAX_PROGRAM_SECONDS,
            ),
            Check(
                f"{TARGET_SIZE} consumers: peak RSS",
                f"{target_run['peak_rss_mb']:.0f} MB",
                f"<= {MAX_PEAK_RSS_MB:g} MB",
                target_run["peak_rss_mb"] <= MAX_PEAK_RSS_MB,
            ),
        ]
    if len(cpu_spans) > 1:
        checks.append(
            Check(
                f"growth: marginal CPU ms/consumer {sizes_text}",
                spans_text,
                f"linear (+-{LINEARITY_TOLERANCE:.0%})",
                linear_cpu,
            )
        )
    checks += [Check("size finished", line, "every size finishes", False) for line in unfinished]
    write_results(
        "program",
        {
            "targets": {
                "at_consumers": TARGET_SIZE,
                "program_seconds": MAX_PROGRAM_SECONDS,
                "peak_rss_mb": MAX_PEAK_RSS_MB,
                "growth": "linear",
            },
            "repeats": repeats,
            "runs": runs,
            "unfinished": unfinished,
            "resources_per_stack": per_stack,
            "resources_per_consumer": per_consumer,
            "resources_exactly_linear": exact,
            "resources_by_type": {
                typ: {"per_stack": a, "per_consumer": b} for typ, (a, b) in fits.items()
            },
            "program_cpu_ms_per_consumer": round(cpu_slope * 1000, 2),
            "program_ms_per_consumer": round(program_slope * 1000, 2),
            "process_ms_per_consumer": round(wall_slope * 1000, 2),
            "peak_rss_kb_per_consumer": round(memory_slope * 1024, 1),
            "cpu_ms_per_consumer_by_span": [round(span * 1000, 2) for span in cpu_spans],
            "linearity_ratio": round(ratio, 3),
            "linear": linear_cpu,
        },
        checks,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
