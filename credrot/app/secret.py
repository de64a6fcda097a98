"""The rotated secret as every part of credrot reads it: one home for its stage names, the
region in its ARN, how long a read key is used, the codes AWS answers for a rejected key,
and reading one stage's value.

The value ``{"UserName", "AccessKeyId", "SecretAccessKey"}`` is parsed by the rotation
Lambda's own parser (``rotation_lambda.secret_value``, standard library only), so the client
can never accept a value the Lambda would not have written, or refuse one it did. Only the
error type changes: app code catches ``CredentialError``. Messages describe the value's
shape, never its content.

The stage names come from the same module: the Lambda ships alone (a zip of the standard
library and boto3) and imports nothing from credrot, so credrot imports from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from credrot.errors import CredentialError
from rotation_lambda.errors import SecretValueError
from rotation_lambda.secret_value import CURRENT as CURRENT
from rotation_lambda.secret_value import PENDING as PENDING
from rotation_lambda.secret_value import PREVIOUS as PREVIOUS
from rotation_lambda.secret_value import SecretValue, parse_secret_value

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient
    from types_boto3_secretsmanager.type_defs import (
        GetSecretValueRequestTypeDef,
        GetSecretValueResponseTypeDef,
    )

# The parsed value, under the name app code knows it by.
KeyRecord = SecretValue

# How long a key read from the secret is used before the secret is read again. 15 minutes:
# cheap (one read per window per process) and far inside the previous key's grace (24 h by
# default), so a cached key is never older than the rotation allows.
DEFAULT_REFRESH_SECONDS = 900.0

# What AWS answers for a deleted, deactivated or wrong key (query and JSON protocols, S3).
REJECTED_KEY_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)


def region_of(secret_id: str) -> str | None:
    """The region in a secret's ARN; None for a name (or an ARN without one)."""
    parts = secret_id.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "secretsmanager" and parts[3]:
        return parts[3]
    return None


def region_or_environment(secret_id: str) -> str | None:
    """The region in a secret's ARN, else AWS_REGION/AWS_DEFAULT_REGION: for a client made
    from explicit keys, or a profile being written, where no profile supplies one."""
    return (
        region_of(secret_id) or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )


def get_value(
    sm: SecretsManagerClient,
    secret_id: str,
    *,
    stage: str | None = CURRENT,
    version_id: str | None = None,
) -> GetSecretValueResponseTypeDef:
    """GetSecretValue of one stage (or, with ``version_id``, one version); ClientError
    passes through. Always names the stage or version: moto answers a bare SecretId from
    a stale default."""
    params: GetSecretValueRequestTypeDef = {"SecretId": secret_id}
    if version_id:
        params["VersionId"] = version_id
    if stage and not version_id:
        params["VersionStage"] = stage
    return sm.get_secret_value(**params)


def current_record(response: Mapping[str, Any], secret_id: str, *, then: str = "") -> KeyRecord:
    """The AWSCURRENT value in ``response``, which must hold a key: CredentialError for the
    bootstrap value (no rotation yet) says to rotate, ``then`` what else to do."""
    record = parse_response(response, f"the {CURRENT} value of secret {secret_id}")
    if not record.has_key:
        raise CredentialError(
            f"secret {secret_id} holds no access key yet (bootstrap value): rotation has not"
            f" minted a key yet; run `credrot rotate {secret_id}`{then}"
        )
    return record


def parse_response(response: Mapping[str, Any], where: str) -> KeyRecord:
    """Parse a GetSecretValue response; ``where`` names the secret/version in errors.

    A bootstrap value parses to a record with no key (``has_key`` False). Raises
    CredentialError for anything that is neither a bootstrap nor a complete value.
    """
    try:
        return parse_secret_value(response, where)
    except SecretValueError as error:
        raise CredentialError(str(error)) from None
