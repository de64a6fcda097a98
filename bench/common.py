"""What every bench script shares: paths, a sealed AWS environment, tables and JSON results.

Each script prints one or more tables (with "target" and "met?" columns where a target
exists) and writes the same figures as JSON to ``bench/results/<script>.json``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The sealed AWS environment is the sandbox's own (the scripts import it from here).
from credrot.sandbox.aws import sealed_aws as sealed_aws
from credrot.sandbox.aws import sealed_aws_environment as sealed_aws_environment

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """statistics.median, named here so the scripts read alike."""
    return float(statistics.median(values))


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares (slope, intercept) of ys against xs."""
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return slope, mean_y - slope * mean_x


def met(value: float, limit: float) -> str:
    """ "yes" when value <= limit, else "NO" (upper-case so a miss stands out)."""
    return "yes" if value <= limit else "NO"


@dataclass
class Table:
    """A plain-text table: a title, column headers and rows of already-formatted cells."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        """Append one row (cells are str()-ed when printed)."""
        self.rows.append(cells)

    def render(self) -> str:
        """The table as text: title, header, rule, rows, then notes."""
        cells = [[str(cell) for cell in row] for row in self.rows]
        widths = [
            max([len(header), *(len(row[index]) for row in cells)])
            for index, header in enumerate(self.columns)
        ]

        def line(values: Sequence[str]) -> str:
            return "  ".join(
                value.ljust(width) for value, width in zip(values, widths, strict=True)
            ).rstrip()

        lines = [self.title, line(self.columns), line(["-" * width for width in widths])]
        lines.extend(line(row) for row in cells)
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)

    def print(self) -> None:
        """Print the table and a blank line."""
        print(self.render(), end="\n\n", flush=True)


@dataclass(frozen=True)
class Check:
    """One target: what was measured, the target, and whether it was met."""

    name: str
    value: str
    target: str
    met: bool
    why: str = ""  # when missed: why, and what meeting it would take


def write_results(script: str, results: dict[str, Any], checks: Sequence[Check] = ()) -> Path:
    """Write ``results`` and ``checks`` (plus when and where they were measured) as JSON;
    return the path. bench/run_all.py gathers every script's checks into one table."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{script}.json"
    document = {
        "script": f"bench/{script}.py",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "checks": [check.__dict__ for check in checks],
        **results,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"results: {path.relative_to(ROOT)}", flush=True)
    return path


def python_executable() -> str:
    """The interpreter running the bench (the project's venv under ``make bench``)."""
    return sys.executable


def _child_environment() -> dict[str, str]:
    """The environment of a Python process the bench starts: this one without its AWS
    variables, PYTHONPATH or PYTHONSTARTUP, plus ``sealed_aws_environment()``; no bytecode
    written (rotation_lambda/ is packaged)."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in ("PYTHONPATH", "PYTHONSTARTUP")
    }
    environ.update(sealed_aws_environment())
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return environ


def run_python(
    arguments: Sequence[str],
    *,
    check: bool = True,
    timeout: float | None = None,
    before_exec: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python_executable()`` with ``arguments``, from the repository root, in
    ``_child_environment()``; its output captured as text. ``before_exec`` runs in the child
    just before exec (keep it to async-signal-safe calls such as setrlimit)."""
    return subprocess.run(  # noqa: S603 - our own interpreter, arguments from the bench
        [python_executable(), *arguments],
        cwd=ROOT,
        env=_child_environment(),
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
        preexec_fn=before_exec,
    )
