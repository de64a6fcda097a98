"""Exceptions raised by the rotation Lambda.

Every class derives from RotationError (a ValueError): bad configuration, a bad event, a secret
in a state the protocol cannot continue from, or a key that does not work. Messages name the
field or value at fault and the fix, and never carry secret material (a SecretString, a
SecretAccessKey): they end up in CloudWatch Logs and in Secrets Manager's rotation status.
"""

from __future__ import annotations

from datetime import datetime


class RotationError(ValueError):
    """Base class: the rotation cannot proceed; nothing unsafe was done."""


class ConfigurationError(RotationError):
    """An environment variable is missing or invalid."""


class InvalidEventError(RotationError):
    """The invocation event is malformed or names an unknown step or action."""


class SecretStateError(RotationError):
    """The secret's rotation state does not allow this step (disabled, unknown token...)."""


class SecretValueError(RotationError):
    """A secret version's value is not the JSON object this function stores."""


class UserMismatchError(SecretValueError):
    """A secret version names an IAM user other than IAM_USER_NAME."""


class UnknownKeyError(RotationError):
    """The IAM user holds an Active access key that the secret has never recorded."""

    def __init__(self, message: str, key_ids: tuple[str, ...]) -> None:
        super().__init__(message)
        self.key_ids = key_ids


class KeyTestError(RotationError):
    """The pending access key did not authenticate as the expected IAM user."""


class KeyInGraceError(RotationError):
    """A new key needs room that only a key still inside its grace period could free."""

    def __init__(self, message: str, key_ids: tuple[str, ...], grace_ends: datetime | None) -> None:
        super().__init__(message)
        self.key_ids = key_ids
        self.grace_ends = grace_ends
