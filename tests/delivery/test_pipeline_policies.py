"""The pipeline roles' IAM documents: linted, asserted statement by statement, and documented.

moto cannot judge least privilege (see FIELD-NOTES), so the documents themselves are
asserted, linted with parliament, and compared with the resources the program declares.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from parliament import analyze_policy_string

from components.contract import RESOURCE_NAME_PREFIX
from components.pipeline_policies import (
    ENVIRONMENTS,
    INVOKING_SERVICES,
    pipeline_deploy_policy,
    pipeline_trust_policy,
    preview_read_policy,
    preview_trust_policy,
)
from policy.guardrails import over_broad_statements

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "pipeline-role.md"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
PROJECT = "ai-credential-rotation"
REPO = "my-org/ai-credential-rotation"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/boundaries/ai-apps"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b3a1f0e-1111-2222-3333-444455556666"
SIGNING = f"arn:aws:lambda:{REGION}:{ACCOUNT}:code-signing-config:csc-0a1b2c3d4e5f67890"
EXTRA = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
OIDC = "token.actions.githubusercontent.com"
NAME_PREFIX_PATTERN = re.compile(rf"[:/]{re.escape(RESOURCE_NAME_PREFIX)}\*(:\*)?$")
# AWS offers no resource ARN for these: "*" is the only scope they take.
UNSCOPABLE = {
    "logs:DescribeLogGroups",
    "iam:ListVirtualMFADevices",
    "sns:GetSubscriptionAttributes",
    "sns:Unsubscribe",
}

DEPLOY_VARIANTS = {
    "plain": pipeline_deploy_policy(ACCOUNT, REGION, PROJECT, permissions_boundary_arn=BOUNDARY),
    "every-option": pipeline_deploy_policy(
        ACCOUNT,
        REGION,
        PROJECT,
        permissions_boundary_arn=BOUNDARY,
        extra_policy_arns=[EXTRA],
        kms_key_arn=KMS_KEY,
        code_signing_config_arn=SIGNING,
    ),
}
PERMISSION_POLICIES = {
    **{f"deploy-{name}": doc for name, doc in DEPLOY_VARIANTS.items()},
    "preview": preview_read_policy(ACCOUNT, REGION, PROJECT),
}
TRUST_POLICIES = {
    **{f"deploy-{env}": pipeline_trust_policy(ACCOUNT, REPO, env) for env in ENVIRONMENTS},
    "preview": preview_trust_policy(ACCOUNT, REPO),
}


def findings(document: dict[str, Any], *, community: bool = False) -> list[Any]:
    policy = analyze_policy_string(json.dumps(document), include_community_auditors=community)
    return list(policy.findings)


def allows(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if s["Effect"] == "Allow"]


def allowed_actions(document: dict[str, Any]) -> set[str]:
    return {action for statement in allows(document) for action in statement["Action"]}


# --- A small evaluator of the documents, enough to walk an escalation path ----------------


def _matches(statement: dict[str, Any], action: str, resource: str) -> bool:
    # IAM matches actions case-insensitively and resources with * and ? wildcards.
    return any(
        fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in statement["Action"]
    ) and any(fnmatch.fnmatchcase(resource, pattern) for pattern in statement["Resource"])


def verdict(document: dict[str, Any], action: str, resource: str) -> str | dict[str, Any]:
    """What the document says about one request: "denied", "not allowed", "allowed", or the
    condition(s) an Allow puts on it (a dict when every matching Allow is conditioned)."""
    matching = [s for s in document["Statement"] if _matches(s, action, resource)]
    if any(s["Effect"] == "Deny" and "Condition" not in s for s in matching):
        return "denied"
    granted = [s for s in matching if s["Effect"] == "Allow"]
    if not granted:
        return "not allowed"
    if any("Condition" not in s for s in granted):
        return "allowed"
    return {s["Sid"]: s["Condition"] for s in granted}


USER = f"arn:aws:iam::{ACCOUNT}:user/{PROJECT}/credrot-support-bot-user-1a2b3c4"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}/credrot-support-bot-rotation-role-1a2b3c4"
POLICY = f"arn:aws:iam::{ACCOUNT}:policy/{PROJECT}/credrot-support-bot-data-access-1a2b3c4"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:credrot-support-bot-secret-1a-AbCdEf"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:credrot-support-bot-rotator-1a2b3c4"
BOUNDED = {"ArnEquals": {"iam:PermissionsBoundary": BOUNDARY}}

# Each escalation path: the request that would complete it, and what must hold for it. A
# path is closed when that request is denied or not allowed, or allowed only under the
# condition named here. The first three are the issue's; the rest are what parliament's
# community auditors and a review of the provider's calls name.
ESCALATION_PATHS = [
    # 1. A role of its own: create it (or edit a project role) with any policy...
    ("iam:CreateRole", ROLE, {"ManageProjectRolesInsideTheBoundary": BOUNDED}),
    ("iam:PutRolePolicy", ROLE, {"ManageProjectRolesInsideTheBoundary": BOUNDED}),
    ("iam:PutRolePermissionsBoundary", ROLE, {"ManageProjectRolesInsideTheBoundary": BOUNDED}),
    # ...then trust it, or assume it.
    ("iam:UpdateAssumeRolePolicy", ROLE, "denied"),
    ("sts:AssumeRole", ROLE, "denied"),
    ("iam:AttachRolePolicy", ROLE, "denied"),
    # 2. Version a consumer's data policy, then read that consumer's key.
    ("iam:CreatePolicyVersion", POLICY, "allowed"),
    ("secretsmanager:GetSecretValue", SECRET, "denied"),
    ("secretsmanager:BatchGetSecretValue", "*", "denied"),
    ("secretsmanager:PutResourcePolicy", SECRET, "denied"),
    ("secretsmanager:PutSecretValue", SECRET, "not allowed"),
    # ...or mint, or take over, any credential of the user directly.
    ("iam:CreateAccessKey", USER, "denied"),
    ("iam:CreateLoginProfile", USER, "denied"),
    ("iam:UpdateAccessKey", USER, "denied"),
    # 3. New code in the rotator, then RotateSecret: open without code signing (the
    # residual risk the README states), see the code-signing test below.
    ("lambda:UpdateFunctionCode", FUNCTION, "allowed"),
    ("lambda:UpdateFunctionConfiguration", FUNCTION, "allowed"),
    # Users: only inside the boundary, and only policies it created or was told to attach.
    ("iam:CreateUser", USER, {"ManageProjectUsersInsideTheBoundary": BOUNDED}),
    ("iam:PutUserPolicy", USER, {"ManageProjectUsersInsideTheBoundary": BOUNDED}),
    (
        "iam:AttachUserPolicy",
        USER,
        {
            "AttachOwnPoliciesToBoundedUsers": {
                **BOUNDED,
                "ArnLike": {"iam:PolicyARN": [f"arn:aws:iam::{ACCOUNT}:policy/{PROJECT}/*"]},
            }
        },
    ),
    # No boundary removed or edited.
    ("iam:DeleteUserPermissionsBoundary", USER, "denied"),
    ("iam:DeleteRolePermissionsBoundary", ROLE, "denied"),
    ("iam:CreatePolicyVersion", BOUNDARY, "denied"),
    ("iam:SetDefaultPolicyVersion", BOUNDARY, "denied"),
    ("iam:DeletePolicy", BOUNDARY, "denied"),
    # No role passed but the project's, and those to Lambda only.
    (
        "iam:PassRole",
        ROLE,
        {
            "PassProjectRolesToLambdaOnly": {
                "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}
            }
        },
    ),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", "not allowed"),
    # Only AWS services may be allowed to invoke a function.
    (
        "lambda:AddPermission",
        FUNCTION,
        {
            "LetOnlyAwsServicesInvokeFunctions": {
                "StringEquals": {"lambda:Principal": list(INVOKING_SERVICES)}
            }
        },
    ),
    ("lambda:CreateFunctionUrlConfig", FUNCTION, "not allowed"),
    # Subscriptions of other topics: never reconfigured (redirected).
    ("sns:SetSubscriptionAttributes", "*", "not allowed"),
    ("sns:Subscribe", f"arn:aws:sns:{REGION}:{ACCOUNT}:other-topic", "not allowed"),
    # Nothing outside the project.
    ("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/ci/deploy", "not allowed"),
    ("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/other", "not allowed"),
]


@pytest.mark.parametrize("variant", DEPLOY_VARIANTS)
@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    ESCALATION_PATHS,
    ids=[f"{action}-{resource.rsplit(':', 1)[-1]}" for action, resource, _ in ESCALATION_PATHS],
)
def test_each_escalation_step_is_denied_absent_or_conditioned(
    variant: str, action: str, resource: str, expected: Any
) -> None:
    result = verdict(DEPLOY_VARIANTS[variant], action, resource)
    if variant == "every-option" and action == "iam:AttachUserPolicy":
        # The stack's extraPolicyArns join the project's own policies.
        expected = copy.deepcopy(expected)
        expected["AttachOwnPoliciesToBoundedUsers"]["ArnLike"]["iam:PolicyARN"].append(EXTRA)

    assert result == expected


def test_the_evaluator_sees_an_unconditioned_grant_and_a_denial() -> None:
    # Not vacuous: the same evaluator reports an open path when the closing statement goes.
    document = copy.deepcopy(DEPLOY_VARIANTS["plain"])
    for statement in document["Statement"]:
        statement.pop("Condition", None)
    document["Statement"] = [s for s in document["Statement"] if s["Effect"] == "Allow"]

    assert verdict(document, "iam:CreateRole", ROLE) == "allowed"
    assert verdict(document, "iam:CreateAccessKey", USER) == "not allowed"
    assert verdict(DEPLOY_VARIANTS["plain"], "iam:CreateAccessKey", USER) == "denied"


def test_with_code_signing_the_role_ships_only_signed_code() -> None:
    signed, plain = DEPLOY_VARIANTS["every-option"], DEPLOY_VARIANTS["plain"]
    signing = {"CreateSignedFunctionsOnly": {"ArnEquals": {"lambda:CodeSigningConfigArn": SIGNING}}}

    assert verdict(signed, "lambda:CreateFunction", FUNCTION) == signing
    assert verdict(signed, "lambda:PutFunctionCodeSigningConfig", FUNCTION) == signing
    for action in ("lambda:DeleteFunctionCodeSigningConfig", "lambda:UpdateCodeSigningConfig"):
        assert verdict(signed, action, FUNCTION) == "denied"
    assert verdict(plain, "lambda:CreateFunction", FUNCTION) == "allowed"
    assert verdict(plain, "lambda:PutFunctionCodeSigningConfig", FUNCTION) == "not allowed"


@pytest.mark.parametrize("variant", DEPLOY_VARIANTS)
def test_no_layer_can_be_added_to_a_function(variant: str) -> None:
    (layers,) = [s for s in DEPLOY_VARIANTS[variant]["Statement"] if s["Sid"] == "NeverAddLayers"]

    assert layers["Effect"] == "Deny"
    assert layers["Condition"] == {"Null": {"lambda:Layer": "false"}}
    assert set(layers["Action"]) == {"lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"}


# parliament's community auditors flag an escalation by its actions alone, whatever the
# conditions; each must be one of ESCALATION_PATHS, closed by the statement named here.
COMMUNITY_ESCALATIONS = {
    "AttachUserPolicy": "AttachOwnPoliciesToBoundedUsers",
    "PutUserPolicy": "ManageProjectUsersInsideTheBoundary",
    "CreateNewPolicyVersion": "NeverReadSecretValues",
    "PassExistingRoleToNewLambdaThenInvoke": "ManageProjectRolesInsideTheBoundary",
    "EditExistingLambdaFunctionWithRole": "CreateSignedFunctionsOnly",
}


@pytest.mark.parametrize("variant", DEPLOY_VARIANTS)
def test_the_community_auditors_find_only_paths_a_statement_closes(variant: str) -> None:
    document = DEPLOY_VARIANTS[variant]
    escalations = {
        # parliament puts the escalation's name in the finding's location.
        str(f.location["type"])
        for f in findings(document, community=True)
        if f.issue == "PRIVILEGE_ESCALATION"
    }
    sids = {s["Sid"] for s in document["Statement"]}

    assert escalations == set(COMMUNITY_ESCALATIONS)
    closing = set(COMMUNITY_ESCALATIONS.values())
    if variant == "plain":
        closing.discard("CreateSignedFunctionsOnly")  # the residual risk without signing
    assert closing <= sids


@pytest.mark.parametrize("name", PERMISSION_POLICIES)
def test_the_permission_policies_have_no_parliament_finding(name: str) -> None:
    assert [(f.issue, f.detail) for f in findings(PERMISSION_POLICIES[name])] == []


@pytest.mark.parametrize("name", TRUST_POLICIES)
def test_the_trust_policies_draw_only_what_parliament_cannot_judge(name: str) -> None:
    # Parliament lints identity policies: it knows no GitHub federation and expects a
    # Resource, which a trust policy never has.
    issues = {(f.issue, str(f.detail)) for f in findings(TRUST_POLICIES[name])}

    assert issues == {
        ("UNKNOWN_FEDERATION_SOURCE", f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"),
        ("MALFORMED", "Statement contains neither Resource nor NotResource"),
    }


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("deploy-dev", f"repo:{REPO}:environment:dev"),
        ("deploy-prod", f"repo:{REPO}:environment:prod"),
        ("preview", f"repo:{REPO}:pull_request"),
    ],
)
def test_each_role_trusts_one_exact_github_subject_of_this_repository(
    name: str, subject: str
) -> None:
    (statement,) = TRUST_POLICIES[name]["Statement"]

    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {f"{OIDC}:aud": "sts.amazonaws.com", f"{OIDC}:sub": subject}
    }


def test_the_prod_role_is_not_assumable_by_the_dev_job_or_main() -> None:
    subjects = {
        str(s["Condition"]["StringEquals"][f"{OIDC}:sub"])
        for s in TRUST_POLICIES["deploy-prod"]["Statement"]
    }

    assert subjects == {f"repo:{REPO}:environment:prod"}
    for other in ("environment:dev", "ref:refs/heads/main", "pull_request"):
        assert not any(fnmatch.fnmatchcase(f"repo:{REPO}:{other}", s) for s in subjects)


@pytest.mark.parametrize("name", PERMISSION_POLICIES)
def test_no_role_may_mint_a_credential_or_read_a_secret_value(name: str) -> None:
    actions = allowed_actions(PERMISSION_POLICIES[name])

    for forbidden in ("iam:CreateAccessKey", "secretsmanager:GetSecretValue"):
        assert not any(fnmatch.fnmatchcase(forbidden, a) for a in actions)


@pytest.mark.parametrize("variant", DEPLOY_VARIANTS)
def test_the_deploy_role_may_invoke_the_project_functions(variant: str) -> None:
    # RotateSecret (SecretRotation) and the first-key Invocation need it from the caller.
    document = DEPLOY_VARIANTS[variant]

    assert verdict(document, "lambda:InvokeFunction", FUNCTION) == "allowed"
    assert verdict(document, "secretsmanager:RotateSecret", SECRET) == "allowed"
    assert verdict(document, "lambda:InvokeFunction", FUNCTION.replace("credrot-", "x-")) == (
        "not allowed"
    )


@pytest.mark.parametrize("name", PERMISSION_POLICIES)
def test_every_allow_is_scoped_to_the_project(name: str) -> None:
    for statement in allows(PERMISSION_POLICIES[name]):
        for resource in statement["Resource"]:
            if resource == "*":
                assert set(statement["Action"]) <= UNSCOPABLE, statement["Sid"]
            elif resource.startswith("arn:aws:iam::"):
                assert f"/{PROJECT}/" in resource, statement["Sid"]
            elif resource.startswith("arn:aws:kms:"):
                assert statement["Condition"] == {
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
                }
            elif resource == SIGNING:
                assert statement["Sid"] == "CreateSignedFunctionsOnly"
            else:
                # ...:<prefix>* or .../<prefix>* (log groups also as ...:<prefix>*:*).
                assert NAME_PREFIX_PATTERN.search(resource), (statement["Sid"], resource)


def test_the_preview_role_only_reads_and_never_a_secret_value() -> None:
    actions = allowed_actions(PERMISSION_POLICIES["preview"])

    assert all(a.split(":")[1].startswith(("Get", "List", "Describe")) for a in actions)
    assert "secretsmanager:GetSecretValue" not in actions
    assert [s for s in PERMISSION_POLICIES["preview"]["Statement"] if s["Effect"] != "Allow"] == []


@pytest.mark.parametrize("name", {**PERMISSION_POLICIES, **TRUST_POLICIES})
def test_the_guardrails_pass_the_pipelines_own_documents(name: str) -> None:
    assert over_broad_statements({**PERMISSION_POLICIES, **TRUST_POLICIES}[name]) == []


def _deploy(**changes: Any) -> Any:
    return lambda: pipeline_deploy_policy(
        ACCOUNT, REGION, PROJECT, **{"permissions_boundary_arn": BOUNDARY, **changes}
    )


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: pipeline_trust_policy("12345", REPO, "prod"), "account_id"),
        (lambda: pipeline_trust_policy(ACCOUNT, "my-org/*", "prod"), "repo"),
        (lambda: pipeline_trust_policy(ACCOUNT, REPO, "production"), "environment"),
        (
            lambda: pipeline_deploy_policy(
                ACCOUNT, "mars-1", PROJECT, permissions_boundary_arn=BOUNDARY
            ),
            "region",
        ),
        (
            lambda: pipeline_deploy_policy(
                ACCOUNT, REGION, "Bad Project", permissions_boundary_arn=BOUNDARY
            ),
            "project",
        ),
        (_deploy(kms_key_arn="alias/x"), "kms_key_arn"),
        (_deploy(permissions_boundary_arn="AdministratorAccess"), "permissions_boundary_arn"),
        (_deploy(code_signing_config_arn="csc-1"), "code_signing_config_arn"),
        (_deploy(extra_policy_arns=["S3ReadOnly"]), r"extra_policy_arns\[0\]"),
        (
            _deploy(extra_policy_arns=["arn:aws:iam::aws:policy/AdministratorAccess"]),
            r"extra_policy_arns\[0\]",
        ),
    ],
)
def test_a_bad_argument_is_refused_by_name(call: Any, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        call()


def test_the_deploy_policy_cannot_be_generated_without_a_boundary() -> None:
    with pytest.raises(TypeError, match="permissions_boundary_arn"):
        pipeline_deploy_policy(ACCOUNT, REGION, PROJECT)  # type: ignore[call-arg]


def test_the_page_shows_exactly_the_generated_documents() -> None:
    renderer = runpy.run_path(str(Path(__file__).with_name("render_pipeline_docs.py")))
    text = DOC.read_text()

    assert renderer["render"](text) == text, (
        "docs/pipeline-role.md is stale: run tests/delivery/render_pipeline_docs.py"
    )


# --- The program's resources against the deploy role's scope ---------------------------------

IAM_KINDS = {
    "aws:iam/user:User": "user",
    "aws:iam/role:Role": "role",
    "aws:iam/policy:Policy": "policy",
}
NAMED_ARNS = {
    "aws:secretsmanager/secret:Secret": (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{{}}-AbCdEf"
    ),
    "aws:lambda/function:Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{{}}",
    "aws:cloudwatch/logGroup:LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{{}}",
    "aws:cloudwatch/eventRule:EventRule": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{{}}",
    "aws:sns/topic:Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{{}}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{{}}",
}
# Pulumi's default auto-naming: the logical name, "-", then 7 random hex characters.
AUTO_NAME_SUFFIX = re.compile(r"-[0-9a-f]{7}")


def physical_arn(resource: Any) -> str | None:
    name = resource.props.get("name") or resource.props.get("namePrefix")
    if resource.type in IAM_KINDS:
        path = resource.props.get("path", "/")
        return f"arn:aws:iam::{ACCOUNT}:{IAM_KINDS[resource.type]}{path}{name}"
    if resource.type in NAMED_ARNS:
        return NAMED_ARNS[resource.type].format(name)
    return None


def covered(arn: str, document: dict[str, Any]) -> bool:
    return any(
        fnmatch.fnmatchcase(arn, pattern)
        for statement in allows(document)
        for pattern in statement["Resource"]
        if pattern != "*"
    )


def test_the_deploy_role_reaches_every_named_resource_of_the_program(
    program_stacks: dict[str, list[Any]],
) -> None:
    document = DEPLOY_VARIANTS["plain"]
    seen: set[str] = set()
    for label, resources in program_stacks.items():
        for resource in resources:
            arn = physical_arn(resource)
            if arn is None:
                continue
            seen.add(resource.type)
            where = (label, resource.type, resource.name)
            # The program names every such child from the prefix; Pulumi only appends.
            assert resource.name.startswith(RESOURCE_NAME_PREFIX), where
            physical = resource.props.get("name") or resource.props.get("namePrefix")
            assert str(physical).startswith(RESOURCE_NAME_PREFIX), (*where, physical)
            if resource.type in NAMED_ARNS:
                assert AUTO_NAME_SUFFIX.fullmatch(str(physical).removeprefix(resource.name)), (
                    *where,
                    physical,
                )
            assert covered(arn, document), (*where, arn)

    # Not vacuous: the recorded configurations declare every one of these types.
    assert seen == set(IAM_KINDS) | set(NAMED_ARNS)


@pytest.mark.parametrize("resource_type", sorted(NAMED_ARNS))
def test_the_deploy_role_reaches_no_name_outside_the_prefix(resource_type: str) -> None:
    document = DEPLOY_VARIANTS["plain"]
    template = NAMED_ARNS[resource_type]

    assert covered(template.format(f"{RESOURCE_NAME_PREFIX}support-bot-x-1a2b3c4"), document)
    assert not covered(template.format("support-bot-x-1a2b3c4"), document)
    assert not covered(template.format(f"other-{RESOURCE_NAME_PREFIX}bot-x-1a2b3c4"), document)
