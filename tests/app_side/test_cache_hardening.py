"""Secret material on disk: the key cache and `export` against hostile or broken files.

Real files and directories only. Ownership by another user is made with os.chown to uid
65534 (nobody), which needs root; full and read-only disks are small tmpfs mounts, which
need mount privileges (both skipped, with the reason, where unavailable). No AWS here but
for the two commands run against the emulator at the end.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from credrot.app.key_cache import (
    CachedKey,
    CacheFileError,
    KeyCache,
    LockTimeoutError,
    UnsafeCacheError,
    default_cache_path,
)
from credrot.app.secret import KeyRecord
from credrot.app.self_read import current_key
from credrot.errors import CredentialError
from credrot.ops.cli import main
from credrot.ops.limits import EXIT_FILE, EXIT_OK
from credrot.sandbox.emulator import Emulator

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:agent-AbCdEf"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
NEW_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
OTHER_UID = 65534
REPO = Path(__file__).resolve().parents[2]


def key(fetched_at: datetime | None = None) -> CachedKey:
    return CachedKey(ARN, "agent", "AKIAOLD", SECRET, fetched_at or datetime.now(UTC), None)


def seeded(path: Path, fetched_at: datetime | None = None) -> KeyCache:
    cache = KeyCache(path)
    cache.store(key(fetched_at))
    return cache


def next_key(_: CachedKey) -> KeyRecord:
    return KeyRecord("agent", "AKIANEW", NEW_SECRET)


def as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner to another user needs root")


def errors_in_chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def assert_carries_no_secret(error: BaseException) -> None:
    for link in errors_in_chain(error):
        for text in (str(link), repr(link), repr(link.args), repr(vars(link))):
            assert SECRET not in text, type(link).__name__


def assert_neither_loaded_nor_stored(path: Path, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        KeyCache(path).load()
    with pytest.raises(error, match=match):
        KeyCache(path).store(key())


def export(secret_arn: str, config: Path, cache: Path | None = None) -> int:
    """`credrot export` of the secret as the profile "agent" in ``config``, caching at ``cache``."""
    caching = [] if cache is None else ["--cache", str(cache)]
    return main(
        ["export", secret_arn, "--profile", "agent", "--config-file", str(config), *caching]
    )


# -- modes and owners -----------------------------------------------------------------------


def test_a_cache_readable_by_others_is_repaired_to_owner_only_with_a_warning(
    tmp_path: Path, caplog: Any
) -> None:
    cache = seeded(tmp_path / "c.json")
    os.chmod(cache.path, 0o644)
    with caplog.at_level(logging.WARNING):
        assert cache.load() is not None
    assert stat.S_IMODE(os.stat(cache.path).st_mode) == 0o600
    assert "mode 0644" in caplog.text and "repaired to 0600" in caplog.text
    assert SECRET not in caplog.text


def test_a_cache_file_of_another_user_is_refused(tmp_path: Path) -> None:
    as_root()
    cache = seeded(tmp_path / "c.json")
    os.chown(cache.path, OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafeCacheError, match=f"belongs to uid {OTHER_UID}") as raised:
        cache.load()
    assert_carries_no_secret(raised.value)


def test_a_cache_directory_of_another_user_is_refused_before_reading_or_writing(
    tmp_path: Path,
) -> None:
    as_root()
    planted = tmp_path / "planted"
    cache = seeded(planted / "c.json")
    os.chown(planted, OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafeCacheError, match=f"{planted} belongs to uid {OTHER_UID}"):
        cache.load()
    with pytest.raises(UnsafeCacheError):
        cache.store(key())


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_a_directory_in_the_chain_writable_by_group_or_others_is_refused(
    tmp_path: Path, mode: int
) -> None:
    shared = tmp_path / "shared"
    cache = seeded(shared / "private" / "c.json")
    os.chmod(shared, mode)
    with pytest.raises(UnsafeCacheError, match=f"{shared} is writable by group or others"):
        cache.load()


def test_a_sticky_root_directory_such_as_tmp_is_accepted_in_the_chain(tmp_path: Path) -> None:
    tmp = os.stat("/tmp")
    assert tmp.st_mode & stat.S_ISVTX and tmp.st_uid == 0  # what this test relies on
    assert str(tmp_path).startswith("/tmp/")
    assert seeded(tmp_path / "c.json").load() is not None


def test_missing_directories_are_created_owner_only_whatever_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg" / "cache"))
    previous = os.umask(0o000)
    try:
        seeded(default_cache_path(ARN))
    finally:
        os.umask(previous)
    for created in (tmp_path / "xdg", tmp_path / "xdg" / "cache", tmp_path / "xdg/cache/credrot"):
        assert stat.S_IMODE(os.stat(created).st_mode) == 0o700, created


# -- symlinks -------------------------------------------------------------------------------


def test_a_symlinked_cache_file_is_not_followed(tmp_path: Path) -> None:
    target = seeded(tmp_path / "real.json")
    link = tmp_path / "c.json"
    link.symlink_to(target.path)
    assert_neither_loaded_nor_stored(link, UnsafeCacheError, "symbolic link")
    assert link.is_symlink()


def test_a_symlinked_lock_file_is_not_followed(tmp_path: Path) -> None:
    cache = seeded(tmp_path / "c.json")
    victim = tmp_path / "victim"
    victim.write_text("unchanged")
    cache.lock_path.unlink(missing_ok=True)
    cache.lock_path.symlink_to(victim)
    with pytest.raises(UnsafeCacheError, match="symbolic link"), cache.locked():
        pass
    assert victim.read_text() == "unchanged"


def test_a_symlink_into_another_users_directory_is_refused(tmp_path: Path) -> None:
    as_root()
    theirs = tmp_path / "theirs"
    seeded(theirs / "c.json")
    os.chown(theirs, OTHER_UID, OTHER_UID)
    (tmp_path / "mine").symlink_to(theirs)
    with pytest.raises(UnsafeCacheError, match=f"belongs to uid {OTHER_UID}"):
        KeyCache(tmp_path / "mine" / "c.json").load()


# -- lock, dates, damage --------------------------------------------------------------------


def test_a_lock_held_too_long_is_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    cache = seeded(tmp_path / "c.json", datetime.now(UTC) - timedelta(hours=1))
    holder = os.open(cache.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        impatient = KeyCache(cache.path, lock_timeout=0.2)
        with pytest.raises(LockTimeoutError, match=r"timed out after 0\.2 s") as raised:
            current_key(impatient, ARN, 60, next_key)
        assert str(cache.lock_path) in str(raised.value)
    finally:
        os.close(holder)


def test_a_fetched_at_in_the_future_is_distrusted_and_the_key_read_again(
    tmp_path: Path,
) -> None:
    cache = seeded(tmp_path / "c.json", datetime.now(UTC) + timedelta(days=365 * 70))
    fresh, read = current_key(cache, ARN, 900, next_key)
    assert (fresh.access_key_id, read) == ("AKIANEW", True)
    stored = cache.load()
    assert stored is not None and stored.fetched_at <= datetime.now(UTC)


@pytest.mark.parametrize(
    "damage",
    [
        b"\xff\xfe" + SECRET.encode(),
        b'{"Format": 1, "SecretAccessKey": "' + SECRET.encode() + b'", "oops": ',
        b"not json " + SECRET.encode(),
    ],
    ids=["bad bytes", "truncated JSON", "not JSON"],
)
def test_a_damaged_cache_is_a_clear_error_carrying_none_of_its_content(
    tmp_path: Path, damage: bytes
) -> None:
    cache = seeded(tmp_path / "c.json")
    cache.path.write_bytes(damage)
    with pytest.raises(CredentialError, match="damaged") as raised:
        cache.load()
    assert_carries_no_secret(raised.value)
    assert raised.value.__context__ is None and raised.value.__cause__ is None


@pytest.mark.parametrize("fetched_at", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00"])
def test_an_absurd_date_is_a_clear_error_not_an_overflow(tmp_path: Path, fetched_at: str) -> None:
    cache = seeded(tmp_path / "c.json")
    document = json.loads(cache.path.read_text())
    document["FetchedAt"] = fetched_at
    cache.path.write_text(json.dumps(document))
    with pytest.raises(CredentialError, match="absurd FetchedAt") as raised:
        current_key(cache, ARN, 900, next_key)
    assert_carries_no_secret(raised.value)


def test_an_invalid_date_error_does_not_quote_the_date(tmp_path: Path) -> None:
    cache = seeded(tmp_path / "c.json")
    document = json.loads(cache.path.read_text())
    document["FetchedAt"] = SECRET
    cache.path.write_text(json.dumps(document))
    with pytest.raises(CredentialError, match="invalid FetchedAt") as raised:
        cache.load()
    assert_carries_no_secret(raised.value)


# -- what is not a file ---------------------------------------------------------------------


def test_a_directory_given_as_the_cache_is_refused_and_left_alone(tmp_path: Path) -> None:
    directory = tmp_path / "c.json"
    directory.mkdir(mode=0o700)
    assert_neither_loaded_nor_stored(directory, CacheFileError, "is a directory")
    assert directory.is_dir()


def test_a_fifo_given_as_the_cache_is_never_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "c.json"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(CacheFileError, match="not a regular file"):
        KeyCache(fifo).store(key())
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_path_through_a_file_is_an_os_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(CacheFileError, match="is not a directory"):
        KeyCache(tmp_path / "file" / "c.json").store(key())


# -- full and read-only disks ---------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs of this user's, mounted for the test."""
    mount = tmp_path / "disk"
    mount.mkdir(mode=0o700)
    mounted = subprocess.run(  # noqa: S603
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount)],  # noqa: S607
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)  # noqa: S603, S607


def fill(disk: Path) -> None:
    descriptor = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(descriptor, b"\0" * 4096)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(descriptor)


def read_only(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)  # noqa: S603, S607


def test_a_full_disk_is_a_cache_error_naming_the_path(small_disk: Path) -> None:
    cache = seeded(small_disk / "c.json", datetime.now(UTC) - timedelta(hours=1))
    fill(small_disk)
    with pytest.raises(CacheFileError, match="the disk is full") as raised:
        cache.store(key())
    assert str(small_disk) in str(raised.value)


def test_a_session_keeps_serving_a_key_when_the_cache_cannot_be_written(
    small_disk: Path, caplog: Any
) -> None:
    cache = seeded(small_disk / "c.json", datetime.now(UTC) - timedelta(hours=1))
    read_only(small_disk)
    with caplog.at_level(logging.WARNING):
        fresh, read = current_key(cache, ARN, 900, next_key)
    assert (fresh.access_key_id, read) == ("AKIANEW", True)
    assert "read-only" in caplog.text and SECRET not in caplog.text
    stored = cache.load()
    assert stored is not None and stored.access_key_id == "AKIAOLD"  # nothing written


def test_credential_process_on_a_read_only_disk_prints_the_new_key_and_warns(
    small_disk: Path, self_read_consumer: Any, emulator: Emulator, aws: Any
) -> None:
    cache = KeyCache(small_disk / "c.json")
    value = aws.current_value(self_read_consumer)
    cache.store(
        CachedKey(
            self_read_consumer.secret_arn,
            value["UserName"],
            value["AccessKeyId"],
            value["SecretAccessKey"],
            datetime.now(UTC) - timedelta(hours=1),
            emulator.region,
        )
    )
    read_only(small_disk)
    ran = credrot(
        "credential-process",
        "--secret-id",
        self_read_consumer.secret_arn,
        "--cache",
        str(cache.path),
        env={"AWS_ENDPOINT_URL": emulator.endpoint_url},
    )
    assert ran.returncode == EXIT_OK, ran.stderr
    assert json.loads(ran.stdout)["AccessKeyId"] == value["AccessKeyId"]
    assert "read-only" in ran.stderr and "Traceback" not in ran.stderr


# -- the command line -----------------------------------------------------------------------


def credrot(*argv: str, env: dict[str, str] | None = None, stdout: Any = subprocess.PIPE) -> Any:
    """The credrot command as a real process (tracebacks would show on stderr)."""
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "credrot", *argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: (p.parent / "file").write_text("") or None, "is not a directory"),
    ],
    ids=["a directory given as the cache", "a path through a file"],
)
def test_credential_process_cache_errors_are_error_lines_with_exit_six(
    tmp_path: Path, make: Any, expected: str
) -> None:
    target = tmp_path / "c.json"
    make(target)
    cache = target if target.exists() else tmp_path / "file" / "c.json"
    ran = credrot("credential-process", "--secret-id", ARN, "--cache", str(cache))
    assert ran.returncode == EXIT_FILE, ran.stderr
    assert ran.stderr.startswith("credrot: error:") and expected in ran.stderr
    assert "Traceback" not in ran.stderr


def test_output_to_a_full_device_is_an_error_line_not_a_traceback(tmp_path: Path) -> None:
    cache = seeded(tmp_path / "c.json")
    with open("/dev/full", "w") as full:
        ran = credrot(
            "credential-process", "--secret-id", ARN, "--cache", str(cache.path), stdout=full
        )
    assert ran.returncode == EXIT_FILE
    assert ran.stderr.startswith("credrot: error:") and "the disk is full" in ran.stderr
    assert "Traceback" not in ran.stderr and SECRET not in ran.stderr


def test_export_never_replaces_a_config_file_that_is_not_a_regular_file(
    self_read_consumer: Any, operator_env: Any, tmp_path: Path, capsys: Any
) -> None:
    fifo = tmp_path / "config"
    os.mkfifo(fifo, 0o600)
    code = export(self_read_consumer.secret_arn, fifo)
    assert code == EXIT_FILE
    assert "is not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("where", ["config", "cache"])
def test_export_to_a_directory_is_an_error_line_with_exit_six(
    self_read_consumer: Any, operator_env: Any, tmp_path: Path, capsys: Any, where: str
) -> None:
    directory = tmp_path / "dir"
    directory.mkdir()
    files = {"config": tmp_path / "config", "cache": tmp_path / "cache.json", where: directory}
    code = export(self_read_consumer.secret_arn, files["config"], files["cache"])
    err = capsys.readouterr().err
    assert code == EXIT_FILE, err
    assert err.startswith("credrot: error:") and "is a directory" in err
    assert directory.is_dir() and not any(directory.iterdir())


def test_export_on_a_read_only_disk_is_an_error_line_with_exit_six(
    self_read_consumer: Any, operator_env: Any, small_disk: Path, tmp_path: Path, capsys: Any
) -> None:
    read_only(small_disk)
    code = export(self_read_consumer.secret_arn, tmp_path / "config", small_disk / "cache.json")
    err = capsys.readouterr().err
    assert code == EXIT_FILE, err
    assert "read-only" in err and str(small_disk) in err


def test_the_emulators_environment_never_points_aws_config_file_at_dev_null(
    emulator: Emulator,
) -> None:
    variables = emulator.env()
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        assert variables[name] != os.devnull
        status = os.stat(variables[name])
        assert stat.S_ISREG(status.st_mode) and status.st_size == 0
