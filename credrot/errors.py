"""Exceptions raised by credrot. Messages name the secret or key at fault and the fix, and
never carry secret material (a SecretString or SecretAccessKey)."""

from __future__ import annotations


class CredrotError(Exception):
    """Base class of every error credrot raises on purpose."""


class CredentialError(CredrotError):
    """The secret cannot provide an access key: unreadable, bootstrap-only or malformed."""


class CommandError(CredrotError):
    """An operator command failed; ``exit_code`` is what ``credrot`` returns."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
