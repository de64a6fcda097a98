"""A baseline IAM-key rotator shaped like AWS's published rotation template: for comparison ONLY.

Not part of the product and never deployed: ``bench/rotation.py`` runs it in the same
emulator, in the same run, next to ``rotation_lambda``, so that the figures of the real
handler can be read against the "usual" way of writing this Lambda.

Modelled on aws-samples/aws-secrets-manager-rotation-lambdas (the template: one
``lambda_handler`` with a ``describe_secret`` guard, then an if/elif over the four steps)
and its community counterpart for IAM access keys:
- createSecret reads AWSCURRENT, returns if the AWSPENDING value exists, otherwise deletes
  "the oldest key" blindly when the user already has two, creates a key and puts it as
  AWSPENDING;
- setSecret does nothing (an IAM key is live once created);
- testSecret calls STS once with the new key and does NOT compare the ARN it returns;
- finishSecret describes the secret again and moves AWSCURRENT; like the template it leaves
  AWSPENDING on the new current version (AWS treats that as a completed rotation).

Deliberately kept as written there (the weaknesses are the point of comparing): no check of
which key is deleted, no cleanup of a key whose put failed, no retry of a key IAM has not
propagated yet, an if/elif dispatch.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient

logger = logging.getLogger(__name__)


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    """Guard as the template does, then dispatch the step."""
    arn = event["SecretId"]
    token = event["ClientRequestToken"]
    step = event["Step"]

    service_client = boto3.client("secretsmanager")
    metadata = service_client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"Secret {arn} is not enabled for rotation")
    versions = metadata["VersionIdsToStages"]
    if token not in versions:
        raise ValueError(f"Secret version {token} has no stage for rotation of secret {arn}.")
    if "AWSCURRENT" in versions[token]:
        logger.info("Secret version %s already set as AWSCURRENT for secret %s.", token, arn)
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError(
            f"Secret version {token} not set as AWSPENDING for rotation of secret {arn}."
        )

    if step == "createSecret":
        create_secret(service_client, arn, token)
    elif step == "setSecret":
        set_secret(service_client, arn, token)
    elif step == "testSecret":
        test_secret(service_client, arn, token)
    elif step == "finishSecret":
        finish_secret(service_client, arn, token)
    else:
        raise ValueError("Invalid step parameter")


def create_secret(service_client: SecretsManagerClient, arn: str, token: str) -> None:
    """Create a new key (deleting the oldest if there are two) and store it as AWSPENDING."""
    current = get_secret_dict(service_client, arn, "AWSCURRENT")
    try:
        get_secret_dict(service_client, arn, "AWSPENDING", token)
        logger.info("createSecret: Successfully retrieved secret for %s.", arn)
    except service_client.exceptions.ResourceNotFoundException:
        iam = boto3.client("iam")
        user_name = current["UserName"]
        keys = iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]
        if len(keys) >= 2:
            oldest = min(keys, key=lambda key: key["CreateDate"])
            iam.delete_access_key(UserName=user_name, AccessKeyId=oldest["AccessKeyId"])
        new_key = iam.create_access_key(UserName=user_name)["AccessKey"]
        current["AccessKeyId"] = new_key["AccessKeyId"]
        current["SecretAccessKey"] = new_key["SecretAccessKey"]
        service_client.put_secret_value(
            SecretId=arn,
            ClientRequestToken=token,
            SecretString=json.dumps(current),
            VersionStages=["AWSPENDING"],
        )
        logger.info("createSecret: Successfully put secret for ARN %s and version %s.", arn, token)


def set_secret(service_client: SecretsManagerClient, arn: str, token: str) -> None:
    """Nothing to do for an IAM access key."""
    logger.info("setSecret: nothing to set for %s.", arn)


def test_secret(service_client: SecretsManagerClient, arn: str, token: str) -> None:
    """Call STS once with the pending key (the ARN is not compared)."""
    pending = get_secret_dict(service_client, arn, "AWSPENDING", token)
    sts = boto3.client(
        "sts",
        aws_access_key_id=pending["AccessKeyId"],
        aws_secret_access_key=pending["SecretAccessKey"],
    )
    sts.get_caller_identity()
    logger.info("testSecret: Successfully tested the pending key for %s.", arn)


def finish_secret(service_client: SecretsManagerClient, arn: str, token: str) -> None:
    """Move AWSCURRENT to the token's version."""
    metadata = service_client.describe_secret(SecretId=arn)
    current_version = None
    for version, stages in metadata["VersionIdsToStages"].items():
        if "AWSCURRENT" in stages:
            if version == token:
                logger.info("finishSecret: Version %s already marked as AWSCURRENT.", version)
                return
            current_version = version
            break
    service_client.update_secret_version_stage(
        SecretId=arn,
        VersionStage="AWSCURRENT",
        MoveToVersionId=token,
        # As in the template: with no AWSCURRENT version botocore refuses the None.
        RemoveFromVersionId=current_version,  # type: ignore[arg-type]
    )
    logger.info("finishSecret: Successfully set AWSCURRENT stage to version %s.", token)


def get_secret_dict(
    service_client: SecretsManagerClient, arn: str, stage: str, token: str | None = None
) -> dict[str, Any]:
    """The secret's value for ``stage`` (and version ``token`` if given) as a dict."""
    if token:
        response = service_client.get_secret_value(
            SecretId=arn, VersionId=token, VersionStage=stage
        )
    else:
        response = service_client.get_secret_value(SecretId=arn, VersionStage=stage)
    value: dict[str, Any] = json.loads(response["SecretString"])
    return value
