"""The Pulumi program (``__main__.py``) under Pulumi's mock engine, for 1, 10 and 100 consumers.

Usage: ``python bench/program.py [--consumers 1,10,100]``.

Each size runs in a fresh subprocess (this script with ``--worker N``), so the figures are
independent: Pulumi's runtime state, imports and memory start from nothing every time. The
worker sets the mocks, generates N consumers (one read path, one write path each) as the
``ai-credential-rotation:consumers`` config, runs ``__main__.py`` with ``runpy`` under
``@pulumi.runtime.test`` (which waits for every registration) and reports:

- program time: from ``set_mocks`` until every resource is registered (imports excluded);
- process wall time: the subprocess as the parent sees it (interpreter, imports included);
- peak memory: ``ru_maxrss`` of the worker;
- resources registered.

Growth per consumer is the least-squares slope over the sizes; linearity is shown by the
per-consumer time between sizes (e.g. 1->10 against 10->100), which a linear program keeps
constant.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.dont_write_bytecode = True  # rotation_lambda/ is packaged: no __pycache__ in it

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import runpy  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

from bench.common import (  # noqa: E402
    ROOT,
    Table,
    linear_fit,
    met,
    python_executable,
    sealed_aws_environment,
    write_results,
)

PROJECT = "ai-credential-rotation"
STACK = "bench"
ACCOUNT = "123456789012"
REGION = "us-east-1"
SIZES = (1, 10, 100)
MAX_SECONDS_AT_100 = 15.0
# A size's per-consumer time may differ from the slope by this much and still be "linear".
LINEARITY_TOLERANCE = 0.25


def consumers_config(count: int) -> list[dict[str, Any]]:
    """``count`` consumers with distinct names and paths."""
    return [
        {
            "name": f"consumer-{index:03d}",
            "readPaths": [f"s3://bench-knowledge-base/consumer-{index:03d}/"],
            "writePaths": [f"s3://bench-outputs/consumer-{index:03d}/"],
        }
        for index in range(count)
    ]


def worker(count: int) -> dict[str, Any]:
    """Run the program once with ``count`` consumers in this process; return the figures."""
    import pulumi

    class ProviderLikeMocks(pulumi.runtime.Mocks):
        """Outputs shaped like the provider's: the inputs plus an id and an ARN."""

        def __init__(self) -> None:
            self.resources = 0

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            self.resources += 1
            name = str(args.inputs.get("name", args.name))
            service = args.typ.split(":")[1].split("/")[0]
            outputs = {
                **args.inputs,
                "name": name,
                "arn": f"arn:aws:{service}:{REGION}:{ACCOUNT}:{name}",
            }
            return f"{name}-id", outputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
            return {}

    started = time.perf_counter()
    mocks = ProviderLikeMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=False)
    pulumi.runtime.set_all_config({f"{PROJECT}:consumers": json.dumps(consumers_config(count))})

    @pulumi.runtime.test
    def run_program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    run_program()
    program_seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "consumers": count,
        "resources": mocks.resources,
        "program_seconds": program_seconds,
        "peak_rss_mb": peak_kb / 1024,
    }


def run_size(count: int) -> dict[str, Any]:
    """Run one size in a fresh subprocess; add its wall time."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environ.update(sealed_aws_environment())
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    started = time.perf_counter()
    completed = subprocess.run(  # noqa: S603 - our own interpreter and script
        [python_executable(), str(Path(__file__).resolve()), "--worker", str(count)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"the program failed for {count} consumers:\n{completed.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = wall
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run __main__.py under Pulumi's mock engine for 1, 10 and 100 consumers.",
        epilog="Prints a table and writes bench/results/program.json.",
    )
    parser.add_argument(
        "--consumers",
        default=",".join(str(size) for size in SIZES),
        help="comma-separated consumer counts, each in a fresh process (default 1,10,100)",
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker)), flush=True)
        return 0
    try:
        sizes = sorted({int(size) for size in args.consumers.split(",") if size.strip()})
    except ValueError:
        parser.error(f"--consumers: {args.consumers!r} is not a list of integers")
    if len(sizes) < 2 or sizes[0] < 1:
        parser.error("--consumers: give at least two positive counts (a slope needs two)")

    runs = [run_size(size) for size in sizes]
    xs = [float(run["consumers"]) for run in runs]
    program_slope, program_intercept = linear_fit(xs, [run["program_seconds"] for run in runs])
    wall_slope, wall_intercept = linear_fit(xs, [run["process_seconds"] for run in runs])
    memory_slope, memory_intercept = linear_fit(xs, [run["peak_rss_mb"] for run in runs])

    table = Table(
        "Pulumi program under the mock engine (one fresh process per size)",
        [
            "consumers",
            "resources",
            "program s",
            "process wall s",
            "target",
            "met?",
            "peak RSS MB",
            "ms/consumer since previous size",
        ],
    )
    previous = None
    for run in runs:
        target, verdict = "", ""
        if run["consumers"] == 100:
            target = f"<= {MAX_SECONDS_AT_100:g} s"
            verdict = met(run["process_seconds"], MAX_SECONDS_AT_100)
        step = ""
        if previous is not None:
            step_ms = (
                (run["program_seconds"] - previous["program_seconds"])
                / (run["consumers"] - previous["consumers"])
                * 1000
            )
            step = f"{step_ms:.1f}"
        table.add(
            run["consumers"],
            run["resources"],
            f"{run['program_seconds']:.2f}",
            f"{run['process_seconds']:.2f}",
            target,
            verdict,
            f"{run['peak_rss_mb']:.0f}",
            step,
        )
        previous = run

    increments = [
        (b["program_seconds"] - a["program_seconds"]) / (b["consumers"] - a["consumers"])
        for a, b in zip(runs, runs[1:], strict=False)
    ]
    linear = all(
        abs(increment - program_slope) <= LINEARITY_TOLERANCE * program_slope
        for increment in increments
    )
    growth = Table(
        "Growth per consumer (least-squares fit over the sizes)",
        ["figure", "per consumer", "fixed part", "target", "met?"],
    )
    growth.add(
        "program time",
        f"{program_slope * 1000:.1f} ms",
        f"{program_intercept:.2f} s",
        "linear",
        "yes" if linear else "NO",
    )
    growth.add(
        "process wall time", f"{wall_slope * 1000:.1f} ms", f"{wall_intercept:.2f} s", "", ""
    )
    growth.add("peak RSS", f"{memory_slope * 1024:.0f} KB", f"{memory_intercept:.0f} MB", "", "")
    growth.add(
        "resources",
        f"{(runs[-1]['resources'] - runs[0]['resources']) / (xs[-1] - xs[0]):g}",
        "",
        "",
        "",
    )
    growth.notes.append(
        "linear: the per-consumer time between successive sizes is within"
        f" {LINEARITY_TOLERANCE:.0%} of the fitted slope"
        f" ({', '.join(f'{i * 1000:.1f}' for i in increments)} ms vs {program_slope * 1000:.1f} ms)"
    )
    table.print()
    growth.print()
    write_results(
        "program",
        {
            "targets": {"process_seconds_at_100": MAX_SECONDS_AT_100, "growth": "linear"},
            "runs": runs,
            "program_ms_per_consumer": round(program_slope * 1000, 2),
            "process_ms_per_consumer": round(wall_slope * 1000, 2),
            "peak_rss_kb_per_consumer": round(memory_slope * 1024, 1),
            "increments_ms_per_consumer": [round(i * 1000, 2) for i in increments],
            "linear": linear,
        },
    )
    at_100 = [run for run in runs if run["consumers"] == 100]
    ok = linear and all(run["process_seconds"] <= MAX_SECONDS_AT_100 for run in at_100)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
