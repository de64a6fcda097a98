"""A boto3 Session whose credentials are a secret's current access key, refreshed by themselves.

    from credrot.client import session
    s = session(SECRET_ARN)
    s.client("s3").get_object(Bucket=..., Key=...)

How it stays correct while the key rotates underneath the app:

- The credentials are botocore refreshable credentials attached to the session. They re-read
  the secret's AWSCURRENT value about once per refresh window (15 minutes by default, far
  inside the 24 h during which the rotation keeps the previous key working). Every thread
  waits for that one read: at most one GetSecretValue per window, however many calls and
  threads.
- A fleet started together must not re-read in lockstep: the first re-read comes after a
  random part of the window, each later one after the window ±20%. The draws come from one
  golden-ratio sequence per process (random start), so the sessions of a process spread
  evenly rather than merely at random. Reads back off on throttling (botocore's adaptive
  retry mode).
- A call rejected because the key is stale (deleted or deactivated after a rotation or a
  revoke) re-reads the secret at once and is retried once, re-signed with the new key. Threads
  failing with the same stale key share one re-read.
- If a scheduled re-read fails (Secrets Manager unreachable, secret edited into a bad value),
  the session keeps the key it has, logs a warning and tries again next window; only the very
  first read raises.

Secret material never appears in logs, exceptions or ``repr()``.

Outside AWS, with no identity that could read the secret, ``session(ARN, self_read=True)``
reads it with the key itself, starting from the key cache that ``credrot export``
seeded (``credrot.app.self_read``, ``credrot.app.key_cache``); the consumer needs ``selfRead``.
Processes sharing the cache (other sessions, the credential_process of any SDK) refresh it
once per window between them.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.credentials import DeferredRefreshableCredentials, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ClientError

from credrot.app.key_cache import KeyCache
from credrot.app.secret import (
    REJECTED_KEY_CODES,
    KeyRecord,
    current_record,
    get_value,
)
from credrot.app.self_read import current_key, read_with_key
from credrot.errors import CredentialError

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "READ_RETRIES",
    "RetryOnceAfterRefresh",
    "SecretCredentials",
    "SelfReadCredentials",
]

logger = logging.getLogger(__name__)

_RETRIED = "credrot_retried_after_refresh"
# Each refresh window is the configured one ±20%: sessions drift apart instead of staying
# in step.
JITTER = 0.2
# botocore's adaptive mode backs off (and rate-limits the client) when AWS throttles.
READ_RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 5})
# Every refresh draw of this process: the golden-ratio sequence from a random start. Any run
# of consecutive draws covers [0, 1) evenly, so refreshes requested together spread evenly
# over their window (independent random draws would leave ~1.8x peaks among 100 sessions);
# the random start keeps processes apart.
_GOLDEN = (math.sqrt(5) - 1) / 2
_draws = (
    (start + index * _GOLDEN) % 1.0 for start in [random.random()] for index in itertools.count()
)
_draw_lock = threading.Lock()


def refresh_delay(window: float, draw: float, *, first: bool) -> float:
    """Seconds until the next read, from ``draw`` in [0, 1): the first re-read anywhere in
    (0, window], later ones window ±``JITTER``."""
    if first:
        return window * (1.0 - draw)
    return window * (1.0 - JITTER + 2 * JITTER * draw)


def _now() -> datetime:
    """The clock refresh windows are measured with (tests replace it)."""
    return datetime.now(UTC)


def _draw() -> float:
    with _draw_lock:
        return next(_draws)


class _RedactedReadOnlyCredentials(ReadOnlyCredentials):
    """botocore's frozen credentials, with a repr that hides the secret access key."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"ReadOnlyCredentials(access_key={self.access_key!r}, secret_key='<redacted>')"


class SecretCredentials(DeferredRefreshableCredentials):
    """Refreshable credentials backed by a Secrets Manager secret's AWSCURRENT value.

    The access key itself never expires; the "expiry" is when the secret is read again.
    Both of botocore's early-refresh windows (advisory 15 min, mandatory 10 min before
    expiry) are set to zero: with them a 15-minute window would refresh on every call.
    At zero, the first thread past the expiry reads the secret and the others wait for it.
    """

    _advisory_refresh_timeout = 0
    _mandatory_refresh_timeout = 0
    # botocore's private members this class relies on (fenced by
    # tests/app_side/test_botocore_compat.py), which its stubs leave out.
    _frozen_credentials: ReadOnlyCredentials | None
    _refresh_lock: threading.Lock
    _time_fetcher: Callable[[], datetime]
    _protected_refresh: Callable[..., None]

    def __init__(
        self,
        secret_id: str,
        secrets_client: SecretsManagerClient | None,
        refresh_seconds: float,
        *,
        time_fetcher: Callable[[], datetime] | None = None,
    ) -> None:
        clock = time_fetcher or (lambda: _now())
        super().__init__(
            refresh_using=self._read_secret, method="credrot-secret", time_fetcher=clock
        )
        self._secret_id = secret_id
        self._secrets_client = secrets_client
        self._refresh_window = timedelta(seconds=refresh_seconds)
        self._reads = 0
        # The credentials each thread signed its latest request with, so that an auth
        # failure refreshes only if those credentials are still the current ones.
        self._used = threading.local()

    def __repr__(self) -> str:
        return f"SecretCredentials(secret_id={self._secret_id!r})"

    def _is_expired(self) -> bool:
        # botocore asks this only just after a refresh, and raises if the window it was
        # given has already passed. A key has no expiry: a window that ran out while the
        # process stalled (busy CPU, GC, a short window) means "read again at the next
        # call", never a failed call now.
        return False

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        """The current credentials (refreshed first if the window is over)."""
        frozen = super().get_frozen_credentials()
        if type(frozen) is not _RedactedReadOnlyCredentials:
            frozen = self._redact(frozen)
        self._used.frozen = frozen
        return frozen

    def _redact(self, frozen: ReadOnlyCredentials) -> ReadOnlyCredentials:
        """Swap botocore's freshly published credentials for the redacted kind, once: under
        the refresh lock and only if no refresh replaced them meanwhile."""
        redacted = _RedactedReadOnlyCredentials(*frozen)
        if self._refresh_lock.acquire(blocking=False):
            try:
                if self._frozen_credentials is frozen:
                    self._frozen_credentials = redacted
                    return redacted
            finally:
                self._refresh_lock.release()
        # A refresh is under way: keep the object itself (refresh_after_auth_failure compares
        # identities); the next call redacts whatever that refresh publishes.
        return frozen

    def refresh_after_auth_failure(self) -> None:
        """Re-read the secret now, unless another thread did since this thread signed."""
        failed = getattr(self._used, "frozen", None)
        with self._refresh_lock:
            if failed is not None and self._frozen_credentials is not failed:
                return
            self._protected_refresh(is_mandatory=True)

    def _read_secret(self) -> dict[str, Any]:
        try:
            record = self._fetch()
        except (CredentialError, BotoCoreError) as error:
            if self._frozen_credentials is None:
                raise
            kept = self._frozen_credentials.access_key
            logger.warning(
                "credrot: could not refresh the key from secret %s (%s); keeping key %s and"
                " trying again in %.0f s",
                self._secret_id,
                error,
                kept,
                self._refresh_window.total_seconds(),
            )
            return self._metadata(kept, self._frozen_credentials.secret_key)
        return self._metadata(record.access_key_id, record.secret_access_key)

    def _fetch(self) -> KeyRecord:
        # Only SelfReadCredentials has no client, and it reads through its key cache.
        assert self._secrets_client is not None
        try:
            response = get_value(self._secrets_client, self._secret_id)
        except ClientError as error:
            details = error.response.get("Error", {})
            raise CredentialError(
                f"cannot read secret {self._secret_id}: {details.get('Code')}:"
                f" {details.get('Message')}. The app's own AWS identity needs"
                " secretsmanager:GetSecretValue on it (the component's reader policy)"
            ) from error
        return current_record(response, self._secret_id, then=" or wait for the first rotation")

    def _metadata(self, access_key: str | None, secret_key: str | None) -> dict[str, Any]:
        first = self._reads == 0
        self._reads += 1
        draw = _draw()
        window = self._refresh_window.total_seconds()
        expiry = self._time_fetcher() + timedelta(seconds=refresh_delay(window, draw, first=first))
        return {
            "access_key": access_key,
            "secret_key": secret_key,
            "token": None,
            "expiry_time": expiry.isoformat(),
        }


class SelfReadCredentials(SecretCredentials):
    """Credentials refreshed by reading the secret with the key itself, through a key cache.

    The read is signed by a one-off client with the cached key as static credentials: never
    by these refreshable credentials (whose refresh lock the read would wait on for ever).
    """

    def __init__(
        self, secret_id: str, cache: KeyCache, refresh_seconds: float, region: str | None
    ) -> None:
        super().__init__(secret_id, None, refresh_seconds)
        self._cache = cache
        self._region = region
        self._rejected_key_id: str | None = None

    def __repr__(self) -> str:
        return f"SelfReadCredentials(secret_id={self._secret_id!r}, cache={self._cache!r})"

    def refresh_after_auth_failure(self) -> None:
        """Move on from the rejected key: to the cache's, if another process already
        refreshed it, else to the secret's current one (read with the rejected key, which
        works while it is the previous key in its grace period)."""
        failed = getattr(self._used, "frozen", None)
        with self._refresh_lock:
            if failed is not None and self._frozen_credentials is not failed:
                return
            rejected = failed or self._frozen_credentials
            self._rejected_key_id = rejected.access_key if rejected is not None else None
            try:
                self._protected_refresh(is_mandatory=True)
            finally:
                self._rejected_key_id = None

    def _fetch(self) -> KeyRecord:
        key, _ = current_key(
            self._cache,
            self._secret_id,
            self._refresh_window.total_seconds(),
            lambda cached: read_with_key(cached, region=self._region, cache_path=self._cache.path),
            rejected_key_id=self._rejected_key_id,
        )
        return KeyRecord(key.user_name, key.access_key_id, key.secret_access_key)


class RetryOnceAfterRefresh:
    """needs-retry hook: on a stale-key rejection, refresh and retry the call once.

    botocore's own retry handlers are registered on more specific event names, so they run
    first; they return None for these error codes, which are not retryable for them.
    """

    def __init__(self, credentials: SecretCredentials) -> None:
        self._credentials = credentials

    def __call__(self, response: Any = None, request_dict: Any = None, **kwargs: Any) -> int | None:
        if response is None or request_dict is None:
            return None
        code = response[1].get("Error", {}).get("Code")
        context = request_dict["context"]
        if code not in REJECTED_KEY_CODES or context.get(_RETRIED):
            return None
        context[_RETRIED] = True
        try:
            self._credentials.refresh_after_auth_failure()
        except Exception as error:  # noqa: BLE001 - let the app see the original rejection
            logger.warning("credrot: refresh after %s failed: %s", code, error)
            return None
        logger.info("credrot: %s from AWS; re-read the secret, retrying the call once", code)
        return 0  # retry now; endpoint.py creates and signs a new request
