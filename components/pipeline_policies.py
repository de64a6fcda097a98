"""The IAM documents of the roles the delivery pipeline assumes, generated in one place.

Pure functions, like ``components.iam_policies``: no Pulumi, no boto3. This stack does not
deploy them (the roles must exist before the pipeline can run); docs/pipeline-role.md shows
them, and tests/delivery keeps that page equal to them and lints them with parliament.

Two roles, both assumed through GitHub's OIDC provider, never with stored keys:

- the deploy role (``pulumi up``), for the push-to-main job (dev) and the jobs of the
  ``prod`` environment: it manages this project's resources only, found by IAM path
  (``/<project>/``) and, for everything else, by the name prefix every resource of the
  component starts with (``components.contract.RESOURCE_NAME_PREFIX``, ``credrot-``);
- the preview role (``pulumi preview`` on pull requests): read-only, never a secret value,
  because a pull request runs code nobody has reviewed yet.
"""

from __future__ import annotations

import re
from typing import Any

from components.contract import RESOURCE_NAME_PREFIX

PolicyDocument = dict[str, Any]

POLICY_VERSION = "2012-10-17"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The subject GitHub puts in a job's token: "environment:<name>" for a job in an environment,
# "ref:<ref>" for a job without one on a push, "pull_request" for a pull request's job.
DEPLOY_SUBJECTS = ("environment:prod", "ref:refs/heads/main")
PREVIEW_SUBJECTS = ("pull_request",)
# AWS-managed policies the deploy role may never attach (guardrails' list, plus the ones
# that hand over IAM or every secret some other way).
FORBIDDEN_MANAGED_POLICIES = (
    "AdministratorAccess",
    "IAMFullAccess",
    "PowerUserAccess",
    "SecretsManagerReadWrite",
)

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_REPO_RE = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_POLICY_ARN_RE = re.compile(r"^arn:aws:iam::\d{12}:policy/[\w+=,.@/-]+$")
_KMS_KEY_RE = re.compile(r"^arn:aws:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")


def _require(value: str, pattern: re.Pattern[str], field: str, example: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"{field}: {value!r} is not valid; expected something like {example!r}")
    return value


def _statement(
    sid: str,
    actions: list[str],
    resources: list[str],
    condition: dict[str, Any] | None = None,
    effect: str = "Allow",
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": effect,
        "Action": sorted(set(actions)),
        "Resource": sorted(set(resources)),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _github_trust(
    sid: str, account_id: str, repo: str, subjects: tuple[str, ...]
) -> PolicyDocument:
    _require(account_id, _ACCOUNT_RE, "account_id", "123456789012")
    _require(repo, _REPO_RE, "repo", "my-org/ai-credential-rotation")
    subs = sorted(f"repo:{repo}:{subject}" for subject in subjects)
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {
                    "Federated": f"arn:aws:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                # StringEquals, never StringLike: no wildcard lets another repository,
                # branch, environment or event in.
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                        f"{GITHUB_OIDC_HOST}:sub": subs[0] if len(subs) == 1 else subs,
                    }
                },
            }
        ],
    }


def pipeline_trust_policy(account_id: str, repo: str) -> PolicyDocument:
    """Trust policy of the deploy role: pushes to main and the prod environment of ``repo``."""
    return _github_trust("GitHubDeploysFromMainOrProd", account_id, repo, DEPLOY_SUBJECTS)


def preview_trust_policy(account_id: str, repo: str) -> PolicyDocument:
    """Trust policy of the read-only preview role: the pull requests of ``repo``."""
    return _github_trust("GitHubPreviewsPullRequests", account_id, repo, PREVIEW_SUBJECTS)


class ProjectArns:
    """ARN patterns of every resource the project owns: IAM by path, the rest by name prefix.

    The path is ``/<project>/``; the prefix is the component's ``RESOURCE_NAME_PREFIX``, which
    starts the name of every secret, function, log group, rule, topic and alarm it creates.
    """

    def __init__(self, account_id: str, region: str, project: str) -> None:
        _require(account_id, _ACCOUNT_RE, "account_id", "123456789012")
        _require(region, _REGION_RE, "region", "eu-west-1")
        _require(project, _PROJECT_RE, "project", "ai-credential-rotation")
        iam = f"arn:aws:iam::{account_id}"
        regional = f"{region}:{account_id}"
        prefix = RESOURCE_NAME_PREFIX
        self.users = f"{iam}:user/{project}/*"
        self.roles = f"{iam}:role/{project}/*"
        self.policies = f"{iam}:policy/{project}/*"
        self.secrets = f"arn:aws:secretsmanager:{regional}:secret:{prefix}*"
        self.functions = f"arn:aws:lambda:{regional}:function:{prefix}*"
        log_group = f"arn:aws:logs:{regional}:log-group:{prefix}*"
        # Some logs actions take the group's ARN, others the same ARN with ":*".
        self.log_groups = [log_group, f"{log_group}:*"]
        self.rules = f"arn:aws:events:{regional}:rule/{prefix}*"
        self.topics = f"arn:aws:sns:{regional}:{prefix}*"
        self.alarms = f"arn:aws:cloudwatch:{regional}:alarm:{prefix}*"


# What deleting an IAM user with force_destroy (the program sets it: the rotation Lambda makes
# keys Pulumi does not know) takes: every credential and membership of the user goes first.
_USER_CLEANUP_ACTIONS = [
    "iam:ListAccessKeys",
    "iam:DeleteAccessKey",
    "iam:ListGroupsForUser",
    "iam:ListMFADevices",
    "iam:DeactivateMFADevice",
    "iam:GetLoginProfile",
    "iam:DeleteLoginProfile",
    "iam:ListSSHPublicKeys",
    "iam:DeleteSSHPublicKey",
    "iam:ListSigningCertificates",
    "iam:DeleteSigningCertificate",
    "iam:ListServiceSpecificCredentials",
    "iam:DeleteServiceSpecificCredential",
]


def _user_creation(users: str, permissions_boundary_arn: str | None) -> list[dict[str, Any]]:
    """Creating users, and with a boundary: only inside it, and never removing it.

    Without a boundary a project user's rights are whatever its policies say, and this role
    edits those policies; with one, no edit can take a user (or a key the role could read)
    beyond the boundary.
    """
    actions = ["iam:CreateUser", "iam:PutUserPermissionsBoundary"]
    if permissions_boundary_arn is None:
        return [
            _statement(
                "CreateProjectUsers", [*actions, "iam:DeleteUserPermissionsBoundary"], [users]
            )
        ]
    _require(
        permissions_boundary_arn,
        _POLICY_ARN_RE,
        "permissions_boundary_arn",
        "arn:aws:iam::123456789012:policy/boundaries/ai-apps",
    )
    return [
        _statement(
            "CreateProjectUsersInsideTheBoundary",
            actions,
            [users],
            {"ArnEquals": {"iam:PermissionsBoundary": permissions_boundary_arn}},
        ),
        _statement(
            "NeverRemoveTheBoundary", ["iam:DeleteUserPermissionsBoundary"], ["*"], effect="Deny"
        ),
    ]


def pipeline_deploy_policy(
    account_id: str,
    region: str,
    project: str,
    *,
    kms_key_arn: str | None = None,
    permissions_boundary_arn: str | None = None,
) -> PolicyDocument:
    """Permissions of the deploy role: create, update and delete this project's resources.

    Every Allow is scoped to the project's IAM path or resource name prefix, except three
    actions AWS cannot scope (listing log groups, MFA devices, and SNS subscriptions by ARN).
    Explicit Denies hold whatever else is ever attached to the role: no access key minted,
    no AWS-managed admin policy attached. ``kms_key_arn`` and ``permissions_boundary_arn``
    are the stack's ``kmsKeyArn`` and ``permissionsBoundaryArn``, when set.
    """
    arns = ProjectArns(account_id, region, project)
    statements = [
        *_user_creation(arns.users, permissions_boundary_arn),
        _statement(
            "ManageProjectUsers",
            [
                "iam:DeleteUser",
                "iam:GetUser",
                "iam:UpdateUser",
                "iam:TagUser",
                "iam:UntagUser",
                "iam:ListUserTags",
                "iam:AttachUserPolicy",
                "iam:DetachUserPolicy",
                "iam:ListAttachedUserPolicies",
                "iam:ListUserPolicies",
                *_USER_CLEANUP_ACTIONS,
            ],
            [arns.users],
        ),
        _statement(
            "ManageProjectRoles",
            [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:ListRoleTags",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
            ],
            [arns.roles],
        ),
        _statement(
            "ManageProjectPolicies",
            [
                "iam:CreatePolicy",
                "iam:DeletePolicy",
                "iam:GetPolicy",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicyVersion",
                "iam:GetPolicyVersion",
                "iam:ListPolicyVersions",
                "iam:ListEntitiesForPolicy",
                "iam:TagPolicy",
                "iam:UntagPolicy",
                "iam:ListPolicyTags",
            ],
            [arns.policies],
        ),
        _statement(
            "PassProjectRolesToLambdaOnly",
            ["iam:PassRole"],
            [arns.roles],
            {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        ),
        # Takes no resource ARN; it only lists (force_destroy looks for the user's devices).
        _statement("FindVirtualMfaDevices", ["iam:ListVirtualMFADevices"], ["*"]),
        _statement(
            "ManageProjectSecrets",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:UpdateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:UntagResource",
                "secretsmanager:GetResourcePolicy",
                "secretsmanager:RotateSecret",
                "secretsmanager:CancelRotateSecret",
            ],
            [arns.secrets],
        ),
        # The program's bootstrap SecretVersion ({"UserName"}, no key): writing it, keeping
        # its labels, and the read the provider makes after creating it. GetSecretValue
        # cannot be limited to that version, so this role could read a live key: drop this
        # statement once the program no longer declares a SecretVersion.
        _statement(
            "WriteBootstrapSecretVersion",
            [
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
                "secretsmanager:GetSecretValue",
            ],
            [arns.secrets],
        ),
        _statement(
            "ManageProjectFunctions",
            [
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:GetFunctionCodeSigningConfig",
                "lambda:GetFunctionConcurrency",
                "lambda:GetFunctionRecursionConfig",
                "lambda:GetRuntimeManagementConfig",
                "lambda:ListVersionsByFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:ListTags",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:GetPolicy",
            ],
            [arns.functions],
        ),
        _statement(
            "ManageProjectLogGroups",
            [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
                "logs:TagLogGroup",
                "logs:UntagLogGroup",
                "logs:ListTagsLogGroup",
            ],
            arns.log_groups,
        ),
        # Takes no resource ARN; it returns names and settings, never log events.
        _statement("FindLogGroups", ["logs:DescribeLogGroups"], ["*"]),
        _statement(
            "ManageProjectRules",
            [
                "events:PutRule",
                "events:DeleteRule",
                "events:DescribeRule",
                "events:EnableRule",
                "events:DisableRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:ListTargetsByRule",
                "events:TagResource",
                "events:UntagResource",
                "events:ListTagsForResource",
            ],
            [arns.rules],
        ),
        _statement(
            "ManageProjectTopics",
            [
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:ListSubscriptionsByTopic",
                "sns:TagResource",
                "sns:UntagResource",
                "sns:ListTagsForResource",
            ],
            [arns.topics],
        ),
        # Subscriptions have no ARN IAM can scope to (the alarm e-mail subscription).
        _statement(
            "ManageAlarmSubscriptions",
            ["sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:Unsubscribe"],
            ["*"],
        ),
        _statement(
            "ManageProjectAlarms",
            [
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
                "cloudwatch:ListTagsForResource",
            ],
            [arns.alarms],
        ),
        _statement("NeverMintAccessKeys", ["iam:CreateAccessKey"], ["*"], effect="Deny"),
        _statement(
            "NeverAttachAdminPolicies",
            ["iam:AttachRolePolicy", "iam:AttachUserPolicy"],
            ["*"],
            {
                "ArnEquals": {
                    "iam:PolicyARN": [
                        f"arn:aws:iam::aws:policy/{name}" for name in FORBIDDEN_MANAGED_POLICIES
                    ]
                }
            },
            effect="Deny",
        ),
    ]
    if kms_key_arn is not None:
        _require(
            kms_key_arn, _KMS_KEY_RE, "kms_key_arn", "arn:aws:kms:eu-west-1:123456789012:key/<id>"
        )
        statements.append(
            _statement(
                "UseSecretsKeyThroughSecretsManager",
                ["kms:Decrypt", "kms:GenerateDataKey"],
                [kms_key_arn],
                {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            )
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def preview_read_policy(account_id: str, region: str, project: str) -> PolicyDocument:
    """Permissions of the preview role: read the settings of this project's resources.

    Plain ``pulumi preview`` needs none of it (it diffs against the state); ``--refresh``
    and drift checks do. No write, and no secret value.
    """
    arns = ProjectArns(account_id, region, project)
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            _statement(
                "ReadProjectIam",
                [
                    "iam:GetUser",
                    "iam:ListUserTags",
                    "iam:ListUserPolicies",
                    "iam:ListAttachedUserPolicies",
                    "iam:GetRole",
                    "iam:ListRoleTags",
                    "iam:GetRolePolicy",
                    "iam:ListRolePolicies",
                    "iam:ListAttachedRolePolicies",
                    "iam:GetPolicy",
                    "iam:GetPolicyVersion",
                    "iam:ListPolicyVersions",
                    "iam:ListPolicyTags",
                ],
                [arns.users, arns.roles, arns.policies],
            ),
            _statement(
                "DescribeProjectSecrets",
                ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"],
                [arns.secrets],
            ),
            _statement(
                "ReadProjectFunctions",
                [
                    "lambda:GetFunction",
                    "lambda:GetFunctionConfiguration",
                    "lambda:GetFunctionCodeSigningConfig",
                    "lambda:GetFunctionConcurrency",
                    "lambda:GetFunctionRecursionConfig",
                    "lambda:GetRuntimeManagementConfig",
                    "lambda:ListVersionsByFunction",
                    "lambda:ListTags",
                    "lambda:GetPolicy",
                ],
                [arns.functions],
            ),
            _statement("FindLogGroups", ["logs:DescribeLogGroups"], ["*"]),
            _statement(
                "ReadProjectLogGroups",
                ["logs:ListTagsForResource", "logs:ListTagsLogGroup"],
                arns.log_groups,
            ),
            _statement(
                "ReadProjectRules",
                ["events:DescribeRule", "events:ListTargetsByRule", "events:ListTagsForResource"],
                [arns.rules],
            ),
            _statement(
                "ReadProjectTopics",
                [
                    "sns:GetTopicAttributes",
                    "sns:ListSubscriptionsByTopic",
                    "sns:ListTagsForResource",
                ],
                [arns.topics],
            ),
            _statement("ReadAlarmSubscriptions", ["sns:GetSubscriptionAttributes"], ["*"]),
            _statement(
                "ReadProjectAlarms",
                ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"],
                [arns.alarms],
            ),
        ],
    }
