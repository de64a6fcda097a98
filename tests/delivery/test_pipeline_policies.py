"""The pipeline roles' IAM documents: linted, asserted statement by statement, and documented.

moto cannot judge least privilege (see FIELD-NOTES), so the documents themselves are
asserted, linted with parliament, and compared with the resources the program declares.
"""

from __future__ import annotations

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
OIDC = "token.actions.githubusercontent.com"
NAME_PREFIX_PATTERN = re.compile(rf"[:/]{re.escape(RESOURCE_NAME_PREFIX)}\*(:\*)?$")
# AWS offers no resource ARN for these: "*" is the only scope they take.
UNSCOPABLE = {
    "logs:DescribeLogGroups",
    "iam:ListVirtualMFADevices",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
    "sns:Unsubscribe",
}

DEPLOY_VARIANTS = {
    "plain": pipeline_deploy_policy(ACCOUNT, REGION, PROJECT),
    "boundary-and-kms": pipeline_deploy_policy(
        ACCOUNT, REGION, PROJECT, kms_key_arn=KMS_KEY, permissions_boundary_arn=BOUNDARY
    ),
}
PERMISSION_POLICIES = {
    **{f"deploy-{name}": doc for name, doc in DEPLOY_VARIANTS.items()},
    "preview": preview_read_policy(ACCOUNT, REGION, PROJECT),
}
TRUST_POLICIES = {
    "deploy": pipeline_trust_policy(ACCOUNT, REPO),
    "preview": preview_trust_policy(ACCOUNT, REPO),
}


def findings(document: dict[str, Any], *, community: bool = False) -> list[Any]:
    policy = analyze_policy_string(json.dumps(document), include_community_auditors=community)
    return list(policy.findings)


def allows(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if s["Effect"] == "Allow"]


def allowed_actions(document: dict[str, Any]) -> set[str]:
    return {action for statement in allows(document) for action in statement["Action"]}


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


def test_the_community_auditors_find_only_the_documented_escalation_paths() -> None:
    for document in DEPLOY_VARIANTS.values():
        escalations = {
            # parliament puts the escalation's name in the finding's location.
            str(f.location["type"])
            for f in findings(document, community=True)
            if f.issue == "PRIVILEGE_ESCALATION"
        }
        assert escalations == {
            "AttachUserPolicy",
            "CreateNewPolicyVersion",
            "EditExistingLambdaFunctionWithRole",
        }
    assert findings(PERMISSION_POLICIES["preview"], community=True) == []


@pytest.mark.parametrize(
    ("trust", "subjects"),
    [
        (
            TRUST_POLICIES["deploy"],
            [f"repo:{REPO}:environment:prod", f"repo:{REPO}:ref:refs/heads/main"],
        ),
        (TRUST_POLICIES["preview"], f"repo:{REPO}:pull_request"),
    ],
)
def test_each_role_trusts_exact_github_subjects_of_this_repository(
    trust: dict[str, Any], subjects: Any
) -> None:
    (statement,) = trust["Statement"]

    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {f"{OIDC}:aud": "sts.amazonaws.com", f"{OIDC}:sub": subjects}
    }


@pytest.mark.parametrize("name", PERMISSION_POLICIES)
def test_no_role_may_mint_an_access_key(name: str) -> None:
    document = PERMISSION_POLICIES[name]

    assert not any(fnmatch.fnmatchcase("iam:CreateAccessKey", a) for a in allowed_actions(document))


@pytest.mark.parametrize("document", DEPLOY_VARIANTS.values(), ids=DEPLOY_VARIANTS.keys())
def test_the_deploy_role_denies_key_minting_and_admin_policies_whatever_else_it_gets(
    document: dict[str, Any],
) -> None:
    denies = {s["Sid"]: s for s in document["Statement"] if s["Effect"] == "Deny"}

    assert denies["NeverMintAccessKeys"]["Action"] == ["iam:CreateAccessKey"]
    assert denies["NeverMintAccessKeys"]["Resource"] == ["*"]
    admin = denies["NeverAttachAdminPolicies"]
    assert admin["Action"] == ["iam:AttachRolePolicy", "iam:AttachUserPolicy"]
    assert (
        "arn:aws:iam::aws:policy/AdministratorAccess"
        in admin["Condition"]["ArnEquals"]["iam:PolicyARN"]
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
            else:
                # ...:<prefix>* or .../<prefix>* (log groups also as ...:<prefix>*:*).
                assert NAME_PREFIX_PATTERN.search(resource), (statement["Sid"], resource)


def test_the_deploy_role_passes_project_roles_to_lambda_only() -> None:
    document = DEPLOY_VARIANTS["plain"]
    passing = [s for s in allows(document) if "iam:PassRole" in s["Action"]]

    assert passing == [
        {
            "Sid": "PassProjectRolesToLambdaOnly",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}/*"],
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        }
    ]


def test_with_a_boundary_users_are_created_inside_it_and_never_freed() -> None:
    document = DEPLOY_VARIANTS["boundary-and-kms"]
    by_sid = {s["Sid"]: s for s in document["Statement"]}

    create = by_sid["CreateProjectUsersInsideTheBoundary"]
    assert create["Action"] == ["iam:CreateUser", "iam:PutUserPermissionsBoundary"]
    assert create["Condition"] == {"ArnEquals": {"iam:PermissionsBoundary": BOUNDARY}}
    assert by_sid["NeverRemoveTheBoundary"]["Effect"] == "Deny"
    unconditioned = [s for s in allows(document) if "Condition" not in s]
    assert not any("iam:CreateUser" in s["Action"] for s in unconditioned)


def test_only_the_bootstrap_statement_may_read_a_secret_value() -> None:
    for document in DEPLOY_VARIANTS.values():
        readers = [
            s["Sid"] for s in allows(document) if "secretsmanager:GetSecretValue" in s["Action"]
        ]
        assert readers == ["WriteBootstrapSecretVersion"]


def test_the_preview_role_only_reads_and_never_a_secret_value() -> None:
    actions = allowed_actions(PERMISSION_POLICIES["preview"])

    assert all(a.split(":")[1].startswith(("Get", "List", "Describe")) for a in actions)
    assert "secretsmanager:GetSecretValue" not in actions
    assert [s for s in PERMISSION_POLICIES["preview"]["Statement"] if s["Effect"] != "Allow"] == []


@pytest.mark.parametrize("name", {**PERMISSION_POLICIES, **TRUST_POLICIES})
def test_the_guardrails_pass_the_pipelines_own_documents(name: str) -> None:
    assert over_broad_statements({**PERMISSION_POLICIES, **TRUST_POLICIES}[name]) == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: pipeline_trust_policy("12345", REPO), "account_id"),
        (lambda: pipeline_trust_policy(ACCOUNT, "my-org/*"), "repo"),
        (lambda: pipeline_deploy_policy(ACCOUNT, "mars-1", PROJECT), "region"),
        (lambda: pipeline_deploy_policy(ACCOUNT, REGION, "Bad Project"), "project"),
        (
            lambda: pipeline_deploy_policy(ACCOUNT, REGION, PROJECT, kms_key_arn="alias/x"),
            "kms_key_arn",
        ),
        (
            lambda: pipeline_deploy_policy(
                ACCOUNT, REGION, PROJECT, permissions_boundary_arn="AdministratorAccess"
            ),
            "permissions_boundary_arn",
        ),
    ],
)
def test_a_bad_argument_is_refused_by_name(call: Any, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        call()


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
