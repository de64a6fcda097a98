"""The stable import for app teams: ``from credrot.client import session``.

``session`` is defined here, the public contract that stays when internal modules move; the
refreshable credentials it attaches, and how they follow rotation, are in
``credrot.app.client``.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import boto3
import botocore.session
from botocore.exceptions import NoRegionError

from credrot.app.client import (
    READ_RETRIES,
    RetryOnceAfterRefresh,
    SecretCredentials,
    SelfReadCredentials,
)
from credrot.app.key_cache import KeyCache, default_cache_path
from credrot.app.secret import DEFAULT_REFRESH_SECONDS, region_of
from credrot.errors import CredentialError

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient

__all__ = ["session"]


def session(
    secret_id: str,
    *,
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    region_name: str | None = None,
    secrets_client: SecretsManagerClient | None = None,
    retry_on_auth_failure: bool = True,
    self_read: bool = False,
    cache_path: str | os.PathLike[str] | None = None,
) -> boto3.Session:
    """A boto3 Session authenticated with the access key in ``secret_id``.

    ``secret_id``: the secret's ARN (preferred: it also gives the region) or name.
    ``refresh_seconds``: how often the secret is re-read (default 900; keep it well under
    the rotation's previous-key grace period, 24 h by default).
    ``region_name``: region of the returned session and of the secret; default: the ARN's
    region, else the usual AWS_REGION/profile configuration.
    ``secrets_client``: the Secrets Manager client that reads the secret (default: one made
    from the ambient credentials, i.e. the app's own role, which needs the reader policy).
    ``retry_on_auth_failure``: refresh and retry once when AWS rejects a stale key
    (disable only to demonstrate why it matters).
    ``self_read``: for a workload outside AWS: read the secret with the key itself, from
    the key cache at ``cache_path`` (default: where ``credrot export`` puts it),
    which must have been seeded; the consumer needs ``selfRead``. A LockedOutError (a
    CredentialError) means the cached key was retired before it could be refreshed: an
    operator re-seeds with ``credrot export``.

    The secret is first read on the first AWS call; CredentialError (raised from that call)
    explains a secret with no key yet or a malformed value. Create clients from the session
    once and share them between threads: the credentials are thread-safe.
    """
    if not isinstance(secret_id, str) or not secret_id.strip():
        raise ValueError("secret_id: give the secret's ARN or name")
    if not (isinstance(refresh_seconds, int | float) and math.isfinite(refresh_seconds)) or (
        refresh_seconds <= 0
    ):
        raise ValueError(f"refresh_seconds={refresh_seconds!r}: give a positive number of seconds")
    region = region_name or region_of(secret_id)
    credentials: SecretCredentials
    if self_read:
        if secrets_client is not None:
            raise ValueError("secrets_client: not used with self_read=True (the key reads)")
        cache = KeyCache(cache_path or default_cache_path(secret_id))
        credentials = SelfReadCredentials(secret_id, cache, refresh_seconds, region)
    elif cache_path is not None:
        raise ValueError("cache_path: only used with self_read=True")
    else:
        credentials = _secret_credentials(secret_id, secrets_client, refresh_seconds, region)
    core = botocore.session.get_session()
    # botocore has no public setter; this is how refreshable credentials are attached.
    core._credentials = credentials  # type: ignore[attr-defined]
    if retry_on_auth_failure:
        # A needs-retry handler returns the delay before retrying; the stubs say None.
        core.register("needs-retry", RetryOnceAfterRefresh(credentials))  # type: ignore[arg-type]
    return boto3.Session(botocore_session=core, region_name=region)


def _secret_credentials(
    secret_id: str,
    secrets_client: SecretsManagerClient | None,
    refresh_seconds: float,
    region: str | None,
) -> SecretCredentials:
    if secrets_client is None:
        try:
            secrets_client = boto3.session.Session(region_name=region).client(
                "secretsmanager", config=READ_RETRIES
            )
        except NoRegionError:
            raise CredentialError(
                f"no AWS region for secret {secret_id}: pass its ARN or region_name=, or set"
                " AWS_REGION"
            ) from None
    return SecretCredentials(secret_id, secrets_client, refresh_seconds)
