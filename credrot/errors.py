"""Exceptions raised by credrot. Messages name the secret or key at fault and the fix, and
never carry secret material (a SecretString or SecretAccessKey)."""

from __future__ import annotations

import errno
import os


class CredrotError(Exception):
    """Base class of every error credrot raises on purpose."""


class CredentialError(CredrotError):
    """The secret cannot provide an access key: unreadable, bootstrap-only or malformed."""


class CommandError(CredrotError):
    """An operator command failed; ``exit_code`` is what ``credrot`` returns."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class FileAccessError(CredrotError):
    """A file or directory credrot needs cannot be read or written (an OS error: read-only,
    disk full, not a directory...). The CLI exits with EXIT_FILE for it."""


_OS_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.EISDIR: "it is a directory, not a file",
    errno.ELOOP: "it is a symbolic link, which is not followed",
    errno.EPIPE: "the reader went away (broken pipe)",
}


def describe_os_error(action: str, path: os.PathLike[str] | str, error: OSError) -> str:
    """ "cannot <action> <path>: <reason in words> (<ERRNO>)": no traceback, no content."""
    code = error.errno or 0
    reason = _OS_REASONS.get(code, error.strerror or type(error).__name__)
    return f"cannot {action} {os.fspath(path)}: {reason} ({errno.errorcode.get(code, 'OSError')})"
