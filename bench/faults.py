"""The fault-injection matrix: every AWS call the rotation handler makes, failed four ways.

Usage: ``python bench/faults.py [--quick] [--kinds KIND,...] [--modes MODE,...]``
(``make bench`` runs it whole). The whole matrix runs once per deployment mode of the
function (``credrot.sandbox.aws.MODES``): isolated (its own user and secret in its
environment) and shared (one function for the stack, finding each secret's user from the
secret itself). The matrix itself, its call-site discovery, fault kinds, recoveries and
invariants, is ``credrot.sandbox.fault_matrix`` (its fast subset runs in
``tests/resilience``); this script runs it whole and reports.

One line per mode, ``<mode> function: faults injected: N, survived: M``, then the last
line printed, ``faults injected: N, survived: M``, over both; the exit status is 1 if M < N.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import _bootstrap  # noqa: F401  (the repository root on sys.path; see bench/_bootstrap.py)

from bench.common import Check, Table, write_results
from credrot.sandbox.aws import FAULT_KINDS, MODES, STEPS, SWEEP, Sandbox
from credrot.sandbox.fault_matrix import (
    ABSORBED,
    RECOVERIES,
    SWEEP_RECOVERY,
    CallSite,
    CaseResult,
    build_cases,
    discover_call_sites,
    quick_cases,
    run_matrix,
)

# -- reporting -------------------------------------------------------------------------------


def matrix_table(
    sites: Sequence[CallSite], results: Sequence[CaseResult], kinds: Sequence[str]
) -> Table:
    """Rows: call sites; columns: fault kinds; cells: survived/runs, or "absorbed"."""
    table = Table(
        "Fault matrix: survived / runs per call site and fault kind (each run = 1 injected fault)",
        ["phase", "call", *kinds, "attempts/fault"],
    )
    by_key: dict[tuple[CallSite, str], list[CaseResult]] = {}
    for result in results:
        by_key.setdefault((result.case.site, result.case.kind), []).append(result)
    for site in sites:
        cells = []
        attempts: set[int] = set()
        for kind in kinds:
            runs = by_key.get((site, kind), [])
            attempts |= {r.attempts for r in runs}
            if not runs:
                cells.append("-")
            elif len(runs) == 1 and runs[0].absorbed and runs[0].survived:
                cells.append("absorbed")
            else:
                ok = sum(r.survived for r in runs)
                cells.append(f"{ok}/{len(runs)}" + ("" if ok == len(runs) else " FAIL"))
        table.add(site.phase, f"{site.operation}#{site.occurrence}", *cells, _attempts(attempts))
    table.notes.append(
        "absorbed: the step succeeded despite the fault; n/3: retry-step, retry-rotation,"
        " unstick-fresh-token (the sweep: 1 = its next run)"
    )
    return table


def _attempts(values: set[int]) -> str:
    if not values:
        return "-"
    return "/".join(str(v) for v in sorted(values))


def recovery_table(results: Sequence[CaseResult]) -> Table:
    """Survival per recovery path."""
    table = Table("Recovery paths", ["recovery", "runs", "survived", "target", "met?"])
    counts: dict[str, list[int]] = {}
    for result in results:
        entry = counts.setdefault(result.case.recovery, [0, 0])
        entry[0] += 1
        entry[1] += result.survived
    for recovery in (*RECOVERIES, SWEEP_RECOVERY, ABSORBED):
        if recovery in counts:
            runs, ok = counts[recovery]
            table.add(recovery, runs, ok, "all", "yes" if ok == runs else "NO")
    return table


def failures_table(results: Sequence[CaseResult]) -> Table | None:
    """One row per problem of every case that did not survive (None if all survived)."""
    failed = [r for r in results if not r.survived]
    if not failed:
        return None
    table = Table("Cases that did not survive", ["call site", "fault", "recovery", "problem"])
    for result in failed:
        for problem in result.problems():
            table.add(
                str(result.case.site),
                result.case.kind,
                result.case.recovery,
                problem if len(problem) <= 150 else problem[:147] + "...",
            )
    table.notes.append(
        "full messages and the error each faulted step raised: bench/results/faults.json"
    )
    return table


@dataclass
class ModeRun:
    """The matrix run against the function in one deployment mode (``MODES``)."""

    mode: str
    sites: list[CallSite]
    results: list[CaseResult]
    sleeps: int
    minted: int
    seconds: float

    @property
    def injected(self) -> int:
        return len(self.results)

    @property
    def survived(self) -> int:
        return sum(result.survived for result in self.results)


def run_mode(mode: str, *, quick: bool, kinds: Sequence[str]) -> ModeRun:
    """Discover the call sites and run the matrix in a fresh Sandbox of ``mode``."""
    started = time.perf_counter()
    with Sandbox(mode) as sandbox:
        sites = discover_call_sites(sandbox)
        cases = quick_cases(sites) if quick else build_cases(sites, kinds)
        results = run_matrix(cases, sandbox)
        sleeps = len(sandbox.sleeps)
        minted = len(sandbox.minted_secrets)
    return ModeRun(mode, sites, results, sleeps, minted, time.perf_counter() - started)


def print_mode(run: ModeRun, kinds: Sequence[str], quick: bool) -> None:
    """The tables of one mode's run."""
    discovered = Table(
        f"[{run.mode} function] Discovered call sites (clean rotation, previous key Active;"
        " sweep with zero grace)",
        ["phase", "calls", "in order (sm = secrets-manager)"],
    )
    for phase in (*STEPS, SWEEP):
        calls = [
            s.operation.replace("secrets-manager.", "sm.") for s in run.sites if s.phase == phase
        ]
        discovered.add(phase, len(calls), ", ".join(calls))
    discovered.print()
    matrix = matrix_table(run.sites, run.results, kinds if not quick else FAULT_KINDS)
    matrix.title = f"[{run.mode} function] {matrix.title}"
    matrix.print()
    recovery = recovery_table(run.results)
    recovery.title = f"[{run.mode} function] {recovery.title}"
    recovery.print()
    failures = failures_table(run.results)
    if failures is not None:
        failures.title = f"[{run.mode} function] {failures.title}"
        failures.print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fault-injection matrix of the rotation handler (moto in-process), run"
        " against the function in each deployment mode.",
        epilog="Prints the matrix per mode, writes bench/results/faults.json; exit status 1 if"
        " any case did not survive.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="one fault kind per call site (the test subset)"
    )
    parser.add_argument(
        "--kinds",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated fault kinds (default: all: {','.join(FAULT_KINDS)})",
    )
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="comma-separated deployment modes of the function: isolated (one function per"
        " consumer), shared (one function for the stack) (default: both)",
    )
    args = parser.parse_args(argv)
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if unknown:
        parser.error(f"--kinds: unknown {unknown}; use {','.join(FAULT_KINDS)}")
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if unknown or not modes:
        parser.error(f"--modes: unknown {unknown or modes}; use {','.join(MODES)}")

    started = time.perf_counter()
    runs = [run_mode(mode, quick=args.quick, kinds=kinds) for mode in modes]
    seconds = time.perf_counter() - started
    for run in runs:
        print_mode(run, kinds, args.quick)

    injected = sum(run.injected for run in runs)
    survived = sum(run.survived for run in runs)
    sleeps = sum(run.sleeps for run in runs)
    summary = Table("Summary", ["figure", "value", "target", "met?"])
    for run in runs:
        ok = run.injected >= 40
        summary.add(f"{run.mode}: call sites discovered", len(run.sites), "", "")
        summary.add(f"{run.mode}: faults injected", run.injected, ">= 40", "yes" if ok else "NO")
        summary.add(
            f"{run.mode}: survived",
            run.survived,
            f"= {run.injected}",
            "yes" if run.survived == run.injected else "NO",
        )
        summary.add(f"{run.mode}: propagation sleeps taken", run.sleeps, "0", _yes(run.sleeps == 0))
        summary.add(f"{run.mode}: secrets minted and checked", run.minted, "", "")
        summary.add(f"{run.mode}: wall time", f"{run.seconds:.1f} s", "", "")
    summary.add("wall time", f"{seconds:.1f} s", "", "")
    summary.print()
    checks = []
    for run in runs:
        checks += [
            Check(f"faults injected ({run.mode})", str(run.injected), ">= 40", run.injected >= 40),
            Check(
                f"faults survived ({run.mode})",
                str(run.survived),
                f"= {run.injected}",
                run.survived == run.injected,
            ),
            Check(f"propagation sleeps ({run.mode})", str(run.sleeps), "0", run.sleeps == 0),
        ]
    write_results(
        "faults",
        {
            "quick": args.quick,
            "kinds": kinds,
            "modes": modes,
            "faults_injected": injected,
            "survived": survived,
            "propagation_sleeps": sleeps,
            "seconds": round(seconds, 2),
            "by_mode": {
                run.mode: {
                    "call_sites": [asdict(site) for site in run.sites],
                    "faults_injected": run.injected,
                    "survived": run.survived,
                    "propagation_sleeps": run.sleeps,
                    "seconds": round(run.seconds, 2),
                    "cases": [
                        {
                            "site": str(r.case.site),
                            "kind": r.case.kind,
                            "recovery": r.case.recovery,
                            "attempts": r.attempts,
                            "step_error": r.step_error,
                            "recovery_error": r.recovery_error,
                            "survived": r.survived,
                            "problems": r.problems(),
                        }
                        for r in run.results
                    ],
                }
                for run in runs
            },
        },
        checks,
    )
    for run in runs:
        print(
            f"{run.mode} function: faults injected: {run.injected}, survived: {run.survived}",
            flush=True,
        )
    print(f"faults injected: {injected}, survived: {survived}", flush=True)
    return 0 if survived == injected and all(run.injected for run in runs) else 1


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


if __name__ == "__main__":
    sys.exit(main())
