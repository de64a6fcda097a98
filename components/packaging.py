"""Deterministic zip of the rotation Lambda's package.

The bytes depend only on the package's ``*.py`` files, their paths and contents: entries are
sorted, every timestamp is 1980-01-01, every mode is 0644, and every entry is deflated at
level 9. So Lambda's CodeSha256 and Pulumi's ``source_code_hash`` change only when the code
does, never because a file was touched or a ``__pycache__`` appeared. (Deflate output is
fixed for a given zlib; a host with a different zlib build could produce other bytes for the
same code, which would cost one redundant code update, never a wrong deploy. Storing the
entries instead would make the zip 2.7 times larger, past the 20 KB budget.)
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

_FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644  # regular file, rw-r--r--
_COMPRESS_LEVEL = 9
_UNIX = 3  # ZipInfo.create_system: the mode above is a Unix mode on every build host


# The rotation Lambda's sources, packaged as they are (stdlib + boto3, which the runtime has).
LAMBDA_PACKAGE_DIR = Path(__file__).resolve().parent.parent / "rotation_lambda"


@dataclass(frozen=True)
class LambdaArchive:
    """A built archive on disk and the hash Lambda reports for it."""

    path: Path
    source_code_hash: str  # base64(sha256(zip bytes)), as Lambda's CodeSha256


def package_files(package_dir: Path) -> list[Path]:
    """The package's ``*.py`` files, sorted; bytecode caches never ship."""
    return sorted(
        path
        for path in package_dir.rglob("*.py")
        if path.is_file() and "__pycache__" not in path.relative_to(package_dir).parts
    )


def build_lambda_zip(package_dir: Path, *, handler: str) -> bytes:
    """Zip the package's ``*.py`` files under ``<package name>/`` so ``handler`` resolves.

    Raises a ValueError if the module named by ``handler`` (``package.module.function``)
    is not in the package: Lambda would otherwise fail only when first invoked.
    """
    entries = {
        f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}": path
        for path in package_files(package_dir)
    }
    handler_module = handler.rpartition(".")[0]
    handler_entry = handler_module.replace(".", "/") + ".py"
    if handler_entry not in entries:
        raise ValueError(
            f"handler: {handler!r} needs {handler_entry}, which is not among the *.py files of"
            f" {package_dir}; fix the handler or add the module"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIMESTAMP)
            info.create_system = _UNIX
            info.external_attr = _FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].read_bytes(), compresslevel=_COMPRESS_LEVEL)
    return buffer.getvalue()


def source_code_hash(data: bytes) -> str:
    """base64(sha256(data)): what Lambda reports as CodeSha256 for this zip."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def write_lambda_zip(package_dir: Path, build_dir: Path, *, handler: str) -> LambdaArchive:
    """Build the zip and write it as ``build_dir/<package name>.zip``.

    A stable name keeps one file per package however often the code changes. The file is
    replaced atomically, and only when its bytes differ, so an unchanged package rewrites
    nothing and a reader never sees a half-written zip.
    """
    data = build_lambda_zip(package_dir, handler=handler)
    path = build_dir / f"{package_dir.name}.zip"
    if not (path.is_file() and path.read_bytes() == data):
        build_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=build_dir, suffix=".tmp", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
    return LambdaArchive(path=path, source_code_hash=source_code_hash(data))
