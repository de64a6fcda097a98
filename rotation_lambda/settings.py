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


@dataclass(frozen=True)
class Settings:
    """Validated configuration for one invocation."""

    iam_user_name: str
    iam_user_arn: str | None = None
    propagation_timeout_seconds: float = 60.0
    previous_key_grace: timedelta = timedelta(hours=24)
    log_level: int = logging.INFO
    region: str | None = None

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
                f"IAM_USER_NAME={user_name!r} is not a valid IAM user name: set it to the"
                " user's exact name (1-64 letters, digits or +=,.@_- characters)"
            )
        return cls(
            iam_user_name=user_name,
            iam_user_arn=_user_arn(environ.get("IAM_USER_ARN", "").strip(), user_name),
            propagation_timeout_seconds=_number(
                environ,
                "PROPAGATION_TIMEOUT_SECONDS",
                default=60.0,
                maximum=_MAX_PROPAGATION_TIMEOUT_SECONDS,
                unit="seconds",
            ),
            previous_key_grace=timedelta(
                hours=_number(environ, "PREVIOUS_KEY_GRACE_HOURS", default=24.0, unit="hours")
            ),
            log_level=_log_level(environ.get("LOG_LEVEL", "").strip()),
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None,
        )


def _user_arn(value: str, user_name: str) -> str | None:
    # Empty means unset: deployment tools often render an absent value as "".
    if not value:
        return None
    pattern = rf"arn:aws[a-z-]*:iam::\d{{12}}:user/(?:[^/]+/)*{re.escape(user_name)}"
    if not re.fullmatch(pattern, value):
        raise ConfigurationError(
            f"IAM_USER_ARN={value!r} is not the ARN of IAM user {user_name!r} (IAM_USER_NAME):"
            f" set it to arn:aws:iam::<account>:user/<path/>{user_name} or leave it unset"
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
        raise ConfigurationError(f"{name}={raw!r} is not a number: {fix}") from None
    if not math.isfinite(value) or not 0 <= value <= maximum:
        raise ConfigurationError(f"{name}={raw!r} is out of range: {fix}")
    return value


def _log_level(raw: str) -> int:
    if not raw:
        return logging.INFO
    if raw.upper() not in _LOG_LEVELS:
        raise ConfigurationError(
            f"LOG_LEVEL={raw!r} is not a log level: use one of {', '.join(_LOG_LEVELS)}"
            " or leave it unset (default INFO)"
        )
    return logging.getLevelNamesMapping()[raw.upper()]
