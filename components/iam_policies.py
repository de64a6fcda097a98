"""Every IAM policy document the product grants, generated in one place.

Pure functions from ARNs and S3 locations to policy dicts: no Pulumi, no boto3. The Pulumi
component serialises them with ``Output.all(...).apply(json.dumps)``; the drill creates the
very same documents in its embedded emulator; the tests assert them statement by statement
and lint them with parliament. Nothing else in the repository may write a policy by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PolicyDocument = dict[str, Any]

POLICY_VERSION = "2012-10-17"

# The rotation Lambda's needs, and nothing more: it lists, mints, deactivates and deletes the
# keys of ONE user, and reads, writes and relabels the versions of ONE secret.
# ListSecretVersionIds lets createSecret prove a stray key is its own (see rotation_lambda);
# ListUserTags reads the user's binding to its one secret before any key is written.
ROTATION_IAM_ACTIONS = (
    "iam:CreateAccessKey",
    "iam:DeleteAccessKey",
    "iam:ListAccessKeys",
    "iam:ListUserTags",
    "iam:UpdateAccessKey",
)
ROTATION_SECRET_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:ListSecretVersionIds",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
)
READER_SECRET_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
)
READ_OBJECT_ACTIONS = ("s3:GetObject",)
WRITE_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject")

# S3 bucket naming rules (the subset that matters for an ARN): 3-63 chars, lowercase letters,
# digits, dots and hyphens, starting and ending with a letter or digit.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# The account field is 12 digits, or "aws" for AWS-managed IAM policies
# (arn:aws:iam::aws:policy/...), which extraPolicyArns and permissions boundaries may name.
_ARN_RE = re.compile(r"^arn:aws[a-zA-Z-]*:[a-z0-9-]+:[a-z0-9-]*:(?:\d{12}|aws):.+$")


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix ("" for the whole bucket; otherwise ends with "/")."""

    bucket: str
    prefix: str

    @property
    def objects_arn(self) -> str:
        """ARN of every object under the prefix."""
        return f"arn:aws:s3:::{self.bucket}/{self.prefix}*"


def parse_s3_uri(uri: str, *, field: str = "path") -> S3Location:
    """Parse ``s3://bucket/prefix/`` into an S3Location, or raise a ValueError naming ``field``.

    A prefix is normalised to end with "/" so that ``s3://b/data`` cannot also grant
    ``s3://b/database/``.
    """
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"{field}: {uri!r} is not an s3:// URI; write it as s3://bucket/prefix/")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise ValueError(
            f"{field}: {uri!r} has an invalid bucket name {bucket!r}; bucket names are 3-63 "
            "lowercase letters, digits, dots and hyphens"
        )
    if any(ch in prefix for ch in "*?"):
        raise ValueError(f"{field}: {uri!r} contains a wildcard; give a literal prefix instead")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return S3Location(bucket=bucket, prefix=prefix)


def require_arn(value: str, *, field: str, service: str | None = None) -> str:
    """Return ``value`` if it looks like an ARN (of ``service``), else raise a ValueError."""
    if not isinstance(value, str) or not _ARN_RE.match(value):
        raise ValueError(f"{field}: {value!r} is not an ARN (arn:aws:<service>:<region>:...)")
    if service is not None and value.split(":")[2] != service:
        raise ValueError(f"{field}: {value!r} is not a {service} ARN")
    return value


def region_of(arn: str) -> str:
    """The region field of a regional ARN (the secret's, to scope kms:ViaService)."""
    return arn.split(":")[3]


def _statement(
    sid: str,
    actions: Iterable[str],
    resources: Iterable[str],
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": sorted(set(resources)),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _document(statements: list[dict[str, Any]]) -> PolicyDocument:
    return {"Version": POLICY_VERSION, "Statement": statements}


def _write_own_logs(log_group_arn: str) -> dict[str, Any]:
    return _statement(
        "WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"]
    )


def _kms_via_secrets_manager(
    sid: str, kms_key_arn: str, secret_arn: str, actions: Sequence[str]
) -> dict[str, Any]:
    # kms:ViaService confines the key to Secrets Manager in the secret's region: the
    # principal can decrypt this secret, but cannot use the key directly for anything else.
    return _statement(
        sid,
        actions,
        [kms_key_arn],
        {
            "StringEquals": {
                "kms:ViaService": f"secretsmanager.{region_of(secret_arn)}.amazonaws.com"
            }
        },
    )


def source_conditions(
    source_cidrs: Sequence[str] | None, source_vpces: Sequence[str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """One (Sid suffix, Condition) per way a request may arrive: from ``source_cidrs``
    (``aws:SourceIp``) or through ``source_vpces`` (``aws:SourceVpce``). Empty when neither.

    Why one statement per source: the conditions of one statement are ANDed, and a request
    never carries both keys (a request through a VPC endpoint has no ``aws:SourceIp``; one
    from the internet has no ``aws:SourceVpce``), so a single statement with both would match
    nothing. Two Allow statements are the OR. The ``...IfExists`` operators would fit in one
    statement but also match a request that carries neither key; a Deny with the negated
    operators would rely on the same missing-key rules. Each Allow here requires its key.
    """
    conditions: list[tuple[str, dict[str, Any]]] = []
    if source_cidrs:
        conditions.append(("", {"IpAddress": {"aws:SourceIp": sorted(source_cidrs)}}))
    if source_vpces:
        conditions.append(("ViaVpce", {"StringEquals": {"aws:SourceVpce": sorted(source_vpces)}}))
    return conditions


def _from_sources(
    statement: dict[str, Any], sources: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """``statement`` once per source, each copy with that source's condition added (the
    statement itself when there is no source to restrict to)."""
    if not sources:
        return [statement]
    return [
        {
            **statement,
            "Sid": statement["Sid"] + suffix,
            "Condition": {**condition, **statement.get("Condition", {})},
        }
        for suffix, condition in sources
    ]


def deny_temporary_credentials() -> dict[str, Any]:
    """Deny every request signed with temporary credentials derived from the user's key.

    A thief holding the key can call sts:GetSessionToken, which needs no permission, and keep
    the session credentials for up to 36 hours after the key is deactivated or deleted: AWS
    cannot revoke them, only deny them by policy, and they carry the user's permissions. The
    consumer only ever signs with its long-term key, whose requests carry no
    ``aws:TokenIssueTime``: the key is present "only in requests that are signed using
    temporary security credentials" (IAM User Guide, AWS global condition context keys,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-tokenissuetime;
    Null operator: .../reference_policies_elements_condition_operators.html#Conditions_Null;
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_disable-perms.html).
    So ``Null: false`` (the key exists) singles out exactly the derived credentials. Action
    and Resource are plain "*" strings to keep the statement short (a user's inline policies
    share 2,048 characters).
    """
    return {
        "Sid": "DenyTemporaryCredentials",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"Null": {"aws:TokenIssueTime": "false"}},
    }


def data_access_policy(
    read_paths: Sequence[str],
    write_paths: Sequence[str],
    *,
    source_cidrs: Sequence[str] | None = None,
    source_vpces: Sequence[str] | None = None,
) -> PolicyDocument:
    """The consumer's own data access: read on ``read_paths``, read-write on ``write_paths``.

    ListBucket is granted per bucket and limited to the given prefixes with ``s3:prefix``.
    With ``source_cidrs`` and/or ``source_vpces`` every grant holds only for requests from
    those networks or through those VPC endpoints (one statement per source, see
    ``source_conditions``).
    """
    if not read_paths and not write_paths:
        raise ValueError("readPaths/writePaths: give at least one s3:// location")
    reads = [parse_s3_uri(p, field="readPaths") for p in read_paths]
    writes = [parse_s3_uri(p, field="writePaths") for p in write_paths]
    sources = source_conditions(source_cidrs, source_vpces)

    grants = [
        _statement("ReadObjects", READ_OBJECT_ACTIONS, [loc.objects_arn for loc in reads + writes])
    ]
    if writes:
        grants.append(
            _statement("WriteObjects", WRITE_OBJECT_ACTIONS, [w.objects_arn for w in writes])
        )

    prefixes_by_bucket: dict[str, set[str]] = {}
    for loc in reads + writes:
        prefixes_by_bucket.setdefault(loc.bucket, set()).add(loc.prefix)
    for index, (bucket, prefixes) in enumerate(sorted(prefixes_by_bucket.items())):
        # Without the s3:prefix condition ListBucket would reveal every key name in the bucket.
        grants.append(
            _statement(
                f"ListPrefixes{index}",
                ["s3:ListBucket"],
                [f"arn:aws:s3:::{bucket}"],
                None
                if "" in prefixes
                else {"StringLike": {"s3:prefix": sorted(f"{p}*" for p in prefixes)}},
            )
        )
    return _document([copy for grant in grants for copy in _from_sources(grant, sources)])


def self_read_statements(
    secret_arn: str,
    source_cidrs: Sequence[str] | None,
    kms_key_arn: str | None = None,
    source_vpces: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Let a workload outside AWS read its own secret with its own key, from ``source_cidrs``
    or through ``source_vpces`` (workloads that reach AWS through PrivateLink, where
    ``aws:SourceIp`` is absent).

    Without a source condition a leaked key could read every future key, so rotation would
    never evict it; callers must pass CIDRs or VPC endpoints unless the operator explicitly
    opted out. With a customer KMS key the user may also decrypt, but only through Secrets
    Manager and only this secret (its encryption context). That statement carries no source
    condition: Secrets Manager calls KMS from its own addresses, so the condition would
    never match; the GetSecretValue statements are where the caller's origin is checked.
    """
    statements = _from_sources(
        _statement("ReadOwnSecret", READER_SECRET_ACTIONS, [secret_arn]),
        source_conditions(source_cidrs, source_vpces),
    )
    if kms_key_arn:
        decrypt = _kms_via_secrets_manager(
            "DecryptOwnSecret", kms_key_arn, secret_arn, ["kms:Decrypt"]
        )
        decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] = secret_arn
        statements.append(decrypt)
    return statements


def consumer_user_policy(
    read_paths: Sequence[str],
    write_paths: Sequence[str],
    *,
    self_read_secret_arn: str | None = None,
    source_cidrs: Sequence[str] | None = None,
    source_vpces: Sequence[str] | None = None,
    restrict_data_access: bool = False,
    kms_key_arn: str | None = None,
) -> PolicyDocument:
    """The consumer user's own policy: its data access, with self-read its own secret, and
    always the denial of temporary credentials derived from its key.

    ``source_cidrs``/``source_vpces`` limit the self-read statement, and with
    ``restrict_data_access`` the data-access statements too. Neither means self-read from
    anywhere: the caller must have had the operator opt in explicitly. ``kms_key_arn`` is
    the secret's customer KMS key, if any (needed only with self-read).
    """
    if restrict_data_access and not (source_cidrs or source_vpces):
        raise ValueError(
            "restrictDataAccess: needs sourceCidrs or sourceVpces to restrict the data access to"
        )
    document = data_access_policy(
        read_paths,
        write_paths,
        source_cidrs=source_cidrs if restrict_data_access else None,
        source_vpces=source_vpces if restrict_data_access else None,
    )
    if self_read_secret_arn is not None:
        document["Statement"].extend(
            self_read_statements(self_read_secret_arn, source_cidrs, kms_key_arn, source_vpces)
        )
    document["Statement"].append(deny_temporary_credentials())
    return document


def rotation_function_policy(
    *,
    user_arn: str,
    secret_arn: str,
    log_group_arn: str,
    kms_key_arn: str | None = None,
) -> PolicyDocument:
    """The rotation Lambda's execution policy: one user's keys, one secret, its own log group."""
    statements = [
        _statement("ManageKeysOfOneUser", ROTATION_IAM_ACTIONS, [user_arn]),
        _statement("RotateOneSecret", ROTATION_SECRET_ACTIONS, [secret_arn]),
        _write_own_logs(log_group_arn),
    ]
    if kms_key_arn:
        statements.append(
            _kms_via_secrets_manager(
                "UseSecretKey", kms_key_arn, secret_arn, ["kms:Decrypt", "kms:GenerateDataKey"]
            )
        )
    return _document(statements)


def reader_policy(*, secret_arn: str, kms_key_arn: str | None = None) -> PolicyDocument:
    """What an app team's role needs to consume the rotated key: read this one secret."""
    statements = [_statement("ReadRotatedKey", READER_SECRET_ACTIONS, [secret_arn])]
    if kms_key_arn:
        statements.append(
            _kms_via_secrets_manager("DecryptRotatedKey", kms_key_arn, secret_arn, ["kms:Decrypt"])
        )
    return _document(statements)


def lambda_assume_role_policy() -> PolicyDocument:
    """Trust policy that lets only the Lambda service assume the rotation role."""
    return _document(
        [
            {
                "Sid": "LambdaAssumesRole",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
    )


def alarm_topic_policy(
    *, topic_arn: str, event_rule_arns: Sequence[str], alarm_arns: Sequence[str]
) -> PolicyDocument:
    """Topic policy: only these EventBridge rules and CloudWatch alarms may publish.

    ``aws:SourceArn`` pins each service principal to our own rules and alarms, so no other
    account's (or other rule's) use of the same service can publish to the topic. ArnLike, so
    that ``alarm_arns`` may name the project's alarms by prefix (``alarm:credrot-*``): the
    alarms of isolated consumers are created after the topic policy.
    """
    return _document(
        [
            _service_statement(
                "EventBridgeRulesPublish",
                "events.amazonaws.com",
                ["sns:Publish"],
                [topic_arn],
                {"ArnLike": {"aws:SourceArn": sorted(event_rule_arns)}},
            ),
            _service_statement(
                "CloudWatchAlarmsPublish",
                "cloudwatch.amazonaws.com",
                ["sns:Publish"],
                [topic_arn],
                {"ArnLike": {"aws:SourceArn": sorted(alarm_arns)}},
            ),
        ]
    )


def _service_statement(
    sid: str,
    service: str,
    actions: Iterable[str],
    resources: Iterable[str],
    condition: dict[str, Any],
) -> dict[str, Any]:
    """A resource-policy statement granting an AWS service principal, always conditioned."""
    statement = _statement(sid, actions, resources, condition)
    statement["Principal"] = {"Service": service}
    return statement


@dataclass(frozen=True)
class ArnParts:
    """Partition, region and account of the stack, read from one of its own regional ARNs."""

    partition: str
    region: str
    account: str

    @classmethod
    def of(cls, arn: str) -> ArnParts:
        """The parts of a regional ARN such as the shared log group's."""
        _, partition, _, region, account, _ = arn.split(":", 5)
        return cls(partition=partition, region=region, account=account)

    def secrets_arn_pattern(self, name_prefix: str) -> str:
        """Every secret of this account-region whose name starts with ``name_prefix``."""
        return (
            f"arn:{self.partition}:secretsmanager:{self.region}:{self.account}:"
            f"secret:{name_prefix}*"
        )

    def users_arn_pattern(self, iam_path: str) -> str:
        """Every IAM user of this account under ``iam_path``."""
        return f"arn:{self.partition}:iam::{self.account}:user{iam_path}*"

    def functions_arn_pattern(self, name_prefix: str) -> str:
        """Every Lambda function of this account-region whose name starts with ``name_prefix``."""
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{name_prefix}*"


def shared_rotation_function_policy(
    *,
    arns: ArnParts,
    function_arn: str,
    iam_path: str,
    secret_name_prefix: str,
    rotator_tag: str,
    rotator_id: str,
    log_group_arn: str,
    kms_key_arn: str | None = None,
) -> PolicyDocument:
    """The shared rotation Lambda's execution policy: the stack's users' keys, the secrets whose
    rotation names this very function, its own log group.

    - Keys: users under ``iam_path`` AND tagged ``rotator_tag`` = ``rotator_id``. The user
      resource supports ``iam:ResourceTag/<key>`` (IAM Service Authorization Reference,
      "Resource types defined by AWS Identity and Access Management": user, condition keys
      aws:ResourceTag/${TagKey}, iam:ResourceTag/${TagKey}). Only the deployer tags users: this
      role has no iam:TagUser, so it can not widen its own reach.
    - Secrets: names starting with ``secret_name_prefix`` AND
      ``secretsmanager:resource/AllowRotationLambdaArn`` equal to this function ("Lambda
      rotation function execution role permissions for AWS Secrets Manager",
      https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets-required-permissions-function.html,
      and the Secrets Manager condition keys table): a secret is reachable only once its
      rotation is configured with this function, which only the deployer does.
    - KMS: only through Secrets Manager in this region (``kms:ViaService``) and only for this
      stack's secrets (``kms:EncryptionContext:SecretARN``, which Secrets Manager sets to the
      secret's ARN), matched by prefix with StringLike.
    """
    secrets = arns.secrets_arn_pattern(secret_name_prefix)
    statements = [
        _statement(
            "ManageKeysOfTaggedUsers",
            ROTATION_IAM_ACTIONS,
            [arns.users_arn_pattern(iam_path)],
            {"StringEquals": {f"iam:ResourceTag/{rotator_tag}": rotator_id}},
        ),
        _statement(
            "RotateSecretsNamingThisFunction",
            ROTATION_SECRET_ACTIONS,
            [secrets],
            # An ARN-typed key (Service Authorization Reference): ArnEquals, not StringEquals.
            {"ArnEquals": {"secretsmanager:resource/AllowRotationLambdaArn": function_arn}},
        ),
        _write_own_logs(log_group_arn),
    ]
    if kms_key_arn:
        statements.append(
            _statement(
                "UseSecretKey",
                ["kms:Decrypt", "kms:GenerateDataKey"],
                [kms_key_arn],
                {
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{arns.region}.amazonaws.com"
                    },
                    "StringLike": {"kms:EncryptionContext:SecretARN": secrets},
                },
            )
        )
    return _document(statements)


def abac_reader_policy(
    *, arns: ArnParts, secret_name_prefix: str, consumer_tag: str, kms_key_arn: str | None = None
) -> PolicyDocument:
    """One reader policy for the whole stack: a principal reads the secrets whose consumer tag
    equals its own (attribute-based access control).

    ``aws:ResourceTag/<key>`` on the secret against ``${aws:PrincipalTag/<key>}`` of the
    caller: an app team's role tagged ``consumer_tag`` = ``support-bot`` reads exactly
    support-bot's secret. A principal without the tag matches nothing (a missing key never
    equals). Only the deployer tags secrets; give app teams no secretsmanager:TagResource.
    """
    secrets = arns.secrets_arn_pattern(secret_name_prefix)
    statements = [
        _statement(
            "ReadOwnConsumersRotatedKey",
            READER_SECRET_ACTIONS,
            [secrets],
            {
                "StringEquals": {
                    f"aws:ResourceTag/{consumer_tag}": f"${{aws:PrincipalTag/{consumer_tag}}}"
                }
            },
        )
    ]
    if kms_key_arn:
        statements.append(
            _statement(
                "DecryptRotatedKeys",
                ["kms:Decrypt"],
                [kms_key_arn],
                {
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{arns.region}.amazonaws.com"
                    },
                    "StringLike": {"kms:EncryptionContext:SecretARN": secrets},
                },
            )
        )
    return _document(statements)


def scheduler_assume_role_policy(account: str) -> PolicyDocument:
    """Only EventBridge Scheduler, acting for this account's schedules, assumes the role
    (``aws:SourceAccount`` against the confused deputy)."""
    return _document(
        [
            {
                "Sid": "SchedulerAssumesRole",
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        ]
    )


def scheduler_role_policy(*, function_arns: Sequence[str]) -> PolicyDocument:
    """The sweep schedules' role: invoke the rotation function(s), nothing else.

    EventBridge Scheduler invokes a target with this role, not through a Lambda resource
    policy, so no lambda:AddPermission per schedule is needed.
    """
    return _document(
        [_statement("InvokeRotationFunctions", ["lambda:InvokeFunction"], function_arns)]
    )


def minified(document: PolicyDocument) -> str:
    """A policy as IAM counts its size: JSON without white space."""
    return json.dumps(document, separators=(",", ":"))
