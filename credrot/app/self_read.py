"""Self-read: a workload outside AWS refreshes its rotated key with the key it already holds.

The workload has no other AWS identity ("secret zero"), so it reads its own secret with the
cached key (the consumer's ``selfRead`` policy allows exactly that, from its own networks)
and caches whatever AWSCURRENT holds now. ``current_key`` decides when to read, and does it
at most once per refresh window however many processes ask (``credrot.app.key_cache``);
``read_with_key`` and ``read_with_ambient`` are the two ways of reading.

Failures are typed so that callers can say what to do: ``LockedOutError`` (the cached key no
longer authenticates: an operator must re-seed with ``credrot export``),
``SelfReadDeniedError`` (the key works but may not read its secret from here),
``SecretUnreachableError`` (no answer from Secrets Manager). None carries secret material.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from credrot.app.key_cache import CachedKey, CacheFileError, KeyCache, LockTimeoutError
from credrot.app.secret import (
    REJECTED_KEY_CODES,
    KeyRecord,
    current_record,
    get_value,
    region_or_environment,
)
from credrot.errors import CredentialError

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "LockedOutError",
    "NotSeededError",
    "SecretUnreachableError",
    "SelfReadDeniedError",
    "aws_error",
    "current_key",
    "read_with_ambient",
    "read_with_key",
    "reseed_command",
]

logger = logging.getLogger(__name__)

_XML_CODE = re.compile(r"<Code>(?P<code>[^<]+)</Code>")
_XML_MESSAGE = re.compile(r"<Message>(?P<message>[^<]*)</Message>")
Reader = Callable[[CachedKey], KeyRecord]


class NotSeededError(CredentialError):
    """There is no cached key to start from."""


class LockedOutError(CredentialError):
    """The cached key no longer authenticates (deleted or deactivated by rotation)."""


class SelfReadDeniedError(CredentialError):
    """The cached key authenticates but may not read its own secret (from this address)."""


class SecretUnreachableError(CredentialError):
    """Secrets Manager did not answer (network, DNS, timeout)."""


def reseed_command(
    secret_id: str,
    profile: str | None,
    cache_path: os.PathLike[str] | str | None = None,
    config_file: str | None = None,
) -> str:
    """The operator's command that seeds (or re-seeds) the cache and the profile, repeating
    the --cache and --config-file in use (the SDK's AWS_CONFIG_FILE, by default)."""
    from credrot.app.key_cache import default_cache_path

    argv = ["credrot", "export", secret_id, "--profile", profile or "<profile>"]
    if cache_path is not None and Path(cache_path) != default_cache_path(secret_id):
        argv += ["--cache", str(cache_path)]
    config_file = config_file or os.environ.get("AWS_CONFIG_FILE")
    if config_file:
        argv += ["--config-file", config_file]
    return shlex.join(argv)


def current_key(
    cache: KeyCache,
    secret_id: str,
    refresh_seconds: float,
    read: Reader,
    *,
    rejected_key_id: str | None = None,
    now: Callable[[], datetime] | None = None,
) -> tuple[CachedKey, bool]:
    """The key to use now, and whether the secret was read for it.

    Within the cached key's refresh window the cache answers and no AWS call is made. After
    it, one caller (under the cache's lock) reads the secret with ``read`` and replaces the
    cache; callers that waited for the lock find the fresh key and make no call.
    ``rejected_key_id``: AWS just rejected this key; return another one (from the cache if
    someone already moved on, else from the secret), whatever the window says.
    """
    clock = now or (lambda: datetime.now(UTC))

    def usable(key: CachedKey) -> bool:
        if rejected_key_id is not None:
            return key.access_key_id != rejected_key_id
        return key.is_fresh(clock(), refresh_seconds)

    key = _load(cache, secret_id)
    if usable(key):
        return key, False
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(cache.locked())
        except LockTimeoutError:
            raise
        except CacheFileError as error:
            # No lock file possible (read-only directory...): refresh anyway, unshared.
            logger.warning("credrot: %s; refreshing without the lock", error)
        else:
            key = _load(cache, secret_id)
            if usable(key):
                return key, False
        record = read(key)
        assert record.access_key_id is not None and record.secret_access_key is not None
        fresh = CachedKey(
            secret_id=key.secret_id,
            user_name=record.user_name,
            access_key_id=record.access_key_id,
            secret_access_key=record.secret_access_key,
            fetched_at=clock(),
            region=key.region,
            profile=key.profile,
        )
        try:
            cache.store(fresh)
        except CacheFileError as error:
            # The key is good: serve it. The next refresh reads the secret again.
            logger.warning(
                "credrot: %s; using key %s without caching it", error, fresh.access_key_id
            )
        return fresh, True


def read_with_key(
    key: CachedKey, *, region: str | None = None, cache_path: Path | None = None
) -> KeyRecord:
    """AWSCURRENT of ``key.secret_id``, read with ``key`` itself (a one-off client with
    static credentials: never the credentials being refreshed, never a profile)."""
    client = _secrets_client(key, region, key.access_key_id, key.secret_access_key)
    return _read(client, key.secret_id, key, profile=key.profile, cache_path=cache_path)


def read_with_ambient(
    key: CachedKey, *, region: str | None = None, cache_path: Path | None = None
) -> KeyRecord:
    """AWSCURRENT of ``key.secret_id``, read with this host's own AWS identity: environment
    variables, a container's or an instance's role, and nothing else. Never a profile: the
    profile being served may be the very one whose credential_process runs this."""
    from botocore.credentials import (
        ContainerProvider,
        CredentialResolver,
        EnvProvider,
        InstanceMetadataFetcher,
        InstanceMetadataProvider,
    )

    resolver = CredentialResolver(
        [
            EnvProvider(),
            ContainerProvider(),
            InstanceMetadataProvider(InstanceMetadataFetcher(timeout=2, num_attempts=1)),
        ]
    )
    found = resolver.load_credentials()
    if found is None:
        raise CredentialError(
            "--ambient: this host has no AWS identity of its own (no AWS_ACCESS_KEY_ID, no"
            " container or instance role); drop --ambient to refresh with the cached key"
        )
    frozen = found.get_frozen_credentials()
    # Explicit credentials: the session never runs its credential chain (so never the
    # profile's credential_process); a profile only contributes region/endpoint settings.
    client = _secrets_client(key, region, frozen.access_key, frozen.secret_key, frozen.token)
    return _read(client, key.secret_id, None, profile=key.profile, cache_path=cache_path)


def aws_error(response: Mapping[str, Any]) -> tuple[str, str]:
    """(code, message) of an error response. Some emulators answer a JSON-protocol call
    with HTTP status "403" as the code and an XML error document as the message: the code
    and message inside that document are the real ones."""
    details = response.get("Error", {})
    code, message = str(details.get("Code", "")), str(details.get("Message", ""))
    inner = _XML_CODE.search(message)
    if code.isdigit() and inner:
        code = inner["code"]
        found = _XML_MESSAGE.search(message)
        message = found["message"] if found else ""
    return code, message


def _load(cache: KeyCache, secret_id: str) -> CachedKey:
    key = cache.load()
    if key is None:
        raise NotSeededError(
            f"no cached key for secret {secret_id} at {cache.path}: an operator seeds it once"
            f" with `{reseed_command(secret_id, None, cache.path)}` (operator credentials,"
            " run as the OS user the workload runs as)"
        )
    if key.secret_id != secret_id:
        raise CredentialError(
            f"key cache {cache.path} belongs to secret {key.secret_id}, not {secret_id}: give"
            " each secret its own --cache file"
        )
    return key


def _secrets_client(
    key: CachedKey,
    region: str | None,
    access_key: str | None,
    secret_key: str | None,
    token: str | None = None,
) -> SecretsManagerClient:
    """A Secrets Manager client for ``key``'s secret (in ``region``, else the key's, else the
    secret ARN's or the environment's), signing with exactly these credentials."""
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "secretsmanager",
        region_name=region or key.region or region_or_environment(key.secret_id),
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
        # adaptive: backs off (and rate-limits this client) when AWS throttles.
        config=Config(
            connect_timeout=5, read_timeout=10, retries={"mode": "adaptive", "max_attempts": 3}
        ),
    )
    # botocore (lighter to import than boto3) types its clients loosely; this one is.
    return cast("SecretsManagerClient", client)


def _read(
    client: SecretsManagerClient,
    secret_id: str,
    key: CachedKey | None,
    *,
    profile: str | None,
    cache_path: Path | None = None,
) -> KeyRecord:
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    reseed = f"An operator must re-seed it: `{reseed_command(secret_id, profile, cache_path)}`"
    try:
        response = get_value(client, secret_id)
    except ClientError as error:
        code, message = aws_error(error.response)
        if key is not None and code in REJECTED_KEY_CODES:
            raise LockedOutError(
                f"locked out: AWS rejects the cached key {key.access_key_id} ({code}), so it"
                f" cannot read the next key from secret {secret_id}. It was deleted or"
                " deactivated by rotation: the workload was offline (or idle) longer than the"
                " rotation allows, or the key was revoked. " + reseed
            ) from None
        if code == "403" or "AccessDenied" in code:
            who = f"key {key.access_key_id}" if key is not None else "this host's AWS identity"
            raise SelfReadDeniedError(
                f"{who} may not read secret {secret_id} ({code}: {message}). With the cached"
                " key this means the consumer has no selfRead, or this host's public address"
                " is outside its selfRead.sourceCidrs"
            ) from None
        raise CredentialError(
            f"cannot read secret {secret_id}: {code}: {message}. " + reseed
            if code == "ResourceNotFoundException"
            else f"cannot read secret {secret_id}: {code}: {message}"
        ) from None
    except EndpointConnectionError as error:
        raise SecretUnreachableError(
            f"cannot reach Secrets Manager to refresh the key of {secret_id}: {error}"
        ) from None
    except BotoCoreError as error:
        raise SecretUnreachableError(
            f"cannot refresh the key of {secret_id}: {type(error).__name__}: {error}"
        ) from None
    return current_record(response, secret_id)
