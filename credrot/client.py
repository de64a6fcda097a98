"""The stable import for app teams: ``from credrot.client import session``.

The implementation lives in ``credrot.app.client``; this name is the public contract and
stays when internal modules move.
"""

from credrot.app.client import session

__all__ = ["session"]
