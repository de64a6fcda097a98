"""A workload's local copy of its rotated key: one JSON file, readable by its owner only.

Used where a workload outside AWS refreshes its key with the key itself (self-read): by
``credrot credential-process`` and by ``credrot.client.session(self_read=True)``.
``credrot export`` seeds it once with the operator's credentials.

- The file is created with mode 0600 in one ``os.open`` (never widened by a later chmod)
  and replaced atomically: a temporary file in the same directory, fsync, ``os.replace``,
  fsync of the directory. A reader sees the old file or the new one, never a torn one.
- Writers serialise on ``fcntl.flock`` of a sidecar lock file (``<cache>.lock``, 0600), so
  concurrent processes refresh the key once, not once each. Readers need no lock. A lock
  held longer than ``lock_timeout`` is an error, not a hang.
- The default location is ``~/.cache/credrot/<sha256 of the secret id>.json`` (or under
  ``$XDG_CACHE_HOME``); missing directories are created 0700, one by one.

Whoever can write into the cache's directory chain can plant a key (an attacker's key with a
far-away date would be served for ever), so before any use: every directory from the cache's
(resolved) directory up to ``/`` must belong to this user or root and be writable by no one
else (a sticky directory such as /tmp excepted); the file and its lock must be regular
files of this user, opened without following a symlink. A cache readable by others is
repaired to 0600, with a warning (its key may have leaked). OS errors become
``CacheFileError`` naming the path; errors never carry the file's content, not even in
their ``__context__``.

POSIX only (fcntl).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from credrot.errors import CredentialError, FileAccessError, describe_os_error

__all__ = [
    "CACHE_FORMAT",
    "CacheFileError",
    "CachedKey",
    "KeyCache",
    "LockTimeoutError",
    "UnsafeCacheError",
    "default_cache_path",
]

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
DEFAULT_LOCK_TIMEOUT = 20.0
# FetchedAt outside these years is damage, not a date (and would overflow date arithmetic).
_SANE_YEARS = range(2000, 3000)
_MAX_CACHE_BYTES = 64 * 1024


class CacheFileError(FileAccessError, CredentialError):
    """The cache (or its directory or lock) cannot be read or written: an OS error."""


class LockTimeoutError(CacheFileError):
    """Another process held the cache's lock for longer than the timeout."""


class UnsafeCacheError(CredentialError):
    """The cache's file or directory chain could be (or was) written by another user."""


def os_error(action: str, path: Path | str, error: OSError) -> CacheFileError:
    """``error`` as a one-line CacheFileError naming ``path`` (see credrot.errors)."""
    return CacheFileError(describe_os_error(action, path, error))


@dataclass(frozen=True)
class CachedKey:
    """The key last read from the secret, and when; ``repr()`` hides the secret part."""

    secret_id: str
    user_name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    fetched_at: datetime
    region: str | None = None
    # The AWS profile whose credential_process uses this cache (for re-seeding advice).
    profile: str | None = None

    def fresh_until(self, refresh_seconds: float) -> datetime:
        """The end of this key's refresh window: until then, no AWS call is needed."""
        return self.fetched_at + timedelta(seconds=refresh_seconds)

    def is_fresh(self, now: datetime, refresh_seconds: float) -> bool:
        """Inside its refresh window. A FetchedAt in the future is distrusted (a clock set
        back, or a planted file meant to freeze the key): the key is read again."""
        return self.fetched_at <= now < self.fresh_until(refresh_seconds)

    def to_json(self) -> dict[str, Any]:
        """The file's content (it holds the secret access key: write it only to the cache)."""
        return {
            "Format": CACHE_FORMAT,
            "SecretId": self.secret_id,
            "UserName": self.user_name,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "FetchedAt": self.fetched_at.astimezone(UTC).isoformat(),
            "Region": self.region,
            "Profile": self.profile,
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> CachedKey:
        """Parse a cache file's content; CredentialError (without the content) if malformed."""
        if not isinstance(data, dict) or data.get("Format") != CACHE_FORMAT:
            raise CredentialError(f"{where} is not a credrot key cache (format {CACHE_FORMAT})")
        texts = ("SecretId", "UserName", "AccessKeyId", "SecretAccessKey", "FetchedAt")
        if not all(isinstance(data.get(name), str) and data[name] for name in texts):
            raise CredentialError(f"{where} lacks one of {', '.join(texts)}")
        fetched_at = _date(data["FetchedAt"])
        if fetched_at is None:
            # Raised here, not in an except block: the ValueError would quote the date.
            raise CredentialError(f"{where} has an invalid FetchedAt date")
        if fetched_at.tzinfo is None:
            raise CredentialError(f"{where} has a FetchedAt date without a time zone")
        if fetched_at.year not in _SANE_YEARS:
            raise CredentialError(f"{where} has an absurd FetchedAt date (year {fetched_at.year})")
        return cls(
            secret_id=data["SecretId"],
            user_name=data["UserName"],
            access_key_id=data["AccessKeyId"],
            secret_access_key=data["SecretAccessKey"],
            fetched_at=fetched_at,
            region=data.get("Region") if isinstance(data.get("Region"), str) else None,
            profile=data.get("Profile") if isinstance(data.get("Profile"), str) else None,
        )


def _date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def default_cache_path(secret_id: str) -> Path:
    """``~/.cache/credrot/<sha256 of secret_id, 32 hex>.json`` (``$XDG_CACHE_HOME`` honoured)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(secret_id.encode("utf-8")).hexdigest()[:32]
    return root / "credrot" / f"{digest}.json"


class KeyCache:
    """The cache file at ``path`` and its sidecar lock file."""

    def __init__(
        self, path: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        self.path = Path(path).expanduser().absolute()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"KeyCache({str(self.path)!r})"

    def load(self) -> CachedKey | None:
        """The cached key, or None if there is no cache file yet."""
        directory = self._directory(create=False)
        if directory is None:
            return None
        path = directory / self.path.name
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise _unless_symlink(path, error, "read the key cache") from None
        try:
            self._check_file(descriptor, path)
            raw = os.read(descriptor, _MAX_CACHE_BYTES + 1)
        except OSError as error:
            raise os_error("read the key cache", path, error) from None
        finally:
            os.close(descriptor)
        return _parse(raw, f"key cache {path}")

    def store(self, key: CachedKey) -> None:
        """Replace the cache file atomically with ``key`` (mode 0600 from creation)."""
        directory = self._directory(create=True)
        assert directory is not None
        path = directory / self.path.name
        encoded = (json.dumps(key.to_json(), indent=2) + "\n").encode("utf-8")
        try:
            _refuse_non_regular(path)
            replace_atomically(path, encoded, FILE_MODE)
        except OSError as error:
            raise os_error("write the key cache", path, error) from None
        _fsync_directory(directory)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive writer lock; CacheFileError after ``lock_timeout`` seconds."""
        import fcntl  # here, not at the top: importing credrot.client must work off POSIX

        directory = self._directory(create=True)
        assert directory is not None
        lock_path = directory / self.lock_path.name
        try:
            descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
        except OSError as error:
            raise _unless_symlink(lock_path, error, "open the cache lock") from None
        try:
            self._check_file(descriptor, lock_path)
            deadline = time.monotonic() + self.lock_timeout
            delay = 0.01
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeoutError(
                            f"timed out after {self.lock_timeout:g} s waiting for the lock"
                            f" {lock_path}: another process holds it and does not finish (a"
                            f" hung credrot refresh?); find it with `fuser {lock_path}`"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
            yield
        finally:
            # Closing the descriptor releases the lock.
            os.close(descriptor)

    def _directory(self, *, create: bool) -> Path | None:
        """The cache's directory, resolved and checked; None if it does not exist (and not
        ``create``)."""
        parent = self.path.parent
        try:
            if create:
                make_private_directories(parent)
            resolved = parent.resolve(strict=True)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise os_error("use the key cache directory", parent, error) from None
        check_directory_chain(resolved)
        return resolved

    def _check_file(self, descriptor: int, path: Path) -> None:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise CacheFileError(f"{path} is {_kind(status.st_mode)}: give a file path (--cache)")
        if status.st_uid != os.geteuid():
            raise UnsafeCacheError(
                f"{path} belongs to uid {status.st_uid}, not to this user (uid"
                f" {os.geteuid()}): someone else may have planted it; remove it and re-seed"
                " with `credrot export`"
            )
        if status.st_mode & 0o077:
            os.fchmod(descriptor, FILE_MODE)
            logger.warning(
                "credrot: %s was readable or writable by others (mode %04o): repaired to"
                " 0600. Its key may have leaked: consider `credrot revoke`",
                path,
                stat.S_IMODE(status.st_mode),
            )


def check_directory_chain(directory: Path) -> None:
    """Refuse ``directory`` (resolved) unless it and every parent belong to this user or
    root and no one else may write to them (a sticky, root-owned directory excepted)."""
    user = os.geteuid()
    for current in (directory, *directory.parents):
        try:
            status = os.stat(current)
        except OSError as error:
            raise os_error("check the key cache directory", current, error) from None
        if not stat.S_ISDIR(status.st_mode):
            raise CacheFileError(f"{current} is not a directory")
        if status.st_uid not in (user, 0):
            raise UnsafeCacheError(
                f"the key cache directory {current} belongs to uid {status.st_uid}, not to"
                f" this user (uid {user}) or root: it could plant a key there. Use a cache"
                " under a directory of your own (--cache)"
            )
        sticky_root = status.st_uid == 0 and status.st_mode & stat.S_ISVTX
        if status.st_mode & 0o022 and not sticky_root:
            raise UnsafeCacheError(
                f"the key cache directory {current} is writable by group or others (mode"
                f" {stat.S_IMODE(status.st_mode):04o}): they could plant a key there."
                f" `chmod go-w {current}`, or use a cache elsewhere (--cache)"
            )


def replace_atomically(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data``: a new file beside it (``mode`` from creation, never
    through a symlink), fsync, ``os.replace``. A reader sees the old file or the new one,
    never a torn one; the temporary file never stays. OSError passes through."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def make_private_directories(directory: Path) -> None:
    """mkdir -p, but each directory it creates is 0700 (Path.mkdir(parents=True) would
    leave the parents at the umask's default)."""
    missing = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for new in reversed(missing):
        try:
            os.mkdir(new, DIRECTORY_MODE)
        except FileExistsError:
            continue
        os.chmod(new, DIRECTORY_MODE)  # the umask may have narrowed it


def _refuse_non_regular(path: Path) -> None:
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(status.st_mode):
        raise UnsafeCacheError(f"{path} is a symbolic link: refusing to replace it")
    if not stat.S_ISREG(status.st_mode):
        raise CacheFileError(
            f"{path} is {_kind(status.st_mode)}: refusing to replace it; give a file path (--cache)"
        )


def _kind(mode: int) -> str:
    return "a directory, not a file" if stat.S_ISDIR(mode) else "not a regular file"


def _unless_symlink(path: Path, error: OSError, action: str) -> CredentialError:
    if error.errno == errno.ELOOP:
        return UnsafeCacheError(
            f"{path} is a symbolic link: credrot does not follow one there (another user"
            " could have planted it); replace it with the file itself"
        )
    return os_error(action, path, error)


def _parse(raw: bytes, where: str) -> CachedKey:
    """Parse the file's bytes. Every error is raised outside any ``except`` block: a
    decoding error keeps the whole document (``.doc``, ``.object``), which would otherwise
    travel along as the CredentialError's ``__context__``."""
    data: Any = None
    problem = None
    if len(raw) > _MAX_CACHE_BYTES:
        problem = f"{where} is too large to be a key cache"
    else:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            problem = (
                f"{where} is not UTF-8 JSON (damaged): remove it and re-seed with `credrot export`"
            )
    if problem is not None:
        raise CredentialError(problem)
    return CachedKey.from_json(data, where)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; some filesystems refuse to open a directory.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
