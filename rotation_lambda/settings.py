"""Configuration from environment variables, parsed per invocation.

Parsing happens inside the handler rather than at import so that a missing or bad variable
fails the invocation with a clear message (and a log line) instead of crashing the module
import, which Lambda reports only as an opaque Runtime.ImportModuleError.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from rotation_lambda.errors import ConfigurationError

# IAM's own constraints on user names: 1-64 characters from this set.
_USER_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Lambda's hard limit on a function's timeout; a longer wait could never finish.
_MAX_PROPAGATION_TIMEOUT_SECONDS = 900.0
# A year and a day: longer than any rotation period the program accepts, and far from the
# values that overflow a timedelta (an absurd number is a configuration error, not a crash).
MAX_PREVIOUS_KEY_GRACE_HOURS = 8_784.0
_SECRET_ARN = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]{1,512}"
)


@dataclass(frozen=True)
class Settings:
    """Validated configuration for one invocation."""

    iam_user_name: str
    iam_user_arn: str
    propagation_timeout_seconds: float = 60.0
    previous_key_grace: timedelta = timedelta(hours=24)
    log_level: int = logging.INFO
    region: str | None = None
    # The one secret this function serves, when bound (the component always binds it).
    secret_arn: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate the variables; raise ConfigurationError naming the fix."""
        user_name = environ.get("IAM_USER_NAME", "").strip()
        if not user_name:
            raise ConfigurationError(
                "IAM_USER_NAME is not set: set it to the name of the IAM user whose access key"
                " this function rotates (the only user it may touch)"
            )
        if not _USER_NAME.fullmatch(user_name):
            raise ConfigurationError(
                f"IAM_USER_NAME={_shown(user_name)} is not a valid IAM user name: set it to the"
                " user's exact name (1-64 letters, digits or +=,.@_- characters)"
            )
        return cls(
            iam_user_name=user_name,
            iam_user_arn=_user_arn(environ.get("IAM_USER_ARN", "").strip(), user_name),
            secret_arn=_secret_arn(environ.get("SECRET_ARN", "").strip()),
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
