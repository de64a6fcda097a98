"""The secret's value: ``{"UserName", "AccessKeyId", "SecretAccessKey"}`` as a JSON object.

The bootstrap value ``{"UserName": ...}`` (before the first rotation) parses to a record with
no key. Errors describe the value's shape, never its content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from credrot.errors import CredentialError

EXPECTED = '{"UserName": ..., "AccessKeyId": ..., "SecretAccessKey": ...}'


@dataclass(frozen=True)
class KeyRecord:
    """One version's value. ``repr()`` and ``str()`` never show the secret access key."""

    user_name: str
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)

    @property
    def has_key(self) -> bool:
        """True once a rotation has recorded a key (False for the bootstrap value)."""
        return self.access_key_id is not None and self.secret_access_key is not None


def parse_response(response: Mapping[str, Any], where: str) -> KeyRecord:
    """Parse a GetSecretValue response; ``where`` names the secret/version in errors.

    Raises CredentialError for anything but a bootstrap or complete value.
    """
    if "SecretString" not in response:
        kind = "binary (SecretBinary)" if "SecretBinary" in response else "empty"
        raise CredentialError(f"{where} is {kind}; it must be a JSON SecretString {EXPECTED}")
    try:
        value = json.loads(response["SecretString"])
    except ValueError:
        # `from None`: JSONDecodeError keeps the whole document in its .doc attribute.
        raise CredentialError(f"{where} is not JSON; it must be {EXPECTED}") from None
    if not isinstance(value, dict):
        raise CredentialError(
            f"{where} is a JSON {type(value).__name__}, not an object; it must be {EXPECTED}"
        )
    user_name = value.get("UserName")
    if not isinstance(user_name, str) or not user_name:
        raise CredentialError(f"{where} has no UserName string; it must be {EXPECTED}")
    key_id, secret_key = value.get("AccessKeyId"), value.get("SecretAccessKey")
    if key_id is None and secret_key is None:
        return KeyRecord(user_name)
    if not (isinstance(key_id, str) and key_id and isinstance(secret_key, str) and secret_key):
        raise CredentialError(
            f"{where} must have both AccessKeyId and SecretAccessKey as non-empty strings"
            " (or neither, before the first rotation)"
        )
    return KeyRecord(user_name, key_id, secret_key)
