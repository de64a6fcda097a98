"""`credrot sandbox`: a practice emulator in its own process, driven from another one."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from credrot.ops.cli import main
from credrot.ops.limits import EXIT_OK

REPO = Path(__file__).resolve().parents[2]


def test_sandbox_has_help(capsys: Any) -> None:
    assert main(["sandbox", "--help"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "--duration" in text and "examples:" in text


def test_the_sandbox_prints_an_environment_that_other_processes_can_operate_with() -> None:
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "credrot", "sandbox", "--name", "bot", "--duration", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert sandbox.stdout is not None
        variables: dict[str, str] = {}
        for line in sandbox.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                variables[name] = shlex.split(value)[0]
            if line.startswith("# then try:"):
                break
        assert {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "CREDROT_SECRET"} <= set(variables)
        assert variables["AWS_CONFIG_FILE"] != os.devnull
        status = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "credrot", "status", variables["CREDROT_SECRET"], "--json"],
            env={**os.environ, **variables},
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
            check=False,
        )
        report = json.loads(status.stdout)
        assert report["user"] == "credrot-bot-user", status.stderr
        assert status.returncode == EXIT_OK, report["problems"]
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=60)
