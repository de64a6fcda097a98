"""The declared botocore range, tested at its oldest end (the pinned end is this venv).

A venv with the oldest boto3/botocore pair pyproject.toml accepts (from PyPI through uv's
cache) runs botocore_compat.py, the fence on the private members, against this checkout.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import botocore
import pytest

ROOT = Path(__file__).resolve().parents[2]


def declared_floor(name: str) -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirement = next(r for r in project["dependencies"] if r.startswith(name))
    found = re.search(r">=\s*([\d.]+)", requirement)
    assert found, requirement
    return found[1]


def test_the_pinned_botocore_is_inside_the_declared_range() -> None:
    floor = tuple(int(p) for p in declared_floor("botocore").split("."))
    pinned = tuple(int(p) for p in botocore.__version__.split("."))
    assert floor <= pinned < (2,)


def test_the_oldest_declared_boto3_and_botocore_pass_the_compatibility_check(
    tmp_path: Path,
) -> None:
    venv = tmp_path / "oldest"
    python = venv / "bin" / "python"
    pins = [f"boto3=={declared_floor('boto3')}", f"botocore=={declared_floor('botocore')}"]
    for command in (
        ["venv", "--quiet", "--python", sys.executable, str(venv)],
        ["pip", "install", "--quiet", "--python", str(python), *pins],
    ):
        made = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "uv", *command],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if made.returncode != 0 and "network" in made.stderr.lower():
            pytest.skip(f"PyPI unreachable: {made.stderr.strip()[:200]}")
        assert made.returncode == 0, made.stderr
    ran = subprocess.run(  # noqa: S603
        [str(python), str(ROOT / "tests" / "app_side" / "botocore_compat.py")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == f"botocore {declared_floor('botocore')}: compatible"
