"""The secret's value ``{"UserName", "AccessKeyId", "SecretAccessKey"}``, read app-side.

One parser serves both sides of the contract: this module reuses the rotation Lambda's own
(``rotation_lambda.secret_value``, standard library only), so the client can never accept a
value the Lambda would not have written, or refuse one it did. Only the error type changes:
app code catches ``CredentialError``. Messages describe the value's shape, never its content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from credrot.errors import CredentialError
from rotation_lambda.errors import SecretValueError
from rotation_lambda.secret_value import SecretValue as KeyRecord
from rotation_lambda.secret_value import parse_secret_value

__all__ = ["KeyRecord", "parse_response"]


def parse_response(response: Mapping[str, Any], where: str) -> KeyRecord:
    """Parse a GetSecretValue response; ``where`` names the secret/version in errors.

    A bootstrap value parses to a record with no key (``has_key`` False). Raises
    CredentialError for anything that is neither a bootstrap nor a complete value.
    """
    try:
        return parse_secret_value(response, where)
    except SecretValueError as error:
        raise CredentialError(str(error)) from None
