"""The credrot distribution: the wheel holds the app side only, and installs into a clean venv.

The wheel is built from this checkout with uv (hatchling from PyPI, through uv's cache),
installed into a new venv with nothing but boto3's family, and used from another directory:
the installed ``credrot export`` writes an AWS profile whose credential_process is the
installed script, and plain boto3 in that venv authenticates through it against moto's
ThreadedMotoServer on 127.0.0.1 (the emulator, IAM authentication on).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from credrot.sandbox.emulator import Emulator
from credrot.sandbox.provision import Consumer

ROOT = Path(__file__).resolve().parents[2]
# What boto3 brings; anything else in the clean venv came from credrot by mistake.
BOTO3_FAMILY = {"boto3", "botocore", "jmespath", "python-dateutil", "s3transfer", "six", "urllib3"}
COMPONENT_MODULES = {
    "__init__.py",
    "contract.py",
    "config.py",
    "iam_policies.py",
    "limits.py",
    "schedule.py",
}


def uv(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run uv (a pinned test requirement) and fail with its stderr if it fails."""
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "uv", *args], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr
    return result


def run_installed(
    venv: Path, program: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a program of the clean venv from ``cwd``, a directory outside this checkout."""
    return subprocess.run(  # noqa: S603 - the venv's own program
        [str(venv / "bin" / program), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    uv("build", "--wheel", "--out-dir", str(out), str(ROOT))
    (built,) = out.glob("credrot-*.whl")
    return built


@pytest.fixture(scope="module")
def clean_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("clean") / "venv"
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    uv("pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(wheel))
    return venv


def test_the_wheel_holds_credrot_the_lambda_and_the_pure_contract_modules_only(
    wheel: Path,
) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"credrot", "rotation_lambda", "components", "credrot-0.1.0.dist-info"}
    components = {name.split("/", 1)[1] for name in names if name.startswith("components/")}
    assert components == COMPONENT_MODULES
    assert {"credrot/app/client.py", "credrot/client.py", "credrot/ops/cli.py"} <= set(names)
    for name in names:
        assert "__pycache__" not in name and not name.endswith(".pyc"), name
        assert not name.startswith(("tests/", "bench/", "policy/", "pulumi", "moto")), name
    for name in names:
        if name.endswith(".py"):
            source = zipfile.ZipFile(wheel).read(name).decode()
            assert "import pulumi" not in source and "from pulumi" not in source, name
            # Every module of components/ that a shipped one imports is shipped too.
            for imported in re.findall(r"^from components\.(\w+) import", source, re.M):
                assert f"{imported}.py" in COMPONENT_MODULES, (name, imported)


def test_the_wheel_declares_boto3_and_botocore_and_moto_only_for_the_drill(wheel: Path) -> None:
    metadata = zipfile.ZipFile(wheel).read("credrot-0.1.0.dist-info/METADATA").decode()
    requires = [
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    runtime = [r for r in requires if "extra ==" not in r]
    assert sorted(r.split(">")[0].split("=")[0].split("<")[0] for r in runtime) == [
        "boto3",
        "botocore",
    ]
    drill = [r for r in requires if "extra == 'drill'" in r or 'extra == "drill"' in r]
    assert len(drill) == 1 and drill[0].startswith("moto[server]")
    entry_points = zipfile.ZipFile(wheel).read("credrot-0.1.0.dist-info/entry_points.txt")
    assert "credrot = credrot.ops.cli:main" in entry_points.decode()


def test_a_clean_venv_gets_nothing_but_credrot_and_boto3s_family(clean_venv: Path) -> None:
    frozen = uv("pip", "freeze", "--python", str(clean_venv / "bin" / "python")).stdout
    installed = {line.split("==")[0].split(" @ ")[0].lower() for line in frozen.splitlines()}
    assert installed - BOTO3_FAMILY == {"credrot"}


def test_the_installed_package_imports_from_any_directory_and_has_the_command(
    clean_venv: Path, tmp_path: Path
) -> None:
    code = "from credrot.client import session; import credrot.app.self_read; print('ok')"
    result = run_installed(clean_venv, "python", "-c", code, cwd=tmp_path)
    assert result.stdout.strip() == "ok", result.stderr
    helped = run_installed(clean_venv, "credrot", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    for command in ("status", "rotate", "revoke", "unstick", "export", "credential-process"):
        assert command in helped.stdout


def test_the_drill_without_its_extra_names_the_extra_to_install(
    clean_venv: Path, tmp_path: Path
) -> None:
    result = run_installed(clean_venv, "credrot", "drill", cwd=tmp_path)
    assert result.returncode == 1
    assert "credrot[drill]" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_sdk_in_the_clean_venv_authenticates_through_the_installed_credential_process(
    clean_venv: Path, emulator: Emulator, self_read_consumer: Consumer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    config = home / ".aws" / "config"
    base_env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_ENDPOINT_URL": emulator.endpoint_url,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    operator = {
        **base_env,
        "AWS_ACCESS_KEY_ID": emulator.operator.access_key_id,
        "AWS_SECRET_ACCESS_KEY": emulator.operator.secret_access_key,
    }
    exported = run_installed(
        clean_venv,
        "credrot",
        "export",
        self_read_consumer.secret_arn,
        "--profile",
        "agent",
        "--region",
        emulator.region,
        cwd=tmp_path,
        env=operator,
    )
    assert exported.returncode == 0, exported.stderr
    line = next(
        text for text in config.read_text().splitlines() if text.startswith("credential_process")
    )
    argv = shlex.split(line.split("=", 1)[1])
    assert argv[0] == str(clean_venv / "bin" / "credrot")
    assert str(ROOT) not in line

    code = (
        "import boto3, json; s = boto3.Session(profile_name='agent');"
        " print(json.dumps(s.client('sts').get_caller_identity()['Arn']))"
    )
    app = run_installed(clean_venv, "python", "-c", code, cwd=tmp_path, env=base_env)
    assert app.returncode == 0, app.stderr
    assert json.loads(app.stdout) == self_read_consumer.user_arn
    assert os.stat(home / ".cache" / "credrot").st_mode & 0o777 == 0o700
