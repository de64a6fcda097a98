"""The stable import for app teams: ``from credrot.client import session``.

The implementation lives in ``credrot.app.client``; this name is the public contract and
stays when internal modules move.
"""

from credrot.app.client import (
    SecretCredentials,
    SelfReadCredentials,
    session,
)
from credrot.app.secret import DEFAULT_REFRESH_SECONDS
from credrot.app.secret import REJECTED_KEY_CODES as AUTH_FAILURE_CODES

__all__ = [
    "AUTH_FAILURE_CODES",
    "DEFAULT_REFRESH_SECONDS",
    "SecretCredentials",
    "SelfReadCredentials",
    "session",
]
