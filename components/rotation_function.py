"""The rotation Lambda as deployed: its log group, execution role and function.

Pure wiring, shared by the stack's shared function (components/shared_rotator.py) and a
consumer's isolated one (components/rotated_access_key.py), so the two cannot drift apart in
runtime, packaging, timeout or logging. What differs is passed in: the environment (which
user and secret, or none), the role's description, reserved concurrency. The role's policy
is the caller's: it is what makes a function shared or isolated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam_policies
from components.config import LAMBDA_TIMEOUT_MARGIN_SECONDS
from components.contract import ARCHITECTURE, HANDLER, IAM_PATH, RUNTIME
from components.packaging import LambdaArchive


@dataclass(frozen=True)
class RotationFunction:
    """The three resources of one rotation function."""

    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    function: aws.lambda_.Function


@dataclass(frozen=True)
class FunctionSettings:
    """What every rotation function of a stack shares, from the stack's configuration."""

    archive: LambdaArchive
    log_retention_days: int
    propagation_timeout_seconds: int
    permissions_boundary_arn: str | None
    code_signing_config_arn: str | None


def rotation_function(
    *,
    logs_name: str,
    role_name: str,
    function_name: str,
    description: str,
    role_description: str,
    settings: FunctionSettings,
    environment: Mapping[str, pulumi.Input[str]],
    tags: Mapping[str, pulumi.Input[str]],
    child: Callable[[], pulumi.ResourceOptions],
    reserved_concurrency: int | None = None,
) -> RotationFunction:
    """Register the log group, the role (no policy yet) and the function; ``child`` gives
    each its options (parented to the calling component)."""
    log_group = aws.cloudwatch.LogGroup(
        logs_name,
        retention_in_days=settings.log_retention_days,
        tags=tags,
        opts=child(),
    )
    role = aws.iam.Role(
        role_name,
        path=IAM_PATH,
        description=role_description,
        assume_role_policy=json.dumps(iam_policies.lambda_assume_role_policy()),
        # The pipeline's deploy role creates and edits roles only inside the boundary.
        permissions_boundary=settings.permissions_boundary_arn,
        tags=tags,
        opts=child(),
    )
    function = aws.lambda_.Function(
        function_name,
        description=description,
        role=role.arn,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler=HANDLER,
        code=pulumi.FileArchive(str(settings.archive.path)),
        source_code_hash=settings.archive.source_code_hash,
        code_signing_config_arn=settings.code_signing_config_arn,
        timeout=settings.propagation_timeout_seconds + LAMBDA_TIMEOUT_MARGIN_SECONDS,
        reserved_concurrent_executions=reserved_concurrency,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
        # Pointing at our log group makes it exist before the function (an implicit
        # dependency), so Lambda never creates an unmanaged group without retention.
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(
            log_format="Text", log_group=log_group.name
        ),
        tags=tags,
        opts=child(),
    )
    return RotationFunction(log_group, role, function)
