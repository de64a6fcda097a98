"""The policy pack's validations, called as the analyzer calls them.

Pass cases run on the real program (``program_stacks``: __main__.py under the mock engine);
each refusal is that program with one thing broken. Hand-built registrations cover what the
program never produces: values unknown during preview, other document shapes, schedules.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from components import limits, schedule
from policy import guardrails
from policy.guardrails import (
    POLICIES,
    validate_function_log_groups,
    validate_lambda_log_group_retention,
    validate_no_access_keys,
    validate_no_over_broad_policies,
    validate_secrets_rotate_within_90_days,
    validate_secretsmanager_permission_source_arn,
)

RESOURCE_VALIDATIONS = [
    validate_no_access_keys,
    validate_no_over_broad_policies,
    validate_lambda_log_group_retention,
    validate_secretsmanager_permission_source_arn,
]
STACK_VALIDATIONS = [validate_secrets_rotate_within_90_days, validate_function_log_groups]
SECRET_ARN = (
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ai-credential-rotation/bot-AbCdEf"
)


def all_violations(harness: Any, resources: list[Any]) -> list[tuple[str, str | None]]:
    found = []
    for validate in RESOURCE_VALIDATIONS:
        found += harness.resource_violations(validate, resources)
    for validate in STACK_VALIDATIONS:
        found += harness.stack_violations(validate, resources)
    return found


def only(resources: list[Any], type_: str) -> list[Any]:
    matching = [r for r in resources if r.type == type_]
    assert matching, f"the stack has no {type_}"
    return matching


def replaced(resources: list[Any], old: Any, new: Any) -> list[Any]:
    return [new if r is old else r for r in resources]


def violations_when_changed(
    harness: Any, program: list[Any], resource: Any, **changes: Any
) -> list[tuple[str, str | None]]:
    """Every violation of the stack after ``resource`` took ``changes`` (None removes one)."""
    return all_violations(harness, replaced(program, resource, resource.with_props(**changes)))


def assert_the_one_violation(
    harness: Any, program: list[Any], resource: Any, changes: dict[str, Any], complaint: str
) -> None:
    """With ``changes`` to ``resource``, the stack violates exactly one rule, on that resource."""
    assert violations_when_changed(harness, program, resource, **changes) == [
        (complaint, resource.urn)
    ]


def secretsmanager_permission(program: list[Any]) -> Any:
    """The permission that lets Secrets Manager invoke the rotation function."""
    return next(
        r
        for r in only(program, guardrails.LAMBDA_PERMISSION)
        if r.props.get("principal") == "secretsmanager.amazonaws.com"
    )


def document(actions: Any, resources: Any = "*", **extra: Any) -> str:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


# --- The program ------------------------------------------------------------------------


def test_the_program_passes_every_policy(harness: Any, program: list[Any]) -> None:
    assert all_violations(harness, program) == []


def test_the_program_gives_every_policy_something_to_check(program: list[Any]) -> None:
    types = {r.type for r in program}
    for checked in (
        guardrails.SECRET,
        guardrails.SECRET_ROTATION,
        guardrails.LOG_GROUP,
        guardrails.LAMBDA_FUNCTION,
        guardrails.LAMBDA_PERMISSION,
    ):
        assert checked in types
    assert any(guardrails.policy_documents(r.type, r.props) for r in program)
    assert guardrails.ACCESS_KEY not in types


def test_an_access_key_in_the_program_is_refused(harness: Any, program: list[Any]) -> None:
    user = only(program, "aws:iam/user:User")[0]
    key = harness.registered(guardrails.ACCESS_KEY, "leaky-key", {"user": user.props["name"]})

    found = all_violations(harness, [*program, key])

    assert found == [
        (
            "IAM access key 'leaky-key': a Pulumi-managed key never rotates and its secret lands "
            "in the stack state. Keys are minted by the rotation Lambda only.",
            key.urn,
        )
    ]


def test_a_rotation_every_365_days_is_refused(harness: Any, program: list[Any]) -> None:
    rotation = only(program, guardrails.SECRET_ROTATION)[0]
    complaint = (
        f"SecretRotation '{rotation.name}' can wait 365 days between two rotations; keys must "
        "rotate at least every 90 days."
    )
    assert_the_one_violation(
        harness, program, rotation, {"rotationRules": {"automaticallyAfterDays": 365.0}}, complaint
    )


def test_a_quarterly_cron_rotation_is_refused_because_it_can_wait_92_days(
    harness: Any, program: list[Any]
) -> None:
    rotation = only(program, guardrails.SECRET_ROTATION)[0]
    found = violations_when_changed(
        harness, program, rotation, rotationRules={"scheduleExpression": "cron(0 4 1 */3 ? *)"}
    )

    assert [message for message, _ in found] == [
        f"SecretRotation '{rotation.name}' can wait 92 days between two rotations; keys must "
        "rotate at least every 90 days."
    ]


def test_the_providers_zero_days_next_to_a_schedule_reads_as_unset(
    harness: Any, program: list[Any]
) -> None:
    # After a deploy the provider reports automaticallyAfterDays 0 for a schedule-based
    # rotation: the engine's outputs, camelCase, numbers as floats.
    rotation = only(program, guardrails.SECRET_ROTATION)[0]
    deployed = rotation.with_props(
        rotationRules={
            "automaticallyAfterDays": 0.0,
            "scheduleExpression": "cron(0 2 ? * MON *)",
            "duration": "3h",
        }
    )

    assert all_violations(harness, replaced(program, rotation, deployed)) == []


def test_every_program_rotation_passes_as_the_provider_reports_it_after_a_deploy(
    harness: Any, program: list[Any]
) -> None:
    reported = [
        r.with_props(rotationRules={**r.props["rotationRules"], "automaticallyAfterDays": 0.0})
        if r.type == guardrails.SECRET_ROTATION
        and r.props["rotationRules"].get("scheduleExpression")
        else r
        for r in program
    ]

    assert all_violations(harness, reported) == []


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        ({"automaticallyAfterDays": 0.0}, "automaticallyAfterDays 0.0 is not a positive number"),
        ({}, "sets neither automaticallyAfterDays nor scheduleExpression"),
        (
            {"automaticallyAfterDays": 0.0, "scheduleExpression": "rate(91 days)"},
            "can wait 91 days",
        ),
    ],
)
def test_zero_days_without_a_schedule_is_still_refused(
    harness: Any, rules: dict[str, Any], reason: str
) -> None:
    rotation = harness.registered(guardrails.SECRET_ROTATION, "r", {"rotationRules": rules})

    found = harness.stack_violations(validate_secrets_rotate_within_90_days, [rotation])

    assert len(found) == 1
    assert reason in found[0][0]


def test_a_secret_without_rotation_is_refused(harness: Any, program: list[Any]) -> None:
    secret = only(program, guardrails.SECRET)[0]
    rotations = [r for r in program if r.type == guardrails.SECRET_ROTATION and _rotates(r, secret)]
    assert rotations, "the program's rotation does not point at its secret"

    found = all_violations(harness, [r for r in program if r not in rotations])

    assert found == [
        (
            f"Secret '{secret.name}' has no SecretRotation: add one with "
            "rotationRules.automaticallyAfterDays <= 90.",
            secret.urn,
        )
    ]


@pytest.mark.parametrize(
    ("days", "expression"),
    [
        (1, None),
        (30, None),
        (90, None),
        (91, None),
        (365, None),
        (None, "rate(90 days)"),
        (None, "rate(91 days)"),
        (None, "rate(2160 hours)"),
        (None, "cron(0 4 ? * MON *)"),
        (None, "cron(0 4 1 * ? *)"),
        (None, "cron(0 4 1 */2 ? *)"),
        (None, "cron(0 4 1 */3 ? *)"),
        (None, "cron(0 4 1 JAN ? *)"),
    ],
)
def test_config_and_pack_agree_on_the_longest_rotation_period(
    days: int | None, expression: str | None
) -> None:
    # One constant and one sentence (components.limits): whatever the config refuses as too
    # slow, the pack refuses with the same words, and whatever it accepts, the pack passes.
    try:
        schedule.rotation_schedule(
            days=days,
            expression=expression,
            window="1h",
            days_field="rotationDays",
            expression_field="rotationSchedule",
            window_field="rotationWindow",
        )
        config_refusal = None
    except ValueError as error:
        config_refusal = str(error)
    rules = {"automaticallyAfterDays": days} if days else {"scheduleExpression": expression}
    period = guardrails.rotation_period_days(rules)

    if period > limits.MAX_ROTATION_DAYS:
        assert config_refusal is not None
        # One cron simulator (components.schedule.cron_figures): the same number too.
        assert limits.rotation_too_slow(period) in config_refusal
    else:
        assert config_refusal is None


def _rotates(rotation: Any, secret: Any) -> bool:
    secret_id = rotation.props.get("secretId")
    return secret.urn in rotation.property_dependencies.get("secretId", []) or secret_id in (
        secret.props.get("arn"),
        secret.props.get("name"),
    )


def test_every_program_policy_document_with_a_wildcard_on_everything_is_refused(
    harness: Any, program: list[Any]
) -> None:
    holders = [r for r in program if guardrails.policy_documents(r.type, r.props)]
    for holder in holders:
        for path, _ in guardrails.policy_documents(holder.type, holder.props):
            if path != "policy":
                continue
            assert_the_one_violation(
                harness,
                program,
                holder,
                {"policy": document("*")},
                f"'{holder.name}' policy: statement 0 allows ['*'] on broad Resource ['*']",
            )


def test_the_functions_log_group_without_retention_is_refused(
    harness: Any, program: list[Any]
) -> None:
    function = only(program, guardrails.LAMBDA_FUNCTION)[0]
    target = function.props["loggingConfig"]["logGroup"]
    group = next(r for r in only(program, guardrails.LOG_GROUP) if r.props["name"] == target)
    complaint = (
        f"log group '{target}' of function '{function.name}': retentionInDays is not set, "
        "so its logs are kept forever; set retentionInDays (e.g. 30)."
    )
    assert_the_one_violation(harness, program, group, {"retentionInDays": None}, complaint)


def test_a_function_whose_log_group_is_not_declared_is_refused(
    harness: Any, program: list[Any]
) -> None:
    function = only(program, guardrails.LAMBDA_FUNCTION)[0]
    complaint = (
        f"function '{function.name}' logs to '/elsewhere', which this stack does not declare: "
        "Lambda would create it with no retention. Declare the log group."
    )
    assert_the_one_violation(
        harness,
        program,
        function,
        {"loggingConfig": {"logFormat": "JSON", "logGroup": "/elsewhere"}},
        complaint,
    )


def test_a_secretsmanager_permission_without_source_arn_is_refused(
    harness: Any, program: list[Any]
) -> None:
    permission = secretsmanager_permission(program)
    complaint = (
        f"lambda permission '{permission.name}' lets secretsmanager.amazonaws.com invoke the "
        "function for ANY secret (confused deputy): set sourceArn to the secret's ARN."
    )
    assert_the_one_violation(harness, program, permission, {"sourceArn": None}, complaint)


# --- Preview: values not known yet ------------------------------------------------------------


def secret_and_rotation_while_the_arn_is_unknown(harness: Any, *, linked: bool) -> list[Any]:
    """A secret whose ARN preview does not know yet and a 30-day rotation of an unknown
    secretId, which names the secret through a dependency only when ``linked``."""
    secret = harness.registered(
        guardrails.SECRET, "bot-secret", {"name": "x", "arn": harness.unknown}
    )
    rotation = harness.registered(
        guardrails.SECRET_ROTATION,
        "bot-rotation",
        {"secretId": harness.unknown, "rotationRules": {"automaticallyAfterDays": 30.0}},
        **({"secretId": [secret]} if linked else {}),
    )
    return [secret, rotation]


def test_a_rotation_found_through_its_dependency_passes_while_the_secret_arn_is_unknown(
    harness: Any,
) -> None:
    resources = secret_and_rotation_while_the_arn_is_unknown(harness, linked=True)

    assert harness.stack_violations(validate_secrets_rotate_within_90_days, resources) == []


def test_a_secret_whose_rotation_cannot_be_told_yet_is_left_to_pulumi_up(harness: Any) -> None:
    resources = secret_and_rotation_while_the_arn_is_unknown(harness, linked=False)

    # The analyzer reports this as "can't run policy ... during preview" (advisory).
    with pytest.raises(UnknownValueError):
        harness.stack_violations(validate_secrets_rotate_within_90_days, resources)


def test_a_rotation_matched_by_secret_arn_passes(harness: Any) -> None:
    secret = harness.registered(guardrails.SECRET, "bot-secret", {"name": "x", "arn": SECRET_ARN})
    rotation = harness.registered(
        guardrails.SECRET_ROTATION,
        "bot-rotation",
        {"secretId": SECRET_ARN, "rotationRules": {"scheduleExpression": "rate(30 days)"}},
    )

    assert (
        harness.stack_violations(validate_secrets_rotate_within_90_days, [secret, rotation]) == []
    )


def test_a_secretsmanager_permission_on_a_prefix_without_source_account_is_refused(
    harness: Any, program: list[Any]
) -> None:
    permission = secretsmanager_permission(program)
    assert "*" in permission.props["sourceArn"]
    complaint = (
        f"lambda permission '{permission.name}' lets secretsmanager.amazonaws.com invoke the"
        f" function for secrets matching {permission.props['sourceArn']!r} without"
        " sourceAccount: set sourceAccount to this account."
    )
    assert_the_one_violation(harness, program, permission, {"sourceAccount": None}, complaint)


def test_an_unknown_source_arn_counts_as_set(harness: Any) -> None:
    permission = harness.registered(
        guardrails.LAMBDA_PERMISSION,
        "allow-rotation",
        {"principal": "secretsmanager.amazonaws.com", "sourceArn": harness.unknown},
    )

    found = harness.resource_violations(validate_secretsmanager_permission_source_arn, [permission])

    assert found == []


def test_a_permission_for_another_service_is_not_this_policys_concern(harness: Any) -> None:
    permission = harness.registered(
        guardrails.LAMBDA_PERMISSION, "allow-events", {"principal": "events.amazonaws.com"}
    )

    found = harness.resource_violations(validate_secretsmanager_permission_source_arn, [permission])

    assert found == []


# --- Rotation schedules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "days"),
    [
        ({"automaticallyAfterDays": 30.0}, 30),
        ({"automaticallyAfterDays": 90.0}, 90),
        ({"scheduleExpression": "rate(4 hours)"}, 4 / 24),
        ({"scheduleExpression": "rate(90 days)"}, 90),
        ({"scheduleExpression": "cron(0 4 ? * MON *)"}, 7),
        ({"scheduleExpression": "cron(0 16 1,15 * ? *)"}, 17),
        ({"scheduleExpression": "cron(0 0 L */2 ? *)"}, 62),
        ({"scheduleExpression": "cron(0 0 ? * 2#1 *)"}, 35),
        ({"scheduleExpression": "cron(0 0 ? * 6L *)"}, 35),
        ({"scheduleExpression": "cron(0 0 1 */3 ? *)"}, 92),
        ({"scheduleExpression": "cron(0 0 29 2 ? *)"}, 1461),
    ],
)
def test_the_rotation_period_is_the_longest_wait_between_rotations(
    rules: dict[str, Any], days: float
) -> None:
    assert guardrails.rotation_period_days(rules) == pytest.approx(days)


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        ({}, "neither automaticallyAfterDays nor scheduleExpression"),
        ({"automaticallyAfterDays": 0.0}, "is not a positive number"),
        ({"scheduleExpression": "cron(0 0 1 1 ? 2030)"}, "a year other than *"),
        ({"scheduleExpression": "cron(0 0 * * * *)"}, "? in neither or both day fields"),
        ({"scheduleExpression": "cron(0 0 31 2 ? *)"}, "never fires twice"),
        ({"scheduleExpression": "cron(0 0 15W * ? *)"}, "out of range or malformed"),
        ({"scheduleExpression": "weekly"}, "neither rate"),
    ],
)
def test_an_unreadable_rotation_schedule_is_refused(
    harness: Any, rules: dict[str, Any], reason: str
) -> None:
    rotation = harness.registered(
        guardrails.SECRET_ROTATION, "odd", {"secretId": SECRET_ARN, "rotationRules": rules}
    )

    found = harness.stack_violations(validate_secrets_rotate_within_90_days, [rotation])

    assert len(found) == 1
    assert found[0][0].startswith("SecretRotation 'odd': cannot tell how often it rotates")
    assert reason in found[0][0]


# --- Policy documents -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy",
    [
        document("*"),
        document(["s3:GetObject", "iam:*"]),
        document("secretsmanager:*", ["arn:aws:s3:::bucket/*", "*"]),
        document("IAM:*"),
        document("*:*"),
        document("iam:**"),
        document("sts:*"),
        document("iam:Create*"),
        document("secretsmanager:Get*"),
        document("sts:Assume*", "arn:aws:iam::*:role/*"),
        document("iam:*", "arn:*"),
        document("*", "arn:aws:*"),
        document("secretsmanager:*", "arn:aws:secretsmanager:*:*:secret:*"),
        document("iam:*Policy*", "arn:aws:iam::123456789012:user/*"),
        document("s*:Get*"),
        json.dumps({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}),
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "iam:*", "NotResource": "x"}]}),
        json.dumps({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "x"}]}),
    ],
)
def test_over_broad_grants_are_refused(harness: Any, policy: str) -> None:
    role_policy = harness.registered("aws:iam/rolePolicy:RolePolicy", "p", {"policy": policy})

    assert harness.resource_violations(validate_no_over_broad_policies, [role_policy])


@pytest.mark.parametrize(
    "policy",
    [
        document("iam:*", "arn:aws:iam::123456789012:user/ai-credential-rotation/bot"),
        document("iam:CreateUser"),
        document("s3:*"),
        document("kms:*", "arn:aws:kms:eu-west-1:123456789012:key/abc"),
        document(
            "secretsmanager:Get*",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:credrot-*",
        ),
        document("sts:GetCallerIdentity"),
        json.dumps({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}),
        json.dumps({"Statement": [{"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}]}),
    ],
)
def test_scoped_or_denying_statements_pass(harness: Any, policy: str) -> None:
    user_policy = harness.registered("aws:iam/userPolicy:UserPolicy", "p", {"policy": policy})

    assert harness.resource_violations(validate_no_over_broad_policies, [user_policy]) == []


def test_a_role_inline_policy_is_checked_too(harness: Any) -> None:
    role = harness.registered(
        guardrails.IAM_ROLE,
        "r",
        {"inlinePolicies": [{"name": "ok", "policy": document("s3:*")}, {"policy": document("*")}]},
    )

    found = harness.resource_violations(validate_no_over_broad_policies, [role])

    assert [m for m, _ in found] == [
        "'r' inlinePolicies[1].policy: statement 0 allows ['*'] on broad Resource ['*']"
    ]


def test_a_topic_policy_is_checked_too(harness: Any) -> None:
    topic = harness.registered("aws:sns/topic:Topic", "t", {"policy": document("secretsmanager:*")})

    assert harness.resource_violations(validate_no_over_broad_policies, [topic])


def test_a_policy_that_is_not_json_is_refused(harness: Any) -> None:
    policy = harness.registered("aws:iam/policy:Policy", "p", {"policy": "{not json"})

    found = harness.resource_violations(validate_no_over_broad_policies, [policy])

    assert found[0][0].startswith("'p' policy is not valid JSON")


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        (
            "aws:iam/userPolicyAttachment:UserPolicyAttachment",
            {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
        (
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            {"policyArn": "arn:aws:iam::aws:policy/SecretsManagerReadWrite"},
        ),
        (guardrails.IAM_ROLE, {"managedPolicyArns": ["arn:aws:iam::aws:policy/IAMFullAccess"]}),
    ],
)
def test_attaching_an_aws_managed_admin_policy_is_refused(
    harness: Any, type_: str, props: dict[str, Any]
) -> None:
    attachment = harness.registered(type_, "attach", props)

    assert harness.resource_violations(validate_no_over_broad_policies, [attachment])


def test_attaching_a_customer_policy_of_the_same_name_is_not_judged_by_name(harness: Any) -> None:
    attachment = harness.registered(
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "attach",
        {"policyArn": "arn:aws:iam::123456789012:policy/AdministratorAccess"},
    )

    assert harness.resource_violations(validate_no_over_broad_policies, [attachment]) == []


def test_an_unknown_policy_document_is_left_to_pulumi_up(harness: Any) -> None:
    policy = harness.registered("aws:iam/policy:Policy", "p", {"policy": harness.unknown})

    with pytest.raises(UnknownValueError):
        harness.resource_violations(validate_no_over_broad_policies, [policy])


# --- Log groups -------------------------------------------------------------------------------


@pytest.mark.parametrize("retention", [None, 0.0])
def test_a_lambda_log_group_must_keep_a_retention(harness: Any, retention: float | None) -> None:
    props: dict[str, Any] = {"name": "/aws/lambda/ai-credential-rotation-bot"}
    if retention is not None:
        props["retentionInDays"] = retention
    group = harness.registered(guardrails.LOG_GROUP, "logs", props)

    assert harness.resource_violations(validate_lambda_log_group_retention, [group])


def test_a_custom_log_group_a_function_points_at_must_keep_a_retention(harness: Any) -> None:
    group = harness.registered(guardrails.LOG_GROUP, "logs", {"name": "/ai/rotation"})
    function = harness.registered(
        guardrails.LAMBDA_FUNCTION,
        "fn",
        {"name": "fn-1", "loggingConfig": {"logGroup": "/ai/rotation"}},
    )

    found = harness.stack_violations(validate_function_log_groups, [group, function])

    assert found == [
        (
            "log group '/ai/rotation' of function 'fn': retentionInDays is not set, so its logs "
            "are kept forever; set retentionInDays (e.g. 30).",
            group.urn,
        )
    ]


def test_a_function_without_logging_config_needs_its_default_log_group(harness: Any) -> None:
    function = harness.registered(guardrails.LAMBDA_FUNCTION, "fn", {"name": "fn-1"})
    group = harness.registered(
        guardrails.LOG_GROUP, "logs", {"name": "/aws/lambda/fn-1", "retentionInDays": 30.0}
    )

    assert harness.stack_violations(validate_function_log_groups, [function]) != []
    assert harness.stack_violations(validate_function_log_groups, [function, group]) == []


def test_other_log_groups_are_not_this_policys_concern(harness: Any) -> None:
    group = harness.registered(guardrails.LOG_GROUP, "logs", {"name": "/app/audit"})

    assert harness.resource_violations(validate_lambda_log_group_retention, [group]) == []


def test_policy_names_are_unique() -> None:
    names = [policy.name for policy in POLICIES]

    assert len(names) == len(set(names)) == 6
