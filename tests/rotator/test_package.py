"""The Lambda package itself: small, quick to import, nothing needed at import time."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "rotation_lambda"


def run_python(code: str) -> str:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"IAM_USER_NAME", "IAM_USER_ARN", "LOG_LEVEL"}
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code],
        cwd=PACKAGE.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_the_handler_imports_with_no_configuration_and_only_stdlib_beyond_boto3():
    extra = json.loads(
        run_python(
            "import sys, json, boto3, botocore.config\n"
            "before = set(sys.modules)\n"
            "import rotation_lambda.handler\n"
            "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
            "print(json.dumps(sorted(new - set(sys.stdlib_module_names))))\n"
        )
    )

    assert extra == ["rotation_lambda"]


def test_the_zipped_package_is_under_twenty_five_kilobytes():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for source in sorted(PACKAGE.glob("*.py")):
            zipped.write(source, f"rotation_lambda/{source.name}")

    assert len(archive.getvalue()) < 25_000


def test_the_package_is_only_python_sources():
    assert {path.suffix for path in PACKAGE.iterdir()} == {".py"}
