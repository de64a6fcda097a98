"""Structured decision logs: one JSON line per decision, formatted only if emitted.

Lines carry ids, ARNs, steps, decisions and outcomes; callers never pass secret material
(a SecretString or SecretAccessKey), and nothing here reads secret values. Only the
"rotation_lambda" logger is configured: raising botocore's level instead would make it log
request bodies, which include PutSecretValue's SecretString.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypedDict

from botocore.exceptions import ClientError

LOGGER_NAME = "rotation_lambda"
# Longest text a log field carries: ids and ARNs fit; an event field, an AWS error message or
# a value someone typed could be anything, and a log line never echoes it unbounded.
MAX_FIELD_CHARACTERS = 512
logger = logging.getLogger(LOGGER_NAME)


class _JsonLine:
    """Defers json.dumps until a handler actually formats the record."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        return json.dumps(self.fields, default=str, sort_keys=False)


def log_decision(
    *,
    step: str,
    secret: str,
    decision: str,
    outcome: str,
    token: str | None = None,
    key_ids: tuple[str, ...] | list[str] = (),
    level: int = logging.INFO,
    **details: Any,
) -> None:
    """Log one decision as a JSON object (step or action, secret, token, keys, outcome)."""
    if not logger.isEnabledFor(level):
        return
    fields: dict[str, Any] = {"step": step, "secret": secret}
    if token is not None:
        fields["token"] = token
    fields["decision"] = decision
    fields["outcome"] = outcome
    if key_ids:
        fields["key_ids"] = list(key_ids)
    fields.update(details)
    logger.log(level, "%s", _JsonLine({name: _bounded(value) for name, value in fields.items()}))


def _bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARACTERS:
        return value[:MAX_FIELD_CHARACTERS] + "...(cut)"
    if isinstance(value, list):
        return [_bounded(item) for item in value[:20]]
    return value


class ErrorFields(TypedDict):
    """The cause of a failure as logged: error code (or type) and message."""

    error: str
    message: str


def error_fields(error: BaseException) -> ErrorFields:
    """Error code and message for a log line: AWS error text, never secret data."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return {"error": details.get("Code", "ClientError"), "message": details.get("Message", "")}
    return {"error": type(error).__name__, "message": str(error)}
