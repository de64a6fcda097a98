"""A workload's local copy of its rotated key: one JSON file, readable by its owner only.

Used where a workload outside AWS refreshes its key with the key itself (self-read): by
``credrot credential-process`` and by ``credrot.app.client.session(self_read=True)``.
``credrot export`` seeds it once with the operator's credentials.

- The file is created with mode 0600 in one ``os.open`` (never widened by a later chmod)
  and replaced atomically: a temporary file in the same directory, fsync, ``os.replace``,
  fsync of the directory. A reader sees the old file or the new one, never a torn one.
- Writers serialise on ``fcntl.flock`` of a sidecar lock file (``<cache>.lock``, 0600), so
  concurrent processes refresh the key once, not once each. Readers need no lock.
- The default location is ``~/.cache/credrot/<sha256 of the secret id>.json`` (or under
  ``$XDG_CACHE_HOME``), in a directory created with mode 0700.

POSIX only (fcntl). Errors never quote the file's content.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from credrot.errors import CredentialError

__all__ = ["CACHE_FORMAT", "CachedKey", "KeyCache", "default_cache_path"]

CACHE_FORMAT = 1
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


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
        try:
            fetched_at = datetime.fromisoformat(data["FetchedAt"])
        except ValueError:
            raise CredentialError(f"{where} has an invalid FetchedAt date") from None
        if fetched_at.tzinfo is None:
            raise CredentialError(f"{where} has a FetchedAt date without a time zone")
        return cls(
            secret_id=data["SecretId"],
            user_name=data["UserName"],
            access_key_id=data["AccessKeyId"],
            secret_access_key=data["SecretAccessKey"],
            fetched_at=fetched_at,
            region=data.get("Region") if isinstance(data.get("Region"), str) else None,
            profile=data.get("Profile") if isinstance(data.get("Profile"), str) else None,
        )


def default_cache_path(secret_id: str) -> Path:
    """``~/.cache/credrot/<sha256 of secret_id, 32 hex>.json`` (``$XDG_CACHE_HOME`` honoured)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(secret_id.encode("utf-8")).hexdigest()[:32]
    return root / "credrot" / f"{digest}.json"


class KeyCache:
    """The cache file at ``path`` and its sidecar lock file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def __repr__(self) -> str:
        return f"KeyCache({str(self.path)!r})"

    def load(self) -> CachedKey | None:
        """The cached key, or None if there is no cache file yet."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise CredentialError(f"cannot read key cache {self.path}: {error.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError:
            # `from None`: the decode error would carry the document, secret included.
            raise CredentialError(f"key cache {self.path} is not JSON") from None
        return CachedKey.from_json(data, f"key cache {self.path}")

    def store(self, key: CachedKey) -> None:
        """Replace the cache file atomically with ``key`` (mode 0600 from creation)."""
        self.ensure_directory()
        encoded = (json.dumps(key.to_json(), indent=2) + "\n").encode("utf-8")
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(encoded)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _fsync_directory(self.path.parent)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive writer lock (blocks until other writers are done)."""
        import fcntl  # here, not at the top: importing credrot.app.client must work off POSIX

        self.ensure_directory()
        descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            # Closing the descriptor releases the lock.
            os.close(descriptor)

    def ensure_directory(self) -> None:
        """Create the cache's directory (mode 0700) if it does not exist."""
        self.path.parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)


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
