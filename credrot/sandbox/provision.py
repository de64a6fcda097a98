"""Create a consumer in the emulator the way the Pulumi component does, with the same policies.

Every policy document comes from ``components.iam_policies`` and every name, tag, label and
Lambda setting from ``components.contract`` (never a copy). By default a consumer rotates
through the stack's one shared function (``shared_function``); ``isolated=True`` gives it a
function of its own (``isolatedRotator: true``).

One deviation, confined to the emulator and named so it cannot be mistaken for the product:
moto checks IAM and Secrets Manager permissions against ``"*"`` only, so a policy scoped to
an exact ARN (or an ARN prefix) is denied even for that ARN. Each principal whose policy is
scoped that way also gets an inline policy ``EmulatorOnlyResourceWildcard`` with the same
actions on ``"*"``, keeping any ``aws:SourceIp`` or ``aws:SourceVpce`` condition (the
emulator evaluates them for the caller, see ``credrot.sandbox.emulator``) and dropping the
others: the shared role's ``iam:ResourceTag`` and ``AllowRotationLambdaArn`` conditions and
the reader policy's ABAC condition are not evaluated here. S3 statements need no such
allowance (moto matches S3 resources). Least privilege is proven by the policy tests, not
here; what the shared function does itself (the secret's user pointer, the user's reverse
binding, before every IAM write) runs here for real.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from components import contract, iam_policies
from components.config import LAMBDA_TIMEOUT_MARGIN_SECONDS, SelfRead
from credrot.app.secret import CURRENT
from credrot.sandbox.aws import stack_function_environment
from credrot.sandbox.emulator import ACCOUNT_ID, AccessKeyPair, Emulator

if TYPE_CHECKING:
    from types_boto3_iam import IAMClient
    from types_boto3_lambda import LambdaClient
    from types_boto3_lambda.literals import ArchitectureType, RuntimeType
    from types_boto3_lambda.type_defs import AddPermissionRequestTypeDef
    from types_boto3_s3 import S3Client
    from types_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "EMULATOR_ONLY_POLICY",
    "ROTATOR_ID",
    "USER_PATH",
    "Consumer",
    "RotationFunction",
    "emulator_only_wildcard",
    "provision_consumer",
    "shared_function",
]

USER_PATH = contract.IAM_PATH
HANDLER = contract.HANDLER
RUNTIME = contract.RUNTIME
EMULATOR_ONLY_POLICY = "EmulatorOnlyResourceWildcard"
# The sandbox's rotator id: the shared role may touch only users tagged with it (the program's
# is "<project>/<stack>").
ROTATOR_ID = "drill"
# The component's default reserved concurrency of the shared function (rotatorConcurrency).
ROTATOR_CONCURRENCY = 10
# IAM's limit on a user's inline policies, in characters of minified JSON.
INLINE_POLICY_LIMIT = 2048
_SHARED_FUNCTION_PREFIX = contract.shared_names().base
DATA_PREFIX = "data/"
# Services whose permissions moto matches against "*" whatever the policy's Resource says.
_RESOURCE_BLIND_SERVICES = frozenset({"iam", "secretsmanager", "kms", "logs", "sts"})
# Condition keys the emulator evaluates for the caller (and keeps in the allowance).
_SOURCE_KEYS = ("aws:SourceIp", "aws:SourceVpce")


@dataclass(frozen=True)
class RotationFunction:
    """A rotation function in the emulator: the stack's shared one, or a consumer's own."""

    name: str
    arn: str
    role_name: str
    role_arn: str
    shared: bool


@dataclass(frozen=True)
class Consumer:
    """What ``provision_consumer`` created; repr shows no secret."""

    name: str
    user_name: str
    user_arn: str
    secret_arn: str
    function_name: str
    function_arn: str
    role_arn: str
    bucket: str
    object_keys: tuple[str, ...]
    reader_user_name: str
    reader: AccessKeyPair = field(repr=False)
    emulator_only_policies: tuple[str, ...]
    self_read: SelfRead | None = None
    # Whether the function above is the stack's shared one (False: isolatedRotator).
    shared_function: bool = True


def emulator_only_wildcard(document: iam_policies.PolicyDocument) -> dict[str, Any] | None:
    """The emulator-only allowance for ``document``: its statements on IAM, Secrets Manager,
    KMS, Logs and STS actions, with ``"*"`` as Resource and no Condition but its
    ``aws:SourceIp``/``aws:SourceVpce`` parts (kept, so the emulator still tells origins
    apart); None if none."""
    statements = []
    for statement in document["Statement"]:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else list(actions)
        blind = [action for action in actions if action.split(":")[0] in _RESOURCE_BLIND_SERVICES]
        if blind and "Principal" not in statement:
            allowance: dict[str, Any] = {
                "Sid": f"{statement.get('Sid', 'Statement')}OnAnyResource",
                "Effect": "Allow",
                "Action": blind,
                "Resource": "*",
            }
            source = {
                operator: {key: values[key] for key in _SOURCE_KEYS if key in values}
                for operator, values in statement.get("Condition", {}).items()
                if any(key in values for key in _SOURCE_KEYS)
            }
            if source:
                allowance["Condition"] = source
            statements.append(allowance)
    if not statements:
        return None
    return {"Version": iam_policies.POLICY_VERSION, "Statement": statements}


def shared_function(
    emulator: Emulator,
    previous_key_grace_hours: float = 24,
    propagation_timeout_seconds: int = 60,
) -> RotationFunction:
    """The stack's shared rotation function with these settings, created on first use as
    the component's shared rotator does: its log group, role and inline role policy
    (``iam_policies.shared_rotation_function_policy``: keys of the users under the product's
    path tagged with the rotator id ``"drill"``, secrets whose rotation names this function),
    the function with ``contract.shared_function_environment``, reserved concurrency, and
    one permission for Secrets Manager scoped by source account and the project's secret
    ARN prefix.

    The grace and propagation settings are the stack's, not a consumer's: consumers asking
    for other settings get another shared function (the first is ``credrot-_shared-rotator``,
    the next ``credrot-_shared2-rotator``...), as if deployed by another stack.
    """
    lambda_client: LambdaClient = emulator.client("lambda")
    environment = stack_function_environment(propagation_timeout_seconds, previous_key_grace_hours)
    stacks = 0
    for page in lambda_client.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if function["FunctionName"].startswith(_SHARED_FUNCTION_PREFIX):
                stacks += 1
                if function.get("Environment", {}).get("Variables") == environment:
                    role_arn = function["Role"]
                    return RotationFunction(
                        function["FunctionName"],
                        function["FunctionArn"],
                        role_arn.rsplit("/", 1)[-1],
                        role_arn,
                        shared=True,
                    )
    names = contract.ConsumerNames(contract.SHARED_NAME + (str(stacks + 1) if stacks else ""))

    arns = _arn_parts(emulator)
    return _deploy_function(
        emulator,
        names,
        environment=environment,
        timeout=propagation_timeout_seconds + LAMBDA_TIMEOUT_MARGIN_SECONDS,
        policy_of=lambda function_arn, log_group_arn: iam_policies.shared_rotation_function_policy(
            arns=arns,
            function_arn=function_arn,
            iam_path=USER_PATH,
            secret_name_prefix=contract.RESOURCE_NAME_PREFIX,
            rotator_tag=contract.ROTATOR_TAG,
            rotator_id=ROTATOR_ID,
            log_group_arn=log_group_arn,
        ),
        allowances=[],
        invoked_for=arns.secrets_arn_pattern(contract.RESOURCE_NAME_PREFIX),
        invoked_from_account=ACCOUNT_ID,
        reserved_concurrency=ROTATOR_CONCURRENCY,
        shared=True,
    )


def provision_consumer(
    emulator: Emulator,
    name: str = "drill-app",
    *,
    rotation_days: int = 30,
    first_rotation: bool = True,
    objects: int = 3,
    previous_key_grace_hours: float = 24,
    propagation_timeout_seconds: int = 60,
    self_read: SelfRead | None = None,
    isolated: bool = False,
) -> Consumer:
    """Create consumer ``name`` as the RotatedAccessKey component does, plus data and a reader.

    Mirrors the component's resources (names without Pulumi's random suffix): the secret,
    tagged with its consumer and (the pointer a shared function follows) its user's name;
    the user under ``/ai-credential-rotation/``, tagged with its consumer, the secret's ARN
    (the reverse binding) and the rotator id ``"drill"``; its data-access policy inline
    (managed only when the minified document passes IAM's 2,048 characters), with
    ``self_read`` the statements that let its own key read its secret, as ``selfRead``
    deploys them. The rotation function is the stack's shared one (``shared_function``,
    created by the first consumer with this consumer's grace and propagation settings), or
    with ``isolated`` (``isolatedRotator: true``) a function, role, role policy and
    Secrets Manager permission of the consumer's own. A reader user, standing for the app's
    own identity, carries the consumer tag and the stack's ABAC reader policy. The hourly
    sweep schedule is not created: the drill invokes the sweep.

    In the order the component deploys them: function and permissions, then rotation
    (RotateSecret with RotateImmediately=false, whose configuration test runs the real
    ``testSecret`` while the secret holds no key yet), then with ``first_rotation`` the
    first-key step (ProvisionKey), so a key exists; without it the secret holds only the
    bootstrap value.

    Call with IAM authentication off (right after ``emulator.start()``). The emulator's
    callers come from 127.0.0.1: a ``self_read`` whose source CIDRs exclude it is denied, as
    AWS would deny a key used from outside them.
    """
    names = contract.ConsumerNames(name)
    iam: IAMClient = emulator.client("iam")
    s3: S3Client = emulator.client("s3")
    sm: SecretsManagerClient = emulator.client("secretsmanager")
    lambda_client: LambdaClient = emulator.client("lambda")
    allowances: list[str] = []

    bucket = f"{name}-data"
    s3.create_bucket(Bucket=bucket)
    keys = tuple(f"{DATA_PREFIX}object-{index}.txt" for index in range(objects))
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=f"{key} of {name}\n".encode())

    # The secret first: a self-read policy and the user's reverse tag name its ARN.
    user_name = names.user
    secret_arn = sm.create_secret(
        Name=names.secret,
        Description=f"Rotated IAM access key of AI consumer {name}",
        Tags=[
            {"Key": contract.CONSUMER_TAG, "Value": name},
            {"Key": contract.SECRET_USER_TAG, "Value": user_name},
        ],
    )["ARN"]
    user_arn = iam.create_user(
        UserName=user_name,
        Path=USER_PATH,
        Tags=[
            {"Key": contract.CONSUMER_TAG, "Value": name},
            {"Key": contract.USER_SECRET_TAG, "Value": secret_arn},
            {"Key": contract.ROTATOR_TAG, "Value": ROTATOR_ID},
        ],
    )["User"]["Arn"]
    data_access = iam_policies.consumer_user_policy(
        [f"s3://{bucket}/{DATA_PREFIX}"],
        [],
        self_read_secret_arn=secret_arn if self_read is not None else None,
        source_cidrs=(self_read.source_cidrs or None) if self_read is not None else None,
        source_vpces=(self_read.source_vpces or None) if self_read is not None else None,
        restrict_data_access=self_read.restrict_data_access if self_read is not None else False,
    )
    minified = iam_policies.minified(data_access)
    if len(minified) <= INLINE_POLICY_LIMIT:
        iam.put_user_policy(
            UserName=user_name, PolicyName=names.data_access_policy, PolicyDocument=minified
        )
    else:
        iam.attach_user_policy(
            UserName=user_name,
            PolicyArn=_managed_policy(iam, names.data_access_policy, data_access),
        )
    _allow_in_emulator_only(iam, data_access, allowances, user=user_name)

    # The function's settings: the grace, then the propagation timeout.
    settings = (previous_key_grace_hours, propagation_timeout_seconds)
    if isolated:
        function = _isolated_function(emulator, names, user_arn, secret_arn, allowances, *settings)
    else:
        function = shared_function(emulator, *settings)
        allowances.append(f"role/{function.role_name}")

    reader_user = f"{name}-workload"
    iam.create_user(
        UserName=reader_user, Path=USER_PATH, Tags=[{"Key": contract.CONSUMER_TAG, "Value": name}]
    )
    reader_policy, reader_document = _stack_reader_policy(emulator)
    iam.attach_user_policy(UserName=reader_user, PolicyArn=reader_policy)
    _allow_in_emulator_only(iam, reader_document, allowances, user=reader_user)
    reader_key = iam.create_access_key(UserName=reader_user)["AccessKey"]

    emulator.enable_rotation(secret_arn, function.arn, rotation_days)
    if first_rotation:
        answer = lambda_client.invoke(
            FunctionName=function.name,
            Payload=json.dumps(contract.provision_event(secret_arn)).encode(),
        )
        if answer.get("FunctionError"):
            raise RuntimeError(
                f"the first-key step of consumer {name} failed: {answer['Payload'].read()!r}"
            )
    else:
        sm.put_secret_value(
            SecretId=secret_arn,
            SecretString=json.dumps({"UserName": user_name}),
            VersionStages=[CURRENT],
        )

    return Consumer(
        name=name,
        user_name=user_name,
        user_arn=user_arn,
        secret_arn=secret_arn,
        function_name=function.name,
        function_arn=function.arn,
        role_arn=function.role_arn,
        bucket=bucket,
        object_keys=keys,
        reader_user_name=reader_user,
        reader=AccessKeyPair(reader_key["AccessKeyId"], reader_key["SecretAccessKey"]),
        emulator_only_policies=tuple(allowances),
        self_read=self_read,
        shared_function=function.shared,
    )


def _isolated_function(
    emulator: Emulator,
    names: contract.ConsumerNames,
    user_arn: str,
    secret_arn: str,
    allowances: list[str],
    previous_key_grace_hours: float,
    propagation_timeout_seconds: int,
) -> RotationFunction:
    """A consumer's own rotation function (``isolatedRotator: true``), scoped to its one user
    and one secret as before the shared rotator."""
    return _deploy_function(
        emulator,
        names,
        environment=contract.function_environment(
            user_name=names.user,
            user_arn=user_arn,
            propagation_timeout_seconds=propagation_timeout_seconds,
            previous_key_grace_hours=previous_key_grace_hours,
            log_level="INFO",
            secret_arn=secret_arn,
        ),
        timeout=propagation_timeout_seconds + LAMBDA_TIMEOUT_MARGIN_SECONDS,
        policy_of=lambda _, log_group_arn: iam_policies.rotation_function_policy(
            user_arn=user_arn, secret_arn=secret_arn, log_group_arn=log_group_arn
        ),
        allowances=allowances,
        invoked_for=secret_arn,
        shared=False,
    )


def _deploy_function(
    emulator: Emulator,
    names: contract.ConsumerNames,
    *,
    environment: dict[str, str],
    timeout: int,
    policy_of: Callable[[str, str], iam_policies.PolicyDocument],
    allowances: list[str],
    invoked_for: str,
    shared: bool,
    invoked_from_account: str | None = None,
    reserved_concurrency: int | None = None,
) -> RotationFunction:
    """A rotation function as components/rotation_function.py deploys it: log group, role,
    function, the role's policy (``policy_of(function ARN, log group ARN)``), reserved
    concurrency, and Secrets Manager's permission for ``invoked_for`` (a secret ARN, or an
    ARN pattern with ``invoked_from_account``)."""
    iam: IAMClient = emulator.client("iam")
    lambda_client: LambdaClient = emulator.client("lambda")
    log_group = names.rotation_logs
    emulator.client("logs").create_log_group(logGroupName=log_group)
    role_arn = iam.create_role(
        RoleName=names.rotation_role,
        Path=USER_PATH,
        AssumeRolePolicyDocument=json.dumps(iam_policies.lambda_assume_role_policy()),
    )["Role"]["Arn"]
    function_arn = lambda_client.create_function(
        FunctionName=names.rotation_function,
        Runtime=cast("RuntimeType", RUNTIME),
        Architectures=[cast("ArchitectureType", contract.ARCHITECTURE)],
        Role=role_arn,
        Handler=HANDLER,
        Code={"ZipFile": _placeholder_zip()},
        Timeout=timeout,
        Environment={"Variables": environment},
    )["FunctionArn"]
    policy = policy_of(
        function_arn, f"arn:aws:logs:{emulator.region}:{ACCOUNT_ID}:log-group:{log_group}"
    )
    iam.put_role_policy(
        RoleName=names.rotation_role,
        PolicyName=names.rotation_policy,
        PolicyDocument=json.dumps(policy),
    )
    _allow_in_emulator_only(iam, policy, allowances, role=names.rotation_role)
    if reserved_concurrency is not None:
        lambda_client.put_function_concurrency(
            FunctionName=names.rotation_function,
            ReservedConcurrentExecutions=reserved_concurrency,
        )
    permission: AddPermissionRequestTypeDef = {
        "FunctionName": names.rotation_function,
        "StatementId": names.allow_secretsmanager,
        "Action": "lambda:InvokeFunction",
        "Principal": "secretsmanager.amazonaws.com",
        "SourceArn": invoked_for,
    }
    if invoked_from_account is not None:
        permission["SourceAccount"] = invoked_from_account
    lambda_client.add_permission(**permission)
    return RotationFunction(
        names.rotation_function, function_arn, names.rotation_role, role_arn, shared=shared
    )


def _stack_reader_policy(emulator: Emulator) -> tuple[str, iam_policies.PolicyDocument]:
    """The ARN and document of the stack's ABAC reader policy, created on first use."""
    iam: IAMClient = emulator.client("iam")
    name = contract.shared_names().reader_policy
    arn = f"arn:aws:iam::{ACCOUNT_ID}:policy{USER_PATH}{name}"
    document = iam_policies.abac_reader_policy(
        arns=_arn_parts(emulator),
        secret_name_prefix=contract.RESOURCE_NAME_PREFIX,
        consumer_tag=contract.CONSUMER_TAG,
    )
    try:
        iam.get_policy(PolicyArn=arn)
    except iam.exceptions.NoSuchEntityException:
        _managed_policy(iam, name, document)
    return arn, document


def _arn_parts(emulator: Emulator) -> iam_policies.ArnParts:
    return iam_policies.ArnParts(partition="aws", region=emulator.region, account=ACCOUNT_ID)


def _managed_policy(iam: IAMClient, name: str, document: iam_policies.PolicyDocument) -> str:
    arn: str = iam.create_policy(
        PolicyName=name, Path=USER_PATH, PolicyDocument=json.dumps(document)
    )["Policy"]["Arn"]
    return arn


def _allow_in_emulator_only(
    iam: IAMClient,
    document: iam_policies.PolicyDocument,
    allowances: list[str],
    *,
    user: str | None = None,
    role: str | None = None,
) -> None:
    """Attach the emulator-only wildcard twin of ``document`` to the principal, if needed."""
    wildcard = emulator_only_wildcard(document)
    if wildcard is None:
        return
    if user is not None:
        iam.put_user_policy(
            UserName=user, PolicyName=EMULATOR_ONLY_POLICY, PolicyDocument=json.dumps(wildcard)
        )
        allowances.append(f"user/{user}")
    if role is not None:
        iam.put_role_policy(
            RoleName=role, PolicyName=EMULATOR_ONLY_POLICY, PolicyDocument=json.dumps(wildcard)
        )
        allowances.append(f"role/{role}")


def _placeholder_zip() -> bytes:
    # moto stores the code but never runs it: the emulator calls rotation_lambda in-process.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("README.txt", date_time=(1980, 1, 1, 0, 0, 0))
        archive.writestr(info, "The emulator runs rotation_lambda from the repository.\n")
    return buffer.getvalue()
