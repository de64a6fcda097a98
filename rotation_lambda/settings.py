"""Configuration from environment variables, parsed per invocation: not at import, so a bad
variable fails the invocation with a clear message and a log line, not an opaque
Runtime.ImportModuleError.

Isolated mode (IAM_USER_NAME) serves one user and secret; shared mode (IAM_USER_PATH,
SECRET_NAME_PREFIX) a stack's secrets, each bound to its user by `bind`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from rotation_lambda.errors import ConfigurationError, SecretStateError

# IAM's own constraints on user names: 1-64 characters from this set.
_USER_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Lambda's hard limit on a function's timeout; a longer wait could never finish.
_MAX_PROPAGATION_TIMEOUT_SECONDS = 900.0
# A year and a day: longer than any rotation period the program accepts, and far from the
# values that overflow a timedelta (an absurd number is a configuration error, not a crash).
MAX_PREVIOUS_KEY_GRACE_HOURS = 8_784.0
# On the secret: the NAME of its user (components.contract keeps the same name).
SECRET_USER_TAG = "ai-credential-rotation:user"  # noqa: S105
# IAM's path syntax, and the characters of a secret's name.
_USER_PATH = re.compile(r"/(?:[\x21-\x7e]{0,510}/)?", re.ASCII)
_SECRET_NAME_PREFIX = re.compile(r"[\w/+=.@-]{1,256}", re.ASCII)
_SECRET_ARN = re.compile(
    r"arn:(aws[a-z-]*):secretsmanager:[a-z0-9-]+:(\d{12}):secret:[\w/+=.@-]{1,512}"
)


@dataclass(frozen=True)
class SharedScope:
    """Shared mode: which secrets and users the function may serve (as deployed)."""

    user_path: str
    secret_name_prefix: str


@dataclass(frozen=True)
class Settings:
    """Validated configuration for one invocation.

    In shared mode the user fields stay empty until `bind` fills them (and secret_arn).
    """

    iam_user_name: str
    iam_user_arn: str
    propagation_timeout_seconds: float = 60.0
    previous_key_grace: timedelta = timedelta(hours=24)
    log_level: int = logging.INFO
    region: str | None = None
    # The one secret this function serves, when bound (the component always binds it).
    secret_arn: str | None = None
    # Set in shared mode only.
    shared: SharedScope | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate the variables; raise ConfigurationError naming the fix."""
        return replace(
            cls._mode(environ),
            propagation_timeout_seconds=_number(
                environ,
                "PROPAGATION_TIMEOUT_SECONDS",
                default=60.0,
                maximum=_MAX_PROPAGATION_TIMEOUT_SECONDS,
                unit="seconds",
            ),
            previous_key_grace=timedelta(
                hours=_number(
                    environ,
                    "PREVIOUS_KEY_GRACE_HOURS",
                    default=24.0,
                    maximum=MAX_PREVIOUS_KEY_GRACE_HOURS,
                    unit="hours",
                )
            ),
            log_level=_log_level(environ.get("LOG_LEVEL", "").strip()),
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None,
        )

    @classmethod
    def _mode(cls, environ: Mapping[str, str]) -> Settings:
        """The mode's own fields: IAM_USER_NAME present means isolated, else shared."""
        user_name = environ.get("IAM_USER_NAME", "").strip()
        if user_name:
            if not _USER_NAME.fullmatch(user_name):
                raise ConfigurationError(
                    f"IAM_USER_NAME={_shown(user_name)} is not a valid IAM user name: set it to"
                    " the user's exact name (1-64 letters, digits or +=,.@_- characters)"
                )
            return cls(
                iam_user_name=user_name,
                iam_user_arn=_user_arn(environ.get("IAM_USER_ARN", "").strip(), user_name),
                secret_arn=_secret_arn(environ.get("SECRET_ARN", "").strip()),
            )
        if not environ.get("IAM_USER_PATH", "").strip():
            raise ConfigurationError(
                "IAM_USER_NAME is not set, nor is IAM_USER_PATH: to rotate one user's key, set"
                " it, IAM_USER_ARN and SECRET_ARN; to serve a stack's secrets, set IAM_USER_PATH"
                " and SECRET_NAME_PREFIX"
            )
        return cls(iam_user_name="", iam_user_arn="", shared=_shared(environ))


def _shared(environ: Mapping[str, str]) -> SharedScope:
    user_path = environ.get("IAM_USER_PATH", "").strip()
    if not _USER_PATH.fullmatch(user_path):
        raise ConfigurationError(
            f"IAM_USER_PATH={_shown(user_path)} is not an IAM path: set it to the users' path"
            " (e.g. /ai-credential-rotation/)"
        )
    prefix = environ.get("SECRET_NAME_PREFIX", "").strip()
    if not _SECRET_NAME_PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            f"SECRET_NAME_PREFIX={_shown(prefix)} is not the start of a secret name: set it to"
            " the start of its secrets' names (e.g. credrot-; letters, digits or /_+=.@-)"
        )
    return SharedScope(user_path=user_path, secret_name_prefix=prefix)


def bind(settings: Settings, described: Mapping[str, Any]) -> Settings:
    """Shared mode: `settings` bound to the described secret and its user (unchanged in
    isolated mode or once bound).

    The user comes from what only the deployer sets, never from the value (a reader may write
    it): the secret's immutable Name has the prefix and its tag names the user, whose own tag
    must name this secret back before any IAM write (protocol._check_user_binding)."""
    scope = settings.shared
    if scope is None or settings.iam_user_name:
        return settings
    arn = str(described.get("ARN"))
    tags = {tag.get("Key"): str(tag.get("Value")) for tag in described.get("Tags") or []}
    user_name = tags.get(SECRET_USER_TAG, "")
    parts = _SECRET_ARN.fullmatch(arn)
    if not str(described.get("Name")).startswith(scope.secret_name_prefix) or parts is None:
        problem = f"its name does not start with SECRET_NAME_PREFIX {scope.secret_name_prefix!r}"
    elif not _USER_NAME.fullmatch(user_name):
        problem = f"its tag {SECRET_USER_TAG}={_shown(user_name)} names no IAM user"
    else:
        partition, account = parts.groups()
        return replace(
            settings,
            iam_user_name=user_name,
            iam_user_arn=f"arn:{partition}:iam::{account}:user{scope.user_path}{user_name}",
            secret_arn=arn,
        )
    raise SecretStateError(
        f"secret {arn[:512]} is not one this function may rotate: {problem}. Rotate it with"
        " its own stack's function, or re-deploy (`pulumi up`) to restore the tag"
    )


def _user_arn(value: str, user_name: str) -> str:
    # testSecret compares the new key's identity with this exact ARN (path included); the
    # role has no iam:GetUser to look it up, so it is required.
    if not value:
        raise ConfigurationError(
            f"IAM_USER_ARN is not set: set it to the ARN of IAM user {user_name!r}"
            f" (arn:aws:iam::<account>:user/<path/>{user_name}); testSecret requires the"
            " new key to authenticate as exactly that ARN"
        )
    pattern = rf"arn:aws[a-z-]*:iam::\d{{12}}:user/(?:[^/]+/)*{re.escape(user_name)}"
    if not re.fullmatch(pattern, value):
        raise ConfigurationError(
            f"IAM_USER_ARN={_shown(value)} is not the ARN of IAM user {user_name!r}"
            f" (IAM_USER_NAME): set it to arn:aws:iam::<account>:user/<path/>{user_name}"
        )
    return value


def _shown(raw: str, limit: int = 80) -> str:
    """A value for an error message, cut short: messages end up in logs, which must never
    carry an unbounded field."""
    return repr(raw[:limit]) + ("..." if len(raw) > limit else "")


def _secret_arn(value: str) -> str | None:
    # Empty means unset: deployment tools often render an absent value as "".
    if not value:
        return None
    if not _SECRET_ARN.fullmatch(value):
        raise ConfigurationError(
            f"SECRET_ARN={_shown(value)} is not a Secrets Manager secret ARN: set it to the ARN"
            " of the one secret this function rotates, or leave it unset"
        )
    return value


def _number(
    environ: Mapping[str, str],
    name: str,
    *,
    default: float,
    unit: str,
    maximum: float = math.inf,
) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    bound = f"from 0 to {maximum:g}" if math.isfinite(maximum) else "of 0 or more"
    fix = f"set a number of {unit} {bound}, or leave it unset (default {default:g})"
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={_shown(raw)} is not a number: {fix}") from None
    if not math.isfinite(value) or not 0 <= value <= maximum:
        raise ConfigurationError(f"{name}={_shown(raw)} is out of range: {fix}")
    return value


def _log_level(raw: str) -> int:
    if not raw:
        return logging.INFO
    if raw.upper() not in _LOG_LEVELS:
        raise ConfigurationError(
            f"LOG_LEVEL={_shown(raw)} is not a log level: use one of {', '.join(_LOG_LEVELS)}"
            " or leave it unset (default INFO)"
        )
    return logging.getLevelNamesMapping()[raw.upper()]
