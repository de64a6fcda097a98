"""Run every bench script (``make bench``): rotation, package, program, spread, quotas,
client, faults.

Usage: ``python bench/run_all.py [--only NAME,...]``.

Each script runs in its own process (moto, Pulumi and the emulator keep global state),
prints its tables and writes ``bench/results/<name>.json`` with its targets ("checks"). A
script exits non-zero on a correctness failure (a rotation that failed, a wrong key, a fault
case that did not survive), not on a missed performance target. This runner carries on
with the others, then prints every target from the JSON files and how each script ended,
repeats the fault matrix's summary line last, and exits non-zero if any script did.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence

import _bootstrap  # noqa: F401  (the repository root on sys.path; see bench/_bootstrap.py)

from bench.common import RESULTS_DIR, ROOT, Table, python_executable

SCRIPTS = ("rotation", "package", "program", "spread", "quotas", "client", "faults")
FAULTS_LINE = "faults injected:"


def run(name: str) -> tuple[int, float, str | None]:
    """Run bench/<name>.py, streaming its output; (exit status, seconds, faults line)."""
    print(f"=== bench/{name}.py ===", flush=True)
    environ = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and scripts
        [python_executable(), str(ROOT / "bench" / f"{name}.py")],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    faults_line = None
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith(FAULTS_LINE):
            faults_line = line.strip()
    status = process.wait()
    return status, time.perf_counter() - started, faults_line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run all bench scripts: " + ", ".join(SCRIPTS) + ".",
        epilog="Tables on stdout, JSON under bench/results/. Exit status 1 if any script"
        " reported a missed target or a failed fault case.",
    )
    parser.add_argument(
        "--only", help=f"comma-separated subset of {','.join(SCRIPTS)} (default: all)"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(SCRIPTS)
    unknown = sorted(set(names) - set(SCRIPTS))
    if unknown:
        parser.error(f"--only: unknown {unknown}; use {','.join(SCRIPTS)}")

    summary = Table("make bench", ["script", "exit", "seconds", "outcome"])
    targets = Table("Targets", ["script", "figure", "value", "target", "met?"])
    failed = False
    faults_line = None
    total = time.perf_counter()
    for name in names:
        results_file = RESULTS_DIR / f"{name}.json"
        results_file.unlink(missing_ok=True)  # never report a previous run's figures
        status, seconds, line = run(name)
        faults_line = line or faults_line
        failed |= status != 0
        outcome = "ok" if status == 0 else "CORRECTNESS FAILURE (see its output)"
        summary.add(f"bench/{name}.py", status, f"{seconds:.1f}", outcome)
        checks = json.loads(results_file.read_text())["checks"] if results_file.exists() else []
        for check in checks:
            verdict = "yes" if check["met"] else "NO"
            targets.add(name, check["name"], check["value"], check["target"], verdict)
            if check["why"] and not check["met"]:
                targets.notes.append(f"{name}: {check['name']}: {check['why']}")
    summary.notes.append(f"total {time.perf_counter() - total:.1f} s")
    print()
    targets.print()
    summary.print()
    if faults_line:
        print(faults_line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
