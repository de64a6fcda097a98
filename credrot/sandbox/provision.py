"""Create a consumer in the emulator the way the Pulumi component does, with the same policies.

Every policy document comes from ``components.iam_policies`` and every name, label and
Lambda setting from ``components.contract`` (never a copy). One deviation, confined to the
emulator and named so it cannot be mistaken for the product: moto checks IAM and Secrets
Manager permissions against ``"*"`` only, so a policy scoped to an exact ARN is denied even
for that ARN. Each principal whose policy is scoped that way also gets an inline policy
``EmulatorOnlyResourceWildcard`` with the same actions on ``"*"``, keeping any
``aws:SourceIp`` or ``aws:SourceVpce`` condition (the emulator evaluates them for the
caller, see ``credrot.sandbox.emulator``). S3 statements need no such allowance (moto
matches S3 resources).
Least privilege is proven by the policy tests, not here.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from components import contract, iam_policies
from components.config import LAMBDA_TIMEOUT_MARGIN_SECONDS, SelfRead
from credrot.sandbox.emulator import ACCOUNT_ID, AccessKeyPair, Emulator

__all__ = [
    "EMULATOR_ONLY_POLICY",
    "USER_PATH",
    "Consumer",
    "emulator_only_wildcard",
    "provision_consumer",
]

USER_PATH = contract.IAM_PATH
HANDLER = contract.HANDLER
RUNTIME = contract.RUNTIME
EMULATOR_ONLY_POLICY = "EmulatorOnlyResourceWildcard"
DATA_PREFIX = "data/"
# Services whose permissions moto matches against "*" whatever the policy's Resource says.
_RESOURCE_BLIND_SERVICES = frozenset({"iam", "secretsmanager", "kms", "logs", "sts"})
# Condition keys the emulator evaluates for the caller (and keeps in the allowance).
_SOURCE_KEYS = ("aws:SourceIp", "aws:SourceVpce")


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
) -> Consumer:
    """Create consumer ``name`` as the RotatedAccessKey component does, plus data and a reader.

    Mirrors the component's resources (names without Pulumi's random suffix): the user under
    ``/ai-credential-rotation/`` with a managed data-access policy (with ``self_read``, the
    statements that let its own key read its secret, as ``selfRead`` deploys them), the
    secret, the user bound to it by tag, the rotation role and its policy, the rotation
    function with the component's environment, Secrets Manager's permission to invoke it,
    and the managed reader policy (attached here to a reader user standing for the app's own
    identity). The hourly sweep schedule is not created: the drill invokes the sweep.

    Call with IAM authentication off (right after ``emulator.start()``). With
    ``first_rotation`` the function's first-key step (ProvisionKey) runs, as the component's
    does, so a key exists; without it the secret holds only the bootstrap value. Either way
    rotation is then enabled without rotating. The emulator's callers come from 127.0.0.1:
    a ``self_read`` whose source CIDRs exclude it is denied, as AWS would deny a key used
    from outside them.
    """
    names = contract.ConsumerNames(name)
    iam = emulator.client("iam")
    s3 = emulator.client("s3")
    sm = emulator.client("secretsmanager")
    logs = emulator.client("logs")
    lambda_client = emulator.client("lambda")
    allowances: list[str] = []

    bucket = f"{name}-data"
    s3.create_bucket(Bucket=bucket)
    keys = tuple(f"{DATA_PREFIX}object-{index}.txt" for index in range(objects))
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=f"{key} of {name}\n".encode())

    # The secret first: a self-read policy names its ARN (the component waits for it too).
    tags = [{"Key": contract.CONSUMER_TAG, "Value": name}]
    secret_arn = sm.create_secret(
        Name=names.secret,
        Description=f"Rotated IAM access key of AI consumer {name}",
        Tags=tags,
    )["ARN"]
    user_name = names.user
    user_arn = iam.create_user(
        UserName=user_name,
        Path=USER_PATH,
        Tags=[*tags, {"Key": contract.USER_SECRET_TAG, "Value": secret_arn}],
    )["User"]["Arn"]
    data_access = iam_policies.consumer_user_policy(
        [f"s3://{bucket}/{DATA_PREFIX}"],
        [],
        self_read_secret_arn=secret_arn if self_read is not None else None,
        source_cidrs=(self_read.source_cidrs or None) if self_read is not None else None,
        source_vpces=(self_read.source_vpces or None) if self_read is not None else None,
        restrict_data_access=self_read.restrict_data_access if self_read is not None else False,
    )
    iam.attach_user_policy(
        UserName=user_name,
        PolicyArn=_managed_policy(iam, names.data_access_policy, data_access),
    )
    _allow_in_emulator_only(iam, data_access, allowances, user=user_name)

    log_group = names.rotation_logs
    logs.create_log_group(logGroupName=log_group)
    role_name = names.rotation_role
    role_arn = iam.create_role(
        RoleName=role_name,
        Path=USER_PATH,
        AssumeRolePolicyDocument=json.dumps(iam_policies.lambda_assume_role_policy()),
    )["Role"]["Arn"]
    rotation_policy = iam_policies.rotation_function_policy(
        user_arn=user_arn,
        secret_arn=secret_arn,
        log_group_arn=f"arn:aws:logs:{emulator.region}:{ACCOUNT_ID}:log-group:{log_group}",
    )
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName=names.rotation_policy,
        PolicyDocument=json.dumps(rotation_policy),
    )
    _allow_in_emulator_only(iam, rotation_policy, allowances, role=role_name)
    function_name = names.rotation_function
    function_arn = lambda_client.create_function(
        FunctionName=function_name,
        Runtime=RUNTIME,
        Architectures=[contract.ARCHITECTURE],
        Role=role_arn,
        Handler=HANDLER,
        Code={"ZipFile": _placeholder_zip()},
        Timeout=propagation_timeout_seconds + LAMBDA_TIMEOUT_MARGIN_SECONDS,
        Environment={
            "Variables": contract.function_environment(
                user_name=user_name,
                user_arn=user_arn,
                propagation_timeout_seconds=propagation_timeout_seconds,
                previous_key_grace_hours=previous_key_grace_hours,
                log_level="INFO",
                secret_arn=secret_arn,
            )
        },
    )["FunctionArn"]
    lambda_client.add_permission(
        FunctionName=function_name,
        StatementId=names.allow_secretsmanager,
        Action="lambda:InvokeFunction",
        Principal="secretsmanager.amazonaws.com",
        SourceArn=secret_arn,
    )

    reader = iam_policies.reader_policy(secret_arn=secret_arn)
    reader_user = f"{name}-workload"
    iam.create_user(UserName=reader_user, Path=USER_PATH)
    iam.attach_user_policy(
        UserName=reader_user, PolicyArn=_managed_policy(iam, names.reader_policy, reader)
    )
    _allow_in_emulator_only(iam, reader, allowances, user=reader_user)
    reader_key = iam.create_access_key(UserName=reader_user)["AccessKey"]

    if first_rotation:
        answer = lambda_client.invoke(
            FunctionName=function_name,
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
            VersionStages=["AWSCURRENT"],
        )
    emulator.configure_rotation(secret_arn, function_arn, rotation_days)

    return Consumer(
        name=name,
        user_name=user_name,
        user_arn=user_arn,
        secret_arn=secret_arn,
        function_name=function_name,
        function_arn=function_arn,
        role_arn=role_arn,
        bucket=bucket,
        object_keys=keys,
        reader_user_name=reader_user,
        reader=AccessKeyPair(reader_key["AccessKeyId"], reader_key["SecretAccessKey"]),
        emulator_only_policies=tuple(allowances),
        self_read=self_read,
    )


def _managed_policy(iam: Any, name: str, document: iam_policies.PolicyDocument) -> str:
    arn: str = iam.create_policy(
        PolicyName=name, Path=USER_PATH, PolicyDocument=json.dumps(document)
    )["Policy"]["Arn"]
    return arn


def _allow_in_emulator_only(
    iam: Any,
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
