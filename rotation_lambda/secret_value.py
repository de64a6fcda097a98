"""The secret's value: {"UserName", "AccessKeyId", "SecretAccessKey"} as a JSON object.

A bootstrap value {"UserName": ...} (no key yet) is valid: the first rotation mints the first
key. Parsing errors describe the value's shape, never its content, so a malformed secret
cannot leak through an exception message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rotation_lambda.errors import SecretValueError, UserMismatchError

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
_KEY_FIELDS = ("AccessKeyId", "SecretAccessKey")
_FIELDS = ("UserName", *_KEY_FIELDS)
_EXPECTED = '{"UserName": ..., "AccessKeyId": ..., "SecretAccessKey": ...} or {"UserName": ...}'


@dataclass(frozen=True)
class SecretValue:
    """One version's value; repr hides the secret access key."""

    user_name: str
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)

    @property
    def has_key(self) -> bool:
        """True once a rotation has recorded a key (False for the bootstrap value)."""
        return self.access_key_id is not None and self.secret_access_key is not None

    def to_json(self) -> str:
        """Serialise with exactly the contract's keys (bootstrap: UserName only)."""
        value = {"UserName": self.user_name}
        if self.access_key_id is not None and self.secret_access_key is not None:
            value["AccessKeyId"] = self.access_key_id
            value["SecretAccessKey"] = self.secret_access_key
        return json.dumps(value)


def parse_secret_value(response: Mapping[str, Any], where: str) -> SecretValue:
    """Parse a GetSecretValue response; `where` names the version in error messages."""
    if "SecretString" not in response:
        kind = "binary (SecretBinary)" if "SecretBinary" in response else "empty"
        raise SecretValueError(
            f"{where} is {kind}: this function stores a JSON SecretString {_EXPECTED};"
            " put such a value"
        )
    try:
        value = json.loads(response["SecretString"])
    except ValueError:
        # `from None`: JSONDecodeError keeps the whole document in its .doc attribute.
        raise SecretValueError(f"{where} is not JSON: put a JSON object {_EXPECTED}") from None
    except RecursionError:
        # Thousands of nested brackets exhaust the parser's stack: still just a bad value.
        raise SecretValueError(
            f"{where} is JSON nested too deeply to be this function's value: put {_EXPECTED}"
        ) from None
    if not isinstance(value, dict):
        raise SecretValueError(
            f"{where} is a JSON {type(value).__name__}, not an object: put {_EXPECTED}"
        )
    unknown = sorted(str(name) for name in value if name not in _FIELDS)
    if unknown:
        # Names only, few and cut short: a hand-edited value could hold anything, and this
        # message ends up in logs.
        shown = [name[:32] for name in unknown[:3]] + (["..."] if len(unknown) > 3 else [])
        raise SecretValueError(
            f"{where} has {len(unknown)} unexpected field(s) {shown}: keep only {list(_FIELDS)}"
        )
    user_name = value.get("UserName")
    if not isinstance(user_name, str) or not user_name:
        raise SecretValueError(
            f"{where} has no UserName string: put {_EXPECTED} naming the IAM user"
        )
    key_id, secret_key = (value.get(name) for name in _KEY_FIELDS)
    if key_id is None and secret_key is None:
        return SecretValue(user_name)
    if not (isinstance(key_id, str) and key_id and isinstance(secret_key, str) and secret_key):
        raise SecretValueError(
            f"{where} must have both AccessKeyId and SecretAccessKey as non-empty strings,"
            " or neither (bootstrap value)"
        )
    return SecretValue(user_name, key_id, secret_key)


def require_user(value: SecretValue, user_name: str, where: str) -> None:
    """Refuse a value naming any user but the secret's own (checked before any IAM call)."""
    if value.user_name != user_name:
        raise UserMismatchError(
            f"{where} names IAM user {value.user_name!r} but this function only rotates"
            f" {user_name!r} for it: set the value's UserName back to {user_name!r}"
        )
