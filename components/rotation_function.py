"""The rotation Lambda as deployed: log group, execution role and its policy, function, and
Secrets Manager's permission to invoke it.

Pure wiring, shared by the stack's shared function (components/shared_rotator.py) and a
consumer's isolated one (components/rotated_access_key.py), so the two cannot drift apart in
runtime, packaging, timeout, environment or logging. What differs is passed in: which user
and secret the function serves (or none), the role's description, reserved concurrency, and
the two grants that make a function shared or isolated: the role's policy document and the
secrets whose rotation may invoke it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam_policies
from components.config import LAMBDA_TIMEOUT_MARGIN_SECONDS, StackSettings
from components.contract import (
    ARCHITECTURE,
    HANDLER,
    IAM_PATH,
    RUNTIME,
    ConsumerNames,
    function_environment,
    shared_function_environment,
)
from components.packaging import LambdaArchive


@dataclass(frozen=True)
class RotationFunction:
    """The resources of one rotation function."""

    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    function: aws.lambda_.Function
    # What a rotation must wait for: the function may act, and Secrets Manager may invoke it.
    role_policy: aws.iam.RolePolicy
    permission: aws.lambda_.Permission


@dataclass(frozen=True)
class Grants:
    """What makes a rotation function shared or isolated: its role's policy document, and
    the secret ARN (or ARN pattern, then with the account) whose rotation may invoke it."""

    policy: pulumi.Input[str]
    invoked_for: pulumi.Input[str]
    invoked_from_account: pulumi.Input[str] | None = None


def rotation_function(
    *,
    names: ConsumerNames,
    description: str,
    role_description: str,
    settings: StackSettings,
    archive: LambdaArchive,
    bound_to: tuple[aws.iam.User, aws.secretsmanager.Secret] | None = None,
    tags: Mapping[str, pulumi.Input[str]],
    child: Callable[[], pulumi.ResourceOptions],
    grants: Callable[[aws.cloudwatch.LogGroup, aws.lambda_.Function], Grants],
    reserved_concurrency: int | None = None,
) -> RotationFunction:
    """Register the pieces, named by ``names``; ``bound_to`` is the one user and secret of an
    isolated function (None: the shared function finds each secret's user); ``child`` gives
    each its options (parented to the calling component), ``grants`` what the function may do
    and who may invoke it (from the log group and the function, which the role's policy
    names)."""
    tuning: dict[str, Any] = {
        "propagation_timeout_seconds": settings.propagation_timeout_seconds,
        "previous_key_grace_hours": settings.previous_key_grace_hours,
        "log_level": settings.log_level,
    }
    environment: Mapping[str, pulumi.Input[str]] = (
        shared_function_environment(**tuning)
        if bound_to is None
        else function_environment(
            user_name=bound_to[0].name,
            user_arn=bound_to[0].arn,
            secret_arn=bound_to[1].arn,
            **tuning,
        )
    )
    log_group = aws.cloudwatch.LogGroup(
        names.rotation_logs, retention_in_days=settings.log_retention_days, tags=tags, opts=child()
    )
    role = aws.iam.Role(
        names.rotation_role,
        path=IAM_PATH,
        description=role_description,
        assume_role_policy=json.dumps(iam_policies.lambda_assume_role_policy()),
        # The pipeline's deploy role creates and edits roles only inside the boundary.
        permissions_boundary=settings.permissions_boundary_arn,
        tags=tags,
        opts=child(),
    )
    function = aws.lambda_.Function(
        names.rotation_function,
        description=description,
        role=role.arn,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler=HANDLER,
        code=pulumi.FileArchive(str(archive.path)),
        source_code_hash=archive.source_code_hash,
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
    granted = grants(log_group, function)
    role_policy = aws.iam.RolePolicy(
        names.rotation_policy, role=role.name, policy=granted.policy, opts=child()
    )
    # source_arn (matched with ArnLike) and source_account: only the rotation of these
    # secrets, in this account, may invoke the function (confused deputy).
    permission = aws.lambda_.Permission(
        names.allow_secretsmanager,
        action="lambda:InvokeFunction",
        function=function.name,
        principal="secretsmanager.amazonaws.com",
        source_arn=granted.invoked_for,
        source_account=granted.invoked_from_account,
        opts=child(),
    )
    return RotationFunction(log_group, role, function, role_policy, permission)
