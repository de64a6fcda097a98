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

ACCOUNT = "123456789012"
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:credrot-support-bot-secret-AbCdEf"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/ai-credential-rotation/credrot-support-bot-user"
LOG_GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:credrot-support-bot-rotation-logs"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:credrot-support-bot-alarms"
KMS_KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VIA_SECRETS_MANAGER = {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}
# Every consumer user's policy ends with this: temporary credentials derived from the key
# (sts:GetSessionToken) outlive its deactivation, so they are denied outright.
DENY_TEMPORARY_CREDENTIALS = {
    "Sid": "DenyTemporaryCredentials",
    "Effect": "Deny",
    "Action": "*",
    "Resource": "*",
    "Condition": {"Null": {"aws:TokenIssueTime": "false"}},
}

# A trust policy has a Principal and no Resource by design; parliament, written for
# identity policies, reports exactly that.
TRUST_POLICY_FINDINGS = frozenset(
    {("MALFORMED", "Statement contains neither Resource nor NotResource")}
)
# The rotation role's job is to mint and delete one user's access keys: the community
# auditors flag iam:CreateAccessKey as such. Scoped to the one user's ARN (asserted below).
ROTATION_ROLE_FINDINGS = frozenset(
    {
        ("CREDENTIALS_EXPOSURE", ""),
        ("PERMISSIONS_MANAGEMENT_ACTIONS", ""),
        ("PRIVILEGE_ESCALATION", ""),
    }
)


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
    document = engine.one("aws:iam/policy:Policy", "credrot-support-bot-data-access").policy()
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [
                    "arn:aws:s3:::acme-knowledge-base/faq/*",
                    "arn:aws:s3:::acme-knowledge-base/support/*",
                    "arn:aws:s3:::acme-transcripts/support-bot/*",
                ],
            },
            {
                "Sid": "WriteObjects",
                "Effect": "Allow",
                "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"],
                "Resource": ["arn:aws:s3:::acme-transcripts/support-bot/*"],
            },
            {
                "Sid": "ListPrefixes0",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": ["arn:aws:s3:::acme-knowledge-base"],
                "Condition": {"StringLike": {"s3:prefix": ["faq/*", "support/*"]}},
            },
            {
                "Sid": "ListPrefixes1",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": ["arn:aws:s3:::acme-transcripts"],
                "Condition": {"StringLike": {"s3:prefix": ["support-bot/*"]}},
            },
            DENY_TEMPORARY_CREDENTIALS,
        ],
    }
    assert findings(document) == []


def test_the_consumer_policy_denies_every_request_made_with_temporary_credentials(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    document = engine.one("aws:iam/policy:Policy", "credrot-support-bot-data-access").policy()
    denials = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    # One Deny, on every action and resource, conditioned only on aws:TokenIssueTime being
    # present: the key is in the request context only for temporary credentials (IAM User
    # Guide, global condition keys), so requests signed with the long-term key never match.
    assert denials == [DENY_TEMPORARY_CREDENTIALS]
    assert findings(document) == []


def test_the_rotation_role_reaches_one_user_one_secret_and_its_own_logs(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    document = engine.one(
        "aws:iam/rolePolicy:RolePolicy", "credrot-support-bot-rotation-policy"
    ).policy()
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ManageKeysOfOneUser",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateAccessKey",
                    "iam:DeleteAccessKey",
                    "iam:ListAccessKeys",
                    "iam:ListUserTags",
                    "iam:UpdateAccessKey",
                ],
                "Resource": [USER_ARN],
            },
            {
                "Sid": "RotateOneSecret",
                "Effect": "Allow",
                "Action": [
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:ListSecretVersionIds",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecretVersionStage",
                ],
                "Resource": [SECRET_ARN],
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"{LOG_GROUP_ARN}:*"],
            },
        ],
    }
    assert findings(document, ROTATION_ROLE_FINDINGS) == []


def test_a_customer_key_is_usable_only_through_secrets_manager(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(kms_key_arn=KMS_KEY_ARN)
    secret = engine.one("aws:secretsmanager/secret:Secret", "credrot-support-bot-secret")
    assert secret.inputs["kmsKeyId"] == KMS_KEY_ARN
    rotation = engine.one(
        "aws:iam/rolePolicy:RolePolicy", "credrot-support-bot-rotation-policy"
    ).policy()
    reader = engine.one("aws:iam/policy:Policy", "credrot-support-bot-reader").policy()
    assert rotation["Statement"][-1] == {
        "Sid": "UseSecretKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": [KMS_KEY_ARN],
        "Condition": VIA_SECRETS_MANAGER,
    }
    assert reader["Statement"] == [
        {
            "Sid": "ReadRotatedKey",
            "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Resource": [SECRET_ARN],
        },
        {
            "Sid": "DecryptRotatedKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [KMS_KEY_ARN],
            "Condition": VIA_SECRETS_MANAGER,
        },
    ]
    assert findings(rotation, ROTATION_ROLE_FINDINGS) == []
    assert findings(reader) == []


def test_the_reader_policy_reads_this_secret_only(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    document = engine.one("aws:iam/policy:Policy", "credrot-support-bot-reader").policy()
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadRotatedKey",
                "Effect": "Allow",
                "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                "Resource": [SECRET_ARN],
            }
        ],
    }
    assert findings(document) == []


def test_only_our_rule_and_alarm_may_publish_to_the_topic(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    topic_policy = engine.one(
        "aws:sns/topicPolicy:TopicPolicy", "credrot-support-bot-alarms-policy"
    )
    assert topic_policy.inputs["arn"] == TOPIC_ARN
    document = topic_policy.policy()
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgeRulesPublish",
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": [TOPIC_ARN],
                "Condition": {
                    "ArnEquals": {
                        "aws:SourceArn": [
                            f"arn:aws:events:us-east-1:{ACCOUNT}:rule/credrot-support-bot-rotation-failed"
                        ]
                    }
                },
                "Principal": {"Service": "events.amazonaws.com"},
            },
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": [TOPIC_ARN],
                "Condition": {
                    "ArnEquals": {
                        "aws:SourceArn": [
                            f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:credrot-support-bot-errors"
                        ]
                    }
                },
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
            },
        ],
    }
    assert findings(document) == []


def test_only_lambda_may_assume_the_rotation_role(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    role = engine.one("aws:iam/role:Role", "credrot-support-bot-rotation-role")
    assert role.inputs["path"] == "/ai-credential-rotation/"
    document = role.policy("assumeRolePolicy")
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LambdaAssumesRole",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    assert findings(document, TRUST_POLICY_FINDINGS) == []


@pytest.mark.parametrize("kms_key_arn", [None, KMS_KEY_ARN])
def test_no_iam_or_secrets_manager_action_is_granted_on_a_wildcard(
    engine: Any, deploy: Callable[..., dict[str, Any]], kms_key_arn: str | None
) -> None:
    deploy(kms_key_arn=kms_key_arn, self_read=None)
    registered = documents(engine)
    assert set(registered) == {
        "credrot-support-bot-data-access:policy",
        "credrot-support-bot-rotation-role:assumeRolePolicy",
        "credrot-support-bot-rotation-policy:policy",
        "credrot-support-bot-alarms-policy:policy",
        "credrot-support-bot-reader:policy",
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
                assert not any("*" in resource for resource in statement["Resource"]), name
