"""The rotation Lambda's zip: exactly the package's .py files, byte-identical across builds."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components.contract import HANDLER
from components.packaging import (
    LAMBDA_PACKAGE_DIR,
    build_lambda_zip,
    source_code_hash,
    write_lambda_zip,
)
from components.shared_rotator import rotation_lambda_archive

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def python_sources(package_dir: Path) -> dict[str, bytes]:
    """The package's .py files by archive entry name, found independently of the code under test."""
    sources = {}
    for folder, subfolders, files in os.walk(package_dir):
        subfolders[:] = [name for name in subfolders if name != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = Path(folder, name)
                entry = f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}"
                sources[entry] = path.read_bytes()
    return sources


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of rotation_lambda/ to dirty (the real one belongs to the Lambda's authors)."""
    copy = tmp_path / "elsewhere" / "rotation_lambda"
    shutil.copytree(LAMBDA_PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return copy


def test_the_archive_holds_exactly_the_packages_python_files() -> None:
    data = build_lambda_zip(LAMBDA_PACKAGE_DIR, handler=HANDLER)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
        infos = archive.infolist()
    assert contents == python_sources(LAMBDA_PACKAGE_DIR)
    assert "rotation_lambda/handler.py" in contents
    assert [info.filename for info in infos] == sorted(contents)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.compress_type == zipfile.ZIP_DEFLATED


def test_rebuilding_gives_the_same_bytes() -> None:
    assert build_lambda_zip(LAMBDA_PACKAGE_DIR, handler=HANDLER) == build_lambda_zip(
        LAMBDA_PACKAGE_DIR, handler=HANDLER
    )


def test_touched_files_bytecode_and_another_folder_change_nothing(package_copy: Path) -> None:
    original = build_lambda_zip(LAMBDA_PACKAGE_DIR, handler=HANDLER)
    for path in package_copy.glob("*.py"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
        path.chmod(0o755)
    cache = package_copy / "__pycache__"
    cache.mkdir()
    (cache / "handler.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (cache / "stray.py").write_text("never shipped\n")
    (package_copy / "handler.pyc").write_bytes(b"\x00bytecode")
    (package_copy / "notes.txt").write_text("not code\n")
    assert build_lambda_zip(package_copy, handler=HANDLER) == original


def test_a_separate_process_builds_the_same_hash() -> None:
    script = (
        "from pathlib import Path; from components.packaging import build_lambda_zip, "
        "source_code_hash; "
        f"print(source_code_hash(build_lambda_zip(Path({str(LAMBDA_PACKAGE_DIR)!r}), "
        f"handler={HANDLER!r})))"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "12345"}
    printed = subprocess.run(  # noqa: S603 (our own interpreter, our own script)
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert printed == source_code_hash(build_lambda_zip(LAMBDA_PACKAGE_DIR, handler=HANDLER))


def test_a_changed_file_changes_the_hash(package_copy: Path) -> None:
    original = build_lambda_zip(package_copy, handler=HANDLER)
    with (package_copy / "handler.py").open("a") as handler:
        handler.write("\n")
    assert build_lambda_zip(package_copy, handler=HANDLER) != original


def test_a_handler_module_missing_from_the_package_is_refused(package_copy: Path) -> None:
    with pytest.raises(ValueError, match=r"handler: 'rotation_lambda\.main\.lambda_handler' needs"):
        build_lambda_zip(package_copy, handler="rotation_lambda.main.lambda_handler")


def test_the_zip_is_written_once_under_a_stable_name(package_copy: Path, tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    written = write_lambda_zip(package_copy, build_dir, handler=HANDLER)
    data = written.path.read_bytes()
    assert written.path == build_dir / "rotation_lambda.zip"
    assert data == build_lambda_zip(package_copy, handler=HANDLER)
    assert written.source_code_hash == base64.b64encode(hashlib.sha256(data).digest()).decode()
    modified = written.path.stat().st_mtime_ns
    assert write_lambda_zip(package_copy, build_dir, handler=HANDLER) == written
    assert written.path.stat().st_mtime_ns == modified  # unchanged code rewrites nothing
    with (package_copy / "handler.py").open("a") as handler:
        handler.write("\n")
    rewritten = write_lambda_zip(package_copy, build_dir, handler=HANDLER)
    assert rewritten.path == written.path
    assert rewritten.source_code_hash != written.source_code_hash
    assert sorted(p.name for p in build_dir.iterdir()) == ["rotation_lambda.zip"]


def test_the_program_writes_its_zip_under_the_git_ignored_build_folder() -> None:
    archive = rotation_lambda_archive()
    assert archive.path.parent == PROJECT_ROOT / "build"
    assert "build/" in (PROJECT_ROOT / ".gitignore").read_text().split()
    assert archive.path.read_bytes() == build_lambda_zip(LAMBDA_PACKAGE_DIR, handler=HANDLER)
