"""Every policy document the component sends, statement by statement, and linted.

The documents are read from the inputs the mock engine received, so they are what AWS would
get. parliament runs with its community auditors too; the only findings accepted are named
below with the reason they are inherent, each for one document only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import parliament
import pytest

from components.config import SelfRead
from components.iam_policies import consumer_user_policy, minified
from components.rotated_access_key import worst_case_secret_arn
from tests.program.conftest import DENY_TEMPORARY_CREDENTIALS

ACCOUNT = "123456789012"
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:credrot-support-bot-secret-AbCdEf"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/ai-credential-rotation/credrot-support-bot-user"
LOG_GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:credrot-support-bot-rotation-logs"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:credrot-_shared-alarms"
SHARED_FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:credrot-_shared-rotator"
SHARED_LOG_GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:credrot-_shared-rotation-logs"
PROJECT_SECRETS = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:credrot-*"
PROJECT_USERS = f"arn:aws:iam::{ACCOUNT}:user/ai-credential-rotation/*"
KMS_KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VIA_SECRETS_MANAGER = {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}

# What both rotation roles may do, to one user and secret (isolated) or to tagged ones (shared).
KEY_ACTIONS = [
    "iam:CreateAccessKey",
    "iam:DeleteAccessKey",
    "iam:ListAccessKeys",
    "iam:ListUserTags",
    "iam:UpdateAccessKey",
]
SECRET_ROTATION_ACTIONS = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:ListSecretVersionIds",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
]
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]

# A trust policy has a Principal and no Resource by design; parliament, written for
# identity policies, reports exactly that.
TRUST_POLICY_FINDINGS = frozenset(
    {("MALFORMED", "Statement contains neither Resource nor NotResource")}
)
# The rotation role's job is to mint and delete users' access keys: the community auditors
# flag iam:CreateAccessKey as such. Scoped to the one user's ARN (isolated) or to the project's
# users carrying the stack's rotator tag (shared), both asserted below.
ROTATION_ROLE_FINDINGS = frozenset(
    {
        ("CREDENTIALS_EXPOSURE", ""),
        ("PERMISSIONS_MANAGEMENT_ACTIONS", ""),
        ("PRIVILEGE_ESCALATION", ""),
    }
)


# The user resource supports iam:ResourceTag/${TagKey} (parliament's own iam_definition.json
# lists it for "user", from the Service Authorization Reference), but parliament expands the
# ${TagKey} placeholder only for aws: keys, so it reports the key as unknown, once per action.
SHARED_ROTATION_ROLE_FINDINGS = ROTATION_ROLE_FINDINGS | {
    (
        "UNKNOWN_CONDITION_FOR_ACTION",
        f"Unknown condition iam:ResourceTag/ai-credential-rotation:rotator for action {action}",
    )
    for action in KEY_ACTIONS
}


def policy_document(*statements: dict[str, Any]) -> dict[str, Any]:
    """A policy document of these statements, in this order."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(sid: str, actions: list[str], resources: list[str], **more: Any) -> dict[str, Any]:
    """An Allow statement; ``more`` holds its other elements (Condition, Principal)."""
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **more}


def findings(
    document: dict[str, Any], accepted: frozenset[tuple[str, str]] = frozenset()
) -> list[Any]:
    """parliament's findings (community auditors included) minus the ``accepted`` ones."""
    policy = parliament.analyze_policy_string(json.dumps(document), include_community_auditors=True)
    return [
        (finding.issue, finding.detail, finding.location)
        for finding in policy.findings
        if (finding.issue, finding.detail) not in accepted
    ]


def documents(engine: Any) -> dict[str, dict[str, Any]]:
    """Every policy document registered, by resource name."""
    found = {}
    for resource in engine.registered():
        for key in ("policy", "assumeRolePolicy"):
            if key in resource.inputs:
                found[f"{resource.name}:{key}"] = resource.policy(key)
    return found


def test_the_data_access_policy_grants_the_paths_and_nothing_else(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(
        read_paths=("s3://acme-knowledge-base/support/", "s3://acme-knowledge-base/faq/"),
        write_paths=("s3://acme-transcripts/support-bot/",),
    )
    data_policy = engine.one("aws:iam/userPolicy:UserPolicy", "credrot-support-bot-data-access")
    # Inline and minified: IAM counts a user's inline policies without white space.
    assert data_policy.inputs["policy"] == json.dumps(data_policy.policy(), separators=(",", ":"))
    document = data_policy.policy()
    assert document == policy_document(
        allow(
            "ReadObjects",
            ["s3:GetObject"],
            [
                "arn:aws:s3:::acme-knowledge-base/faq/*",
                "arn:aws:s3:::acme-knowledge-base/support/*",
                "arn:aws:s3:::acme-transcripts/support-bot/*",
            ],
        ),
        allow(
            "WriteObjects",
            ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"],
            ["arn:aws:s3:::acme-transcripts/support-bot/*"],
        ),
        allow(
            "ListPrefixes0",
            ["s3:ListBucket"],
            ["arn:aws:s3:::acme-knowledge-base"],
            Condition={"StringLike": {"s3:prefix": ["faq/*", "support/*"]}},
        ),
        allow(
            "ListPrefixes1",
            ["s3:ListBucket"],
            ["arn:aws:s3:::acme-transcripts"],
            Condition={"StringLike": {"s3:prefix": ["support-bot/*"]}},
        ),
        DENY_TEMPORARY_CREDENTIALS,
    )
    assert findings(document) == []


def test_the_consumer_policy_denies_every_request_made_with_temporary_credentials(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    document = engine.one(
        "aws:iam/userPolicy:UserPolicy", "credrot-support-bot-data-access"
    ).policy()
    denials = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    # One Deny, on every action and resource, conditioned only on aws:TokenIssueTime being
    # present: the key is in the request context only for temporary credentials (IAM User
    # Guide, global condition keys), so requests signed with the long-term key never match.
    assert denials == [DENY_TEMPORARY_CREDENTIALS]
    assert findings(document) == []


def test_the_isolated_rotation_role_reaches_one_user_one_secret_and_its_own_logs(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(isolated_rotator=True)
    user_name = engine.one("aws:iam/user:User", "credrot-support-bot-user").inputs["name"]
    document = engine.role_policy("credrot-support-bot-rotation-policy")
    assert document == policy_document(
        allow(
            "ManageKeysOfOneUser",
            KEY_ACTIONS,
            [USER_ARN.replace("credrot-support-bot-user", user_name)],
        ),
        allow("RotateOneSecret", SECRET_ROTATION_ACTIONS, [SECRET_ARN]),
        allow("WriteOwnLogs", LOG_ACTIONS, [f"{LOG_GROUP_ARN}:*"]),
    )
    assert findings(document, ROTATION_ROLE_FINDINGS) == []


def test_the_shared_rotation_role_reaches_tagged_users_and_secrets_naming_it(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    document = engine.role_policy("credrot-_shared-rotation-policy")
    assert document == policy_document(
        allow(
            "ManageKeysOfTaggedUsers",
            KEY_ACTIONS,
            [PROJECT_USERS],
            Condition={
                "StringEquals": {
                    "iam:ResourceTag/ai-credential-rotation:rotator": "ai-credential-rotation/test"
                }
            },
        ),
        allow(
            "RotateSecretsNamingThisFunction",
            SECRET_ROTATION_ACTIONS,
            [PROJECT_SECRETS],
            Condition={
                "ArnEquals": {"secretsmanager:resource/AllowRotationLambdaArn": SHARED_FUNCTION_ARN}
            },
        ),
        allow("WriteOwnLogs", LOG_ACTIONS, [f"{SHARED_LOG_GROUP_ARN}:*"]),
    )
    assert findings(document, SHARED_ROTATION_ROLE_FINDINGS) == []


def test_a_customer_key_is_usable_only_through_secrets_manager_for_the_projects_secrets(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(kms_key_arn=KMS_KEY_ARN, rotator={"kms_key_arn": KMS_KEY_ARN})
    secret = engine.one("aws:secretsmanager/secret:Secret", "credrot-support-bot-secret")
    assert secret.inputs["kmsKeyId"] == KMS_KEY_ARN
    rotation = engine.role_policy("credrot-_shared-rotation-policy")
    reader = engine.one("aws:iam/policy:Policy", "credrot-_shared-reader").policy()
    via_secrets_manager_for_project_secrets = {
        **VIA_SECRETS_MANAGER,
        "StringLike": {"kms:EncryptionContext:SecretARN": PROJECT_SECRETS},
    }
    assert rotation["Statement"][-1] == {
        "Sid": "UseSecretKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": [KMS_KEY_ARN],
        "Condition": via_secrets_manager_for_project_secrets,
    }
    assert reader["Statement"][-1] == {
        "Sid": "DecryptRotatedKeys",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": [KMS_KEY_ARN],
        "Condition": via_secrets_manager_for_project_secrets,
    }
    assert findings(rotation, SHARED_ROTATION_ROLE_FINDINGS) == []
    assert findings(reader) == []


def test_the_reader_policy_reads_the_secret_whose_consumer_tag_is_the_callers(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    outputs = deploy()
    reader = engine.one("aws:iam/policy:Policy", "credrot-_shared-reader")
    assert outputs["reader_policy_arn"] == (
        f"arn:aws:iam::{ACCOUNT}:policy/ai-credential-rotation/credrot-_shared-reader"
    )
    document = reader.policy()
    assert document == policy_document(
        allow(
            "ReadOwnConsumersRotatedKey",
            ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            [PROJECT_SECRETS],
            Condition={
                "StringEquals": {
                    "aws:ResourceTag/ai-credential-rotation:consumer": (
                        "${aws:PrincipalTag/ai-credential-rotation:consumer}"
                    )
                }
            },
        )
    )
    assert findings(document) == []


def test_only_our_rule_and_the_projects_alarms_may_publish_to_the_topic(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    topic_policy = engine.one("aws:sns/topicPolicy:TopicPolicy", "credrot-_shared-alarms-policy")
    assert topic_policy.inputs["arn"] == TOPIC_ARN
    document = topic_policy.policy()
    assert document == policy_document(
        allow(
            "EventBridgeRulesPublish",
            ["sns:Publish"],
            [TOPIC_ARN],
            Condition={
                "ArnLike": {
                    "aws:SourceArn": [
                        f"arn:aws:events:us-east-1:{ACCOUNT}:rule/credrot-_shared-rotation-failed"
                    ]
                }
            },
            Principal={"Service": "events.amazonaws.com"},
        ),
        allow(
            "CloudWatchAlarmsPublish",
            ["sns:Publish"],
            [TOPIC_ARN],
            Condition={
                "ArnLike": {
                    "aws:SourceArn": [f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:credrot-*"]
                }
            },
            Principal={"Service": "cloudwatch.amazonaws.com"},
        ),
    )
    assert findings(document) == []


@pytest.mark.parametrize(
    "role", ["credrot-_shared-rotation-role", "credrot-support-bot-rotation-role"]
)
def test_only_lambda_may_assume_a_rotation_role(
    engine: Any, deploy: Callable[..., dict[str, Any]], role: str
) -> None:
    deploy(isolated_rotator=True)
    registered = engine.one("aws:iam/role:Role", role)
    assert registered.inputs["path"] == "/ai-credential-rotation/"
    document = registered.policy("assumeRolePolicy")
    assert document == policy_document(
        {
            "Sid": "LambdaAssumesRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    assert findings(document, TRUST_POLICY_FINDINGS) == []


def test_the_sweep_role_is_assumed_by_this_accounts_scheduler_and_only_invokes_rotators(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(isolated_rotator=True)
    role = engine.one("aws:iam/role:Role", "credrot-_shared-scheduler-role")
    assert role.policy("assumeRolePolicy") == policy_document(
        {
            "Sid": "SchedulerAssumesRole",
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    )
    document = engine.role_policy("credrot-_shared-scheduler-policy")
    assert document == policy_document(
        allow(
            "InvokeRotationFunctions",
            ["lambda:InvokeFunction"],
            [
                SHARED_FUNCTION_ARN,
                # The isolated consumer's function, named by its prefix (created later).
                f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:credrot-support-bot-rotator-*",
            ],
        )
    )
    assert findings(document) == []


def test_a_data_policy_over_the_inline_size_becomes_a_managed_policy(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(read_paths=tuple(f"s3://acme-knowledge-base/{'p' * 60}{i}/" for i in range(20)))
    assert engine.of_type("aws:iam/userPolicy:UserPolicy") == []
    managed = engine.one("aws:iam/policy:Policy", "credrot-support-bot-data-access")
    attachment = engine.one(
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "credrot-support-bot-data-access-attachment",
    )
    assert len(managed.inputs["policy"]) > 2048
    assert attachment.inputs["policyArn"] == (
        f"arn:aws:iam::{ACCOUNT}:policy/ai-credential-rotation/credrot-support-bot-data-access"
    )


def test_a_self_read_policy_is_sized_with_the_longest_arn_its_secret_could_get(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    # Paths chosen so the document fits with the mock's short ARN but not with the longest.
    base = consumer_user_policy(
        ("s3://acme-knowledge-base/a/",),
        (),
        self_read_secret_arn="x",
        source_cidrs=("192.0.32.0/20",),
    )
    room = 2048 - len(minified(base)) + 1 - len(worst_case_secret_arn("credrot-support-bot-secret"))
    path = f"s3://acme-knowledge-base/{'a' * (room // 2 - 2)}/"
    document = consumer_user_policy(
        (path,), (), self_read_secret_arn=SECRET_ARN, source_cidrs=("192.0.32.0/20",)
    )
    # With the mock's short ARN it would fit inline: only the worst-case sizing refuses it.
    assert len(minified(document)) <= 2048
    deploy(read_paths=(path,), self_read=SelfRead(source_cidrs=("192.0.32.0/20",)))
    assert engine.of_type("aws:iam/userPolicy:UserPolicy") == []
    assert engine.one("aws:iam/policy:Policy", "credrot-support-bot-data-access")


@pytest.mark.parametrize("kms_key_arn", [None, KMS_KEY_ARN])
def test_a_wildcard_resource_of_iam_or_secrets_manager_always_carries_a_scoping_condition(
    engine: Any, deploy: Callable[..., dict[str, Any]], kms_key_arn: str | None
) -> None:
    deploy(kms_key_arn=kms_key_arn, self_read=None, rotator={"kms_key_arn": kms_key_arn})
    registered = documents(engine)
    assert set(registered) == {
        "credrot-support-bot-data-access:policy",
        "credrot-_shared-rotation-role:assumeRolePolicy",
        "credrot-_shared-rotation-policy:policy",
        "credrot-_shared-scheduler-role:assumeRolePolicy",
        "credrot-_shared-scheduler-policy:policy",
        "credrot-_shared-alarms-policy:policy",
        "credrot-_shared-reader:policy",
    }
    for name, document in registered.items():
        for statement in document["Statement"]:
            if statement["Effect"] == "Deny":
                # Only the consumer's denial of temporary credentials may name "*".
                assert name == "credrot-support-bot-data-access:policy"
                assert statement == DENY_TEMPORARY_CREDENTIALS
                continue
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            assert not any("*" in action for action in actions), name
            if any(action.startswith(("iam:", "secretsmanager:")) for action in actions):
                assert statement["Resource"], name
                assert all(
                    resource in (PROJECT_USERS, PROJECT_SECRETS) or "*" not in resource
                    for resource in statement["Resource"]
                ), name
                if any("*" in resource for resource in statement["Resource"]):
                    assert statement["Condition"], name
