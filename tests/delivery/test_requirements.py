"""The supply chain of the installs: hash-locked files, the runtime apart from the tools.

The locks are generated (``make lock``); these tests check what a reviewer of a changed lock
would: every file pinned with hashes, the deploy jobs' runtime lock free of test and lint
tools, one version per package across the locks, and the set-up commands installing them
with hashes required.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"
LOCKS = {
    "bootstrap": REQUIREMENTS / "bootstrap.lock",
    "runtime": REQUIREMENTS / "runtime.lock",
    "dev": REQUIREMENTS / "dev.lock",
    "policy": ROOT / "policy" / "requirements.txt",
}
INPUTS = {
    "bootstrap": REQUIREMENTS / "bootstrap.in",
    "runtime": REQUIREMENTS / "runtime.in",
    "dev": REQUIREMENTS / "dev.in",
    "policy": ROOT / "policy" / "requirements.in",
}
# What tests, lints or emulates, and so never belongs in a job that holds AWS credentials.
TOOLS = {
    "moto",
    "pytest",
    "hypothesis",
    "ruff",
    "mypy",
    "parliament",
    "check-jsonschema",
    "zizmor",
    "pulumi-policy",
    "aws-secretsmanager-caching",
    "uv",
}
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)")


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """Each package of a lock: its version and how many hashes it carries."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = _REQUIREMENT.match(line)
        if match:
            current = _name(match["name"])
            entries[current] = (match["version"], 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
        elif line.strip() and not line.startswith((" ", "#")):
            raise AssertionError(f"{path.name}: unexpected line {line!r}")
    return entries


def wanted(path: Path) -> dict[str, str]:
    """The direct pins of an input file (its ``-r`` includes left out)."""
    return {
        _name(match["name"]): match["version"]
        for line in path.read_text().splitlines()
        if (match := _REQUIREMENT.match(line))
    }


@pytest.mark.parametrize("name", LOCKS)
def test_every_locked_package_is_pinned_with_hashes(name: str) -> None:
    entries = locked(LOCKS[name])

    assert entries
    assert [package for package, (_, hashes) in entries.items() if hashes == 0] == []


@pytest.mark.parametrize("name", LOCKS)
def test_each_lock_holds_its_inputs_at_their_pinned_versions(name: str) -> None:
    entries = locked(LOCKS[name])

    assert {package: entries.get(package, ("missing",))[0] for package in wanted(INPUTS[name])} == (
        wanted(INPUTS[name])
    )


def test_the_runtime_lock_carries_no_test_or_lint_tool() -> None:
    runtime = set(locked(LOCKS["runtime"]))

    assert runtime >= {"pulumi", "pulumi-aws", "boto3"}
    assert runtime & TOOLS == set()


def test_the_dev_lock_carries_the_tools_the_tests_run() -> None:
    assert TOOLS - {"uv"} <= set(locked(LOCKS["dev"]))


@pytest.mark.parametrize("name", ["runtime", "policy"])
def test_what_deploys_is_what_the_tests_ran(name: str) -> None:
    dev = locked(LOCKS["dev"])

    for package, (version, _) in locked(LOCKS[name]).items():
        assert dev.get(package, ("missing",))[0] == version, package


def test_the_bootstrap_lock_holds_uv_alone() -> None:
    assert set(locked(LOCKS["bootstrap"])) == {"uv"}


def test_requirements_txt_is_the_dev_lock() -> None:
    lines = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert lines == ["-r requirements/dev.lock"]


def test_the_makefile_bootstraps_uv_with_pip_and_installs_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(BIN)/.installed:", 1)[1].split("\n\n", 1)[0]

    assert "$(PYTHON) -m venv $(VENV)" in recipe
    assert "$(BIN)/pip install" in recipe
    assert "--require-hashes" in recipe.split("$(BIN)/pip install", 1)[1].split("\n@", 1)[0]
    assert "requirements/bootstrap.lock" in recipe
    uv_install = [line for line in recipe.splitlines() if "$(BIN)/uv pip install" in line]
    assert len(uv_install) == 1
    assert "--require-hashes" in uv_install[0]
    assert "-r requirements.txt" in uv_install[0]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line for line in script if line.strip() and not line.startswith("#")]

    assert commands[-1] == "make test"
    assert "make test" in (ROOT / "README.md").read_text()
