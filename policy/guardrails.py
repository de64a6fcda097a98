"""The guardrails of ai-credential-rotation, as plain validation functions.

Each function has the signature pulumi_policy gives it (``args, report_violation``) and reads
the provider's camelCase properties, so the tests call them directly on the program's own
resources, without the policy engine. ``POLICIES`` wires them into policies; ``__main__.py``
wraps those in the pack.

During ``pulumi preview`` a value computed from another resource's output can be unknown:
reading it raises pulumi_policy's UnknownValueError, which the engine turns into an advisory
"can't run during preview" note. The checks read an unknown value only when the answer
depends on it; ``pulumi up`` sees every value and enforces them all.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from components.limits import MAX_ROTATION_DAYS, rotation_too_slow
from components.schedule import cron_figures

ACCESS_KEY = "aws:iam/accessKey:AccessKey"
# Type tokens, not credentials (ruff's S105 goes by the word "secret" in the name).
SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"  # noqa: S105
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
IAM_ROLE = "aws:iam/role:Role"

# Resource-based policies outside aws:iam/* that hold a JSON document in ``policy``: the same
# over-broad grants are as dangerous there. Every aws:iam/* type with ``policy`` is checked too.
RESOURCE_POLICY_TYPES = frozenset(
    {
        SECRET,
        "aws:secretsmanager/secretPolicy:SecretPolicy",
        "aws:sns/topic:Topic",
        "aws:sns/topicPolicy:TopicPolicy",
    }
)

LAMBDA_LOG_GROUP_PREFIX = "/aws/lambda/"

# AWS-managed policies that grant what over_broad_statements refuses, by name: attaching one
# is the same grant, made without a document this pack can read.
OVER_BROAD_MANAGED_POLICIES = {
    "AdministratorAccess": '"*" on Resource "*"',
    "PowerUserAccess": 'NotAction on Resource "*"',
    "IAMFullAccess": '"iam:*" on Resource "*"',
    "SecretsManagerReadWrite": '"secretsmanager:*" on Resource "*"',
}
POLICY_ATTACHMENT_TYPES = frozenset(
    {
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    }
)

# Services whose wildcards, on a broad resource, hand over everything this product guards:
# every IAM user's keys and policies, every role to assume, every secret.
GUARDED_SERVICES = ("iam", "sts", "secretsmanager")
# A broad resource: "*", or an ARN whose service, or whole resource part (after an optional
# resource type such as "secret:" or "user/"), is a wildcard. "arn:*", "arn:aws:*:*:*:*",
# "arn:aws:secretsmanager:*:*:secret:*" and "arn:aws:iam::*:user/*" are broad;
# "arn:aws:secretsmanager:eu-west-1:123456789012:secret:credrot-*" is not.
_BROAD_RESOURCE_PART = re.compile(r"^(?:[A-Za-z-]+[:/])?[*?]+$")


def _props_value(props: Mapping[str, Any], key: str) -> Any:
    """``props[key]``, or None when absent; raises UnknownValueError when unknown in preview."""
    try:
        return props[key]
    except KeyError:
        return None


def _known_or_none(props: Mapping[str, Any], key: str) -> Any:
    """``props[key]``, or None when absent or unknown (for optional cross-references)."""
    try:
        return _props_value(props, key)
    except UnknownValueError:
        return None


def _is_set(props: Mapping[str, Any], key: str) -> bool:
    """True if ``key`` holds a value; an unknown value counts, since it will hold one."""
    try:
        value = _props_value(props, key)
    except UnknownValueError:
        return True
    return value is not None and value != ""


def _as_list(value: Any) -> list[Any]:
    """A policy element (a string or a list of strings) as a list."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value]
    return list(value)


# --- Rotation schedules ---------------------------------------------------------------------

_RATE_RE = re.compile(r"^rate\(\s*(\d+)\s+(minutes?|hours?|days?)\s*\)$", re.IGNORECASE)
_CRON_RE = re.compile(r"^cron\((.+)\)$", re.IGNORECASE)
_RATE_UNIT_DAYS = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1.0}


def cron_longest_gap_days(fields_text: str) -> int:
    """The longest interval, in whole days, between two firings of a Secrets Manager cron.

    ``fields_text`` is what goes inside ``cron(...)``. The stack's config reads the same
    figure from the same simulator (``components.schedule.cron_figures``), so the pack and
    the config never disagree on a cron. Raises ValueError for an expression Secrets Manager
    refuses (W and LW among them) or that never fires twice.
    """
    expression = f"cron({fields_text})"
    try:
        return cron_figures(expression).longest_gap_days
    except ValueError as error:
        raise ValueError(f"{expression} {error}") from None


def schedule_period_days(expression: str) -> float:
    """The longest interval, in days, between two rotations under a ``rate()``/``cron()``."""
    text = expression.strip()
    rate = _RATE_RE.match(text)
    if rate:
        amount = int(rate.group(1))
        if amount < 1:
            raise ValueError(f"{expression!r} never rotates")
        return amount * _RATE_UNIT_DAYS[rate.group(2).lower().rstrip("s")]
    cron = _CRON_RE.match(text)
    if cron:
        return float(cron_longest_gap_days(" ".join(cron.group(1).split())))
    raise ValueError(f"{expression!r} is neither rate(N days|hours) nor cron(...)")


def rotation_period_days(rules: Mapping[str, Any] | None) -> float:
    """The longest interval, in days, between two rotations under a SecretRotation's rules.

    Raises ValueError when the rules give no period that can be read.
    """
    if not isinstance(rules, Mapping):
        raise ValueError("rotationRules is missing")
    periods: list[float] = []
    days = _props_value(rules, "automaticallyAfterDays")
    expression = _props_value(rules, "scheduleExpression")
    if expression and (days is None or (not isinstance(days, bool) and days == 0)):
        # With a schedule, the provider leaves automaticallyAfterDays unset and reports it
        # as 0 in outputs: that 0 means "unset", not "never".
        days = None
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int | float) or days < 1:
            raise ValueError(f"automaticallyAfterDays {days!r} is not a positive number")
        periods.append(float(days))
    if expression:
        periods.append(schedule_period_days(str(expression)))
    if not periods:
        raise ValueError("rotationRules sets neither automaticallyAfterDays nor scheduleExpression")
    return max(periods)


def _rotates(rotation: PolicyResource, secret: PolicyResource) -> bool:
    """True if the SecretRotation targets the Secret, by dependency or by ARN/id/name."""
    if any(dep.urn == secret.urn for dep in rotation.property_dependencies.get("secretId", [])):
        return True
    secret_id = _known_or_none(rotation.props, "secretId")
    if not secret_id:
        return False
    identities = {_known_or_none(secret.props, key) for key in ("arn", "id", "name")}
    return secret_id in identities - {None, ""}


def validate_secrets_rotate_within_90_days(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    """Every Secret has a SecretRotation, and every SecretRotation runs at least every 90 days."""
    rotations = [r for r in args.resources if r.resource_type == SECRET_ROTATION]
    for rotation in rotations:
        try:
            days = rotation_period_days(_props_value(rotation.props, "rotationRules"))
        except ValueError as error:
            report_violation(
                f"SecretRotation {rotation.name!r}: cannot tell how often it rotates: {error}. "
                f"Set rotationRules.automaticallyAfterDays (at most {MAX_ROTATION_DAYS}).",
                rotation.urn,
            )
            continue
        if days > MAX_ROTATION_DAYS:
            report_violation(
                f"SecretRotation {rotation.name!r} {rotation_too_slow(days)}.", rotation.urn
            )

    unmatched = [
        secret
        for secret in args.resources
        if secret.resource_type == SECRET and not any(_rotates(r, secret) for r in rotations)
    ]
    undecided = _unknown_targets(rotations)
    if unmatched and undecided:
        # A rotation whose secret is not known yet may be theirs: let `pulumi up` decide.
        raise undecided[0]
    for secret in unmatched:
        report_violation(
            f"Secret {secret.name!r} has no SecretRotation: add one with "
            f"rotationRules.automaticallyAfterDays <= {MAX_ROTATION_DAYS}.",
            secret.urn,
        )


def _unknown_targets(rotations: list[PolicyResource]) -> list[UnknownValueError]:
    """Why the target of a rotation cannot be told yet, for each such rotation."""
    errors = []
    for rotation in rotations:
        if rotation.property_dependencies.get("secretId"):
            continue  # the dependency names its secret
        try:
            _props_value(rotation.props, "secretId")
        except UnknownValueError as unknown:
            errors.append(unknown)
    return errors


# --- Access keys ------------------------------------------------------------------------------


def validate_no_access_keys(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """No IAM access key is ever a Pulumi resource."""
    if args.resource_type == ACCESS_KEY:
        report_violation(
            f"IAM access key {args.name!r}: a Pulumi-managed key never rotates and its secret "
            "lands in the stack state. Keys are minted by the rotation Lambda only.",
            None,
        )


# --- Over-broad policy documents ------------------------------------------------------------


def is_broad_resource(resource: Any) -> bool:
    """True for a resource pattern that covers every resource of a service (or more)."""
    text = str(resource).strip()
    if text in ("*", "arn:*"):
        return True
    parts = text.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        # "arn:aws:*" and other truncated patterns: the wildcard runs over the rest.
        return parts[0] in ("arn", "*") and text.endswith("*")
    service, resource_part = parts[2], parts[5]
    return "*" in service or "?" in service or bool(_BROAD_RESOURCE_PART.match(resource_part))


def grants_guarded_wildcard(action: Any) -> bool:
    """True for ``*``, a service glob reaching a guarded service, or any wildcard in one.

    ``iam:*``, ``sts:*``, ``secretsmanager:*``, but also ``secretsmanager:Get*`` or
    ``iam:*Policy*``: a glob of a guarded service grants what no review can enumerate.
    """
    text = str(action).strip().lower()
    if text == "*":
        return True
    service, colon, _ = text.partition(":")
    if not colon:
        return False
    covers_guarded = any(fnmatch.fnmatchcase(guarded, service) for guarded in GUARDED_SERVICES)
    return covers_guarded and ("*" in text or "?" in text)


def over_broad_statements(document: Any) -> list[str]:
    """Why each Allow statement of a policy document is over-broad (empty when none is).

    Over-broad: a wildcard reaching IAM, STS or Secrets Manager (``*``, ``iam:*``,
    ``sts:*``, ``secretsmanager:Get*``...) on a broad resource (``"*"``, ``arn:*``, a
    service-wide ARN) or with NotResource, and any Allow with NotAction, which grants every
    action but the listed ones.
    """
    if not isinstance(document, Mapping):
        return ["the policy document is not a JSON object"]
    problems: list[str] = []
    for index, statement in enumerate(_as_list(_props_value(document, "Statement"))):
        if not isinstance(statement, Mapping):
            problems.append(f"statement {index} is not a JSON object")
            continue
        if str(_props_value(statement, "Effect")) != "Allow":
            continue
        label = f"statement {_props_value(statement, 'Sid') or index}"
        if "NotAction" in statement:
            problems.append(
                f"{label} allows NotAction {_as_list(statement['NotAction'])}, "
                "which grants every other action"
            )
        broad_resources = [
            r for r in _as_list(_props_value(statement, "Resource")) if is_broad_resource(r)
        ]
        if "NotResource" in statement:
            broad_resources.append("NotResource")
        if not broad_resources:
            continue
        broad = [
            a for a in _as_list(_props_value(statement, "Action")) if grants_guarded_wildcard(a)
        ]
        if broad:
            problems.append(f"{label} allows {broad} on broad Resource {broad_resources}")
    return problems


def policy_documents(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The (property path, raw document) pairs of a resource that hold a policy document."""
    documents: list[tuple[str, Any]] = []
    if (resource_type.startswith("aws:iam/") or resource_type in RESOURCE_POLICY_TYPES) and (
        "policy" in props
    ):
        documents.append(("policy", props["policy"]))
    if resource_type == IAM_ROLE:
        for index, inline in enumerate(_as_list(_props_value(props, "inlinePolicies"))):
            if isinstance(inline, Mapping) and "policy" in inline:
                documents.append((f"inlinePolicies[{index}].policy", inline["policy"]))
    return documents


def _attached_policy_arns(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type in POLICY_ATTACHMENT_TYPES:
        return [str(arn) for arn in _as_list(_props_value(props, "policyArn"))]
    if resource_type == IAM_ROLE:
        return [str(arn) for arn in _as_list(_props_value(props, "managedPolicyArns"))]
    return []


def over_broad_managed_policy(policy_arn: str) -> str | None:
    """What an AWS-managed policy grants, if it is one of OVER_BROAD_MANAGED_POLICIES."""
    prefix, _, name = policy_arn.rpartition(":policy/")
    if not prefix.startswith("arn:aws") or not prefix.endswith(":iam::aws"):
        return None
    return OVER_BROAD_MANAGED_POLICIES.get(name)


def validate_no_over_broad_policies(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """No policy grants ``*`` or an IAM, STS or Secrets Manager wildcard on a broad resource.

    Checks the policy documents a resource holds and the AWS-managed policies it attaches.
    """
    for policy_arn in _attached_policy_arns(args.resource_type, args.props):
        grant = over_broad_managed_policy(policy_arn)
        if grant:
            report_violation(f"{args.name!r} attaches {policy_arn}, which allows {grant}", None)
    for path, raw in policy_documents(args.resource_type, args.props):
        if raw is None or raw == "":
            continue
        try:
            document = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as error:
            report_violation(f"{args.name!r} {path} is not valid JSON ({error})", None)
            continue
        for problem in over_broad_statements(document):
            report_violation(f"{args.name!r} {path}: {problem}", None)


# --- Lambda log groups ------------------------------------------------------------------------


def _retention_problem(props: Mapping[str, Any]) -> str | None:
    days = _props_value(props, "retentionInDays")
    if days is None:
        return "retentionInDays is not set, so its logs are kept forever"
    if isinstance(days, bool) or not isinstance(days, int | float) or days <= 0:
        return f"retentionInDays {days!r} keeps its logs forever"
    return None


def validate_lambda_log_group_retention(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """Every /aws/lambda/ log group sets a retention."""
    if args.resource_type != LOG_GROUP:
        return
    name = _props_value(args.props, "name") or _props_value(args.props, "namePrefix") or ""
    if not str(name).startswith(LAMBDA_LOG_GROUP_PREFIX):
        return
    problem = _retention_problem(args.props)
    if problem:
        report_violation(f"log group {name!r}: {problem}; set retentionInDays (e.g. 30).", None)


def _function_log_group(function: PolicyResource) -> str:
    logging_config = _props_value(function.props, "loggingConfig")
    if isinstance(logging_config, Mapping):
        custom = _props_value(logging_config, "logGroup")
        if custom:
            return str(custom)
    return f"{LAMBDA_LOG_GROUP_PREFIX}{_props_value(function.props, 'name')}"


def validate_function_log_groups(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    """Every function logs to a log group of this stack, and that group sets a retention.

    A log group the stack does not declare is created by Lambda on first use, with no
    retention. Groups under /aws/lambda/ are checked by lambda-log-groups-have-retention.
    """
    log_groups = {
        str(_props_value(group.props, "name")): group
        for group in args.resources
        if group.resource_type == LOG_GROUP
    }
    for function in (r for r in args.resources if r.resource_type == LAMBDA_FUNCTION):
        target = _function_log_group(function)
        group = log_groups.get(target)
        if group is None:
            report_violation(
                f"function {function.name!r} logs to {target!r}, which this stack does not "
                "declare: Lambda would create it with no retention. Declare the log group.",
                function.urn,
            )
            continue
        if target.startswith(LAMBDA_LOG_GROUP_PREFIX):
            continue
        problem = _retention_problem(group.props)
        if problem:
            report_violation(
                f"log group {target!r} of function {function.name!r}: {problem}; "
                "set retentionInDays (e.g. 30).",
                group.urn,
            )


# --- Lambda permissions -----------------------------------------------------------------------


def validate_secretsmanager_permission_source_arn(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A Lambda permission for Secrets Manager names the secret allowed to invoke, or, for a
    function shared by many secrets, an ARN prefix together with the source account.

    A prefix such as ``arn:aws:secretsmanager:eu-west-1:123456789012:secret:credrot-*`` names
    an account already, but Lambda matches it with ArnLike, so a pattern with a wildcard
    account would not: ``sourceAccount`` (StringEquals AWS:SourceAccount) pins it.
    """
    if args.resource_type != LAMBDA_PERMISSION:
        return
    principal = str(_props_value(args.props, "principal") or "").lower()
    if not principal.startswith("secretsmanager."):
        return
    if not _is_set(args.props, "sourceArn"):
        report_violation(
            f"lambda permission {args.name!r} lets {principal} invoke the function for ANY "
            "secret (confused deputy): set sourceArn to the secret's ARN.",
            None,
        )
        return
    source_arn = _known_or_none(args.props, "sourceArn")
    if (
        isinstance(source_arn, str)
        and "*" in source_arn
        and not _is_set(args.props, "sourceAccount")
    ):
        report_violation(
            f"lambda permission {args.name!r} lets {principal} invoke the function for secrets"
            f" matching {source_arn!r} without sourceAccount: set sourceAccount to this"
            " account.",
            None,
        )


POLICIES: list[Policy] = [
    StackValidationPolicy(
        name="secrets-rotate-within-90-days",
        description=(
            f"Every Secrets Manager secret has a SecretRotation that rotates it at least every "
            f"{MAX_ROTATION_DAYS} days."
        ),
        validate=validate_secrets_rotate_within_90_days,
    ),
    ResourceValidationPolicy(
        name="no-iam-access-keys",
        description="No aws:iam/accessKey:AccessKey: only the rotation Lambda creates access keys.",
        validate=validate_no_access_keys,
    ),
    ResourceValidationPolicy(
        name="no-over-broad-policies",
        description=(
            'No policy allows "*" or a wildcard of IAM, STS or Secrets Manager ("iam:*", '
            '"secretsmanager:Get*") on a broad resource ("*", "arn:*", a whole service), and '
            "none allows NotAction (inline and managed documents, AWS-managed admin policies)."
        ),
        validate=validate_no_over_broad_policies,
    ),
    ResourceValidationPolicy(
        name="lambda-log-groups-have-retention",
        description="Every /aws/lambda/ log group sets retentionInDays.",
        validate=validate_lambda_log_group_retention,
    ),
    StackValidationPolicy(
        name="function-log-groups-have-retention",
        description=(
            "Every Lambda function logs to a log group declared in the stack, with a retention."
        ),
        validate=validate_function_log_groups,
    ),
    ResourceValidationPolicy(
        name="secretsmanager-permissions-have-source-arn",
        description=(
            "Every Lambda permission for secretsmanager.amazonaws.com sets sourceArn, and"
            " sourceAccount too when sourceArn is a pattern."
        ),
        validate=validate_secretsmanager_permission_source_arn,
    ),
]
