"""The IAM documents of the roles the delivery pipeline assumes, generated in one place.

Pure functions, like ``components.iam_policies``: no Pulumi, no boto3. This stack does not
deploy them (the roles must exist before the pipeline can run); docs/pipeline-role.md shows
them, and tests/delivery keeps that page equal to them, lints them with parliament and checks
every privilege-escalation path against them.

Roles, all assumed through GitHub's OIDC provider, never with stored keys, one set per
environment (and ideally per AWS account):

- the deploy role of an environment (``pulumi up``), trusted only by the jobs of that GitHub
  environment (``environment:dev``, ``environment:prod``): it manages this project's
  resources only, found by IAM path (``/<project>/``) and, for everything else, by the name
  prefix every resource of the component starts with
  (``components.contract.RESOURCE_NAME_PREFIX``, ``credrot-``);
- the preview role (``pulumi preview`` on pull requests): read-only, never a secret value,
  because a pull request runs code nobody has reviewed yet.

What the deploy role can never do, whatever the program asks: create or change an IAM user
or role without the stack's permissions boundary, remove or edit that boundary, attach a
policy it did not create (except the stack's listed ``extraPolicyArns``, and only to bounded
users), pass a role other than the project's to anything but Lambda, assume any role, read a
secret value, mint a credential, let any principal but Secrets Manager, EventBridge and
Scheduler invoke a function. Each is an explicit Deny or a condition below; the tests name
the escalation path each one closes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from components.contract import RESOURCE_NAME_PREFIX, shared_names

PolicyDocument = dict[str, Any]

POLICY_VERSION = "2012-10-17"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# GitHub environments, one deploy role each. A job's OIDC subject is "environment:<name>"
# when it runs in an environment, whatever its branch or event: so each role trusts exactly
# one environment, and only that environment's protection rules (reviewers, branches) gate it.
ENVIRONMENTS = ("dev", "prod")
# A pull request's job has no environment: its subject is "pull_request".
PREVIEW_SUBJECT = "pull_request"
# The services the rotation function may be invoked by: rotation, the sweep rule, schedules.
INVOKING_SERVICES = (
    "events.amazonaws.com",
    "scheduler.amazonaws.com",
    "secretsmanager.amazonaws.com",
)
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
_ATTACHABLE_ARN_RE = re.compile(r"^arn:aws:iam::(\d{12}|aws):policy/[\w+=,.@/-]+$")
_KMS_KEY_RE = re.compile(r"^arn:aws:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
_SIGNING_CONFIG_RE = re.compile(
    r"^arn:aws:lambda:[a-z0-9-]+:\d{12}:code-signing-config:csc-[a-z0-9]+$"
)


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


def _github_trust(sid: str, account_id: str, repo: str, subject: str) -> PolicyDocument:
    _require(account_id, _ACCOUNT_RE, "account_id", "123456789012")
    _require(repo, _REPO_RE, "repo", "my-org/ai-credential-rotation")
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
                # StringEquals on one subject, never StringLike or a list: no wildcard lets
                # another repository, branch, environment or event in.
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                        f"{GITHUB_OIDC_HOST}:sub": f"repo:{repo}:{subject}",
                    }
                },
            }
        ],
    }


def pipeline_trust_policy(account_id: str, repo: str, environment: str) -> PolicyDocument:
    """Trust policy of one environment's deploy role: that GitHub environment's jobs only."""
    if environment not in ENVIRONMENTS:
        raise ValueError(
            f"environment: {environment!r} is not one of {', '.join(ENVIRONMENTS)}; "
            "each deploy role trusts exactly one GitHub environment"
        )
    sid = f"GitHubDeploysFrom{environment.capitalize()}Environment"
    return _github_trust(sid, account_id, repo, f"environment:{environment}")


def preview_trust_policy(account_id: str, repo: str) -> PolicyDocument:
    """Trust policy of the read-only preview role: the pull requests of ``repo``."""
    return _github_trust("GitHubPreviewsPullRequests", account_id, repo, PREVIEW_SUBJECT)


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
        # The sweeps live in the default schedule group.
        self.schedules = f"arn:aws:scheduler:{regional}:schedule/default/{prefix}*"
        # The role EventBridge Scheduler assumes for the sweeps (components.shared_rotator).
        self.scheduler_role = f"{iam}:role/{project}/{shared_names().scheduler_role}-*"


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
# Every way to get a credential of an IAM user: with one, the role could act as the user.
CREDENTIAL_ACTIONS = [
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreateServiceSpecificCredential",
    "iam:ResetServiceSpecificCredential",
    "iam:UploadSSHPublicKey",
    "iam:UploadSigningCertificate",
]
# Every way to read a secret's value, or let someone else read it.
SECRET_VALUE_ACTIONS = [
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "secretsmanager:PutResourcePolicy",
]
# Every way to change what a managed policy (here: the boundary) says or whether it exists.
POLICY_EDIT_ACTIONS = [
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
]


def _bounded(boundary_arn: str) -> dict[str, Any]:
    """The condition that the user or role acted on carries the stack's boundary."""
    return {"ArnEquals": {"iam:PermissionsBoundary": boundary_arn}}


def _iam_statements(
    arns: ProjectArns, boundary_arn: str, extra_policy_arns: Sequence[str]
) -> list[dict[str, Any]]:
    """Users, roles and policies: every grant that can change rights is bound to the boundary.

    ``iam:PermissionsBoundary`` is the boundary of the user or role the request acts on, so
    the role can neither create an unbounded principal nor change the policies of one.
    """
    bounded = _bounded(boundary_arn)
    attachable = [arns.policies, *extra_policy_arns]
    return [
        _statement(
            "ManageProjectUsersInsideTheBoundary",
            [
                "iam:CreateUser",
                "iam:PutUserPermissionsBoundary",
                "iam:PutUserPolicy",
                "iam:DeleteUserPolicy",
            ],
            [arns.users],
            bounded,
        ),
        _statement(
            "AttachOwnPoliciesToBoundedUsers",
            ["iam:AttachUserPolicy", "iam:DetachUserPolicy"],
            [arns.users],
            {**bounded, "ArnLike": {"iam:PolicyARN": sorted(set(attachable))}},
        ),
        _statement(
            "ManageProjectUsers",
            [
                "iam:DeleteUser",
                "iam:GetUser",
                "iam:GetUserPolicy",
                "iam:UpdateUser",
                "iam:TagUser",
                "iam:UntagUser",
                "iam:ListUserTags",
                "iam:ListAttachedUserPolicies",
                "iam:ListUserPolicies",
                *_USER_CLEANUP_ACTIONS,
            ],
            [arns.users],
        ),
        _statement(
            "ManageProjectRolesInsideTheBoundary",
            [
                "iam:CreateRole",
                "iam:PutRolePermissionsBoundary",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
            ],
            [arns.roles],
            bounded,
        ),
        _statement(
            "ManageProjectRoles",
            [
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:ListRoleTags",
                "iam:GetRolePolicy",
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
        # CreateSchedule passes the sweep role: only that role, only to EventBridge Scheduler.
        _statement(
            "PassSweepRoleToSchedulerOnly",
            ["iam:PassRole"],
            [arns.scheduler_role],
            {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        ),
        # Takes no resource ARN; it only lists (force_destroy looks for the user's devices).
        _statement("FindVirtualMfaDevices", ["iam:ListVirtualMFADevices"], ["*"]),
    ]


# What the provider reads of a function (refresh, diff): the deploy role and the preview role.
_READ_FUNCTION_ACTIONS = [
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:GetFunctionCodeSigningConfig",
    "lambda:GetFunctionConcurrency",
    "lambda:GetFunctionRecursionConfig",
    "lambda:GetRuntimeManagementConfig",
    "lambda:ListVersionsByFunction",
    "lambda:ListTags",
    "lambda:GetPolicy",
]


def _function_statements(
    arns: ProjectArns, code_signing_config_arn: str | None
) -> list[dict[str, Any]]:
    """Functions: created (signed, if configured), invoked, and invocable by AWS services only."""
    statements = [
        _statement(
            "ManageProjectFunctions",
            [
                *_READ_FUNCTION_ACTIONS,
                "lambda:DeleteFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:RemovePermission",
                # The shared function's reserved concurrency (rotatorConcurrency).
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                # SecretRotation's RotateSecret and the first-key Invocation call the
                # function as this role: AWS checks InvokeFunction on the caller.
                "lambda:InvokeFunction",
                *([] if code_signing_config_arn else ["lambda:CreateFunction"]),
            ],
            [arns.functions],
        ),
        _statement(
            "LetOnlyAwsServicesInvokeFunctions",
            ["lambda:AddPermission"],
            [arns.functions],
            {"StringEquals": {"lambda:Principal": list(INVOKING_SERVICES)}},
        ),
        # A layer is code from anywhere running inside the rotator; the program uses none.
        _statement(
            "NeverAddLayers",
            ["lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"],
            ["*"],
            {"Null": {"lambda:Layer": "false"}},
            effect="Deny",
        ),
    ]
    if code_signing_config_arn is None:
        return statements
    _require(
        code_signing_config_arn,
        _SIGNING_CONFIG_RE,
        "code_signing_config_arn",
        "arn:aws:lambda:eu-west-1:123456789012:code-signing-config:csc-0abc",
    )
    return [
        *statements,
        # With code signing, Lambda refuses code the signing profile did not sign, so this
        # role can ship only what the signer approved, not code of its own.
        _statement(
            "CreateSignedFunctionsOnly",
            ["lambda:CreateFunction", "lambda:PutFunctionCodeSigningConfig"],
            [arns.functions, code_signing_config_arn],
            {"ArnEquals": {"lambda:CodeSigningConfigArn": code_signing_config_arn}},
        ),
        _statement(
            "NeverDropCodeSigning",
            [
                "lambda:DeleteFunctionCodeSigningConfig",
                "lambda:UpdateCodeSigningConfig",
                "lambda:DeleteCodeSigningConfig",
            ],
            ["*"],
            effect="Deny",
        ),
    ]


def pipeline_deploy_policy(
    account_id: str,
    region: str,
    project: str,
    *,
    permissions_boundary_arn: str,
    extra_policy_arns: Sequence[str] = (),
    kms_key_arn: str | None = None,
    code_signing_config_arn: str | None = None,
) -> PolicyDocument:
    """Permissions of a deploy role: create, update and delete this project's resources.

    ``permissions_boundary_arn`` (the stack's ``permissionsBoundaryArn``) is required: it is
    what stops a role that edits IAM from making an IAM principal more powerful than itself.
    ``extra_policy_arns`` are the stack's ``extraPolicyArns`` (the only policies not created
    by the stack it may attach), ``kms_key_arn`` its ``kmsKeyArn``,
    ``code_signing_config_arn`` its ``codeSigningConfigArn``.

    Every Allow is scoped to the project's IAM path or resource name prefix, except actions
    AWS cannot scope (listing log groups and MFA devices, reading and deleting SNS
    subscriptions). Explicit Denies hold whatever else is ever attached to the role.
    """
    arns = ProjectArns(account_id, region, project)
    _require(
        permissions_boundary_arn,
        _POLICY_ARN_RE,
        "permissions_boundary_arn",
        "arn:aws:iam::123456789012:policy/boundaries/ai-apps",
    )
    for index, arn in enumerate(extra_policy_arns):
        _require(
            arn, _ATTACHABLE_ARN_RE, f"extra_policy_arns[{index}]", "arn:aws:iam::aws:policy/x"
        )
        if arn.rsplit("/", 1)[-1] in FORBIDDEN_MANAGED_POLICIES:
            raise ValueError(f"extra_policy_arns[{index}]: {arn!r} grants too much to attach")
    statements = [
        *_iam_statements(arns, permissions_boundary_arn, extra_policy_arns),
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
        *_function_statements(arns, code_signing_config_arn),
        _statement(
            "ManageProjectSweepSchedules",
            [
                "scheduler:CreateSchedule",
                "scheduler:UpdateSchedule",
                "scheduler:DeleteSchedule",
                "scheduler:GetSchedule",
            ],
            [arns.schedules],
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
        # SNS authorizes these with no resource at all. The provider reads the alarm e-mail
        # subscription and deletes it; it never changes one (no SetSubscriptionAttributes,
        # which could redirect another topic's failed deliveries).
        _statement(
            "ReadAndDeleteAlarmSubscriptions",
            ["sns:GetSubscriptionAttributes", "sns:Unsubscribe"],
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
        *_denies(permissions_boundary_arn),
    ]
    if kms_key_arn is not None:
        _require(
            kms_key_arn, _KMS_KEY_RE, "kms_key_arn", "arn:aws:kms:eu-west-1:123456789012:key/<id>"
        )
        # Creating a secret under a customer key; never decrypting outside Secrets Manager,
        # which in turn never returns a value to this role (NeverReadSecretValues).
        statements.append(
            _statement(
                "UseSecretsKeyThroughSecretsManager",
                ["kms:Decrypt", "kms:GenerateDataKey"],
                [kms_key_arn],
                {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            )
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def _denies(boundary_arn: str) -> list[dict[str, Any]]:
    """Explicit Denies: they win over anything else ever attached to the role."""
    return [
        _statement("NeverMintCredentials", CREDENTIAL_ACTIONS, ["*"], effect="Deny"),
        _statement("NeverReadSecretValues", SECRET_VALUE_ACTIONS, ["*"], effect="Deny"),
        _statement(
            "NeverRemoveBoundaries",
            ["iam:DeleteUserPermissionsBoundary", "iam:DeleteRolePermissionsBoundary"],
            ["*"],
            effect="Deny",
        ),
        _statement("NeverEditTheBoundary", POLICY_EDIT_ACTIONS, [boundary_arn], effect="Deny"),
        # The program gives its role inline policies only; an attached one could be anything.
        _statement(
            "NeverAttachPoliciesToRoles",
            ["iam:AttachRolePolicy", "iam:AttachGroupPolicy"],
            ["*"],
            effect="Deny",
        ),
        _statement(
            "NeverAttachAdminPolicies",
            ["iam:AttachUserPolicy"],
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
        # A trust policy cannot be conditioned; the program's never changes after creation.
        _statement("NeverRetrustRoles", ["iam:UpdateAssumeRolePolicy"], ["*"], effect="Deny"),
        # Assuming a project role would hand this role the rotator's rights.
        _statement(
            "NeverAssumeRoles",
            ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"],
            ["*"],
            effect="Deny",
        ),
    ]


def preview_read_policy(account_id: str, region: str, project: str) -> PolicyDocument:
    """Permissions of the preview role: read the settings of this project's resources.

    A plain ``pulumi preview`` diffs the program against the state and needs little of it
    (the provider's own calls); it is read-only, never a write, never a secret value.
    ``--refresh`` is not supported: it reads more than this, and would write the state.
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
            _statement("ReadProjectFunctions", _READ_FUNCTION_ACTIONS, [arns.functions]),
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
