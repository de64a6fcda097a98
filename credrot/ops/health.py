"""Health of one rotated secret, decided from a snapshot of plain data (no AWS calls here).

``credrot.ops.operations.take_snapshot`` gathers a ``Snapshot`` (DescribeSecret,
ListSecretVersionIds, the key ids recorded in the versions, the user's IAM keys);
``assess`` turns it into key rows and named problems; ``format_table`` and ``to_json``
render the result. Only key ids ever reach a snapshot, never a secret access key.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from components.contract import CONSUMER_TAG, IAM_PATH, SECRET_USER_TAG

# Named here too (``as``) because credrot.sandbox.drill imports the stages from this module.
from credrot.app.secret import CURRENT, PENDING, PREVIOUS

# The rotation function labels the AWSCURRENT version with the moment it became current:
# the previous key's grace counts from then. One parser, the function's own.
from rotation_lambda.decisions import current_since

DEFAULT_GRACE = timedelta(hours=24)

# NextRotationDate may be a rotation window away; flag only a clearly missed rotation.
OVERDUE_AFTER = timedelta(days=1)
UNKNOWN_SINCE = "unknown, counted as in grace"


@dataclass(frozen=True)
class VersionView:
    """One version of the secret: labels, creation date and what its value records."""

    version_id: str
    stages: tuple[str, ...]
    created: datetime | None = None
    has_value: bool = False
    read: bool = False
    user_name: str | None = None
    access_key_id: str | None = None
    malformed: str | None = None


@dataclass(frozen=True)
class IamKey:
    """One of the user's IAM access keys (metadata only)."""

    access_key_id: str
    status: str
    created: datetime | None = None


@dataclass(frozen=True)
class UserPolicy:
    """One IAM policy of the secret's user: ``name`` (managed policy ARN, or
    ``inline:<name>``) and its document."""

    name: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """What status needs to know about a secret and its user, at ``taken_at``."""

    secret_arn: str
    secret_name: str
    rotation_enabled: bool
    rotation_lambda_arn: str | None
    rotation_schedule: str | None
    last_rotated: datetime | None
    next_rotation: datetime | None
    versions: tuple[VersionView, ...]
    user_name: str | None
    user_keys: tuple[IamKey, ...] | None
    taken_at: datetime
    user_keys_error: str | None = None
    # The user's own policies (inline, and managed under the product's IAM path): None if
    # not read; what decides whether its key may read this secret from anywhere.
    user_policies: tuple[UserPolicy, ...] | None = None
    user_policies_error: str | None = None
    # The secret's tags (None: not read); the product tags each of its secrets and users
    # with CONSUMER_TAG = the consumer's name.
    secret_tags: dict[str, str] | None = None
    # The named user's tags and path, when it exists; the rotation function's IAM_USER_NAME
    # when readable.
    user_tags: dict[str, str] | None = None
    user_path: str | None = None
    function_user_name: str | None = None

    def version_with(self, stage: str) -> VersionView | None:
        """The version carrying ``stage``, if any."""
        return next((v for v in self.versions if stage in v.stages), None)


@dataclass(frozen=True)
class KeyRow:
    """A key as status shows it: its role for the secret and its IAM state."""

    role: str  # current | previous | pending | abandoned | unknown
    access_key_id: str
    status: str  # Active | Inactive | deleted | unknown
    created: datetime | None
    version_id: str | None


@dataclass(frozen=True)
class Problem:
    """A named problem; ``message`` says what is wrong and how to fix it. A "warning" is a
    risk someone accepted on purpose: reported, but the secret still counts as healthy."""

    code: str
    message: str
    severity: str = "error"  # error | warning


@dataclass(frozen=True)
class Health:
    """The verdict on a snapshot."""

    snapshot: Snapshot
    keys: tuple[KeyRow, ...]
    problems: tuple[Problem, ...]
    grace: timedelta

    @property
    def healthy(self) -> bool:
        """True when no problem was found (warnings aside)."""
        return not self.errors

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems that make the secret unhealthy."""
        return tuple(p for p in self.problems if p.severity != "warning")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Accepted risks worth repeating."""
        return tuple(p for p in self.problems if p.severity == "warning")


def previous_key_retires_at(since: datetime | None, grace: timedelta) -> datetime | None:
    """When the previous key's grace ends; None when unknown (then it counts as in grace)."""
    return since + grace if since is not None else None


def previous_key_in_grace(since: datetime | None, grace: timedelta, now: datetime) -> bool:
    """Whether the previous key is still inside its grace. An unknown moment counts as in
    grace: retiring a key too late is safe, too early cuts off apps."""
    retires_at = previous_key_retires_at(since, grace)
    return retires_at is None or now < retires_at


def stuck_pending_version(version_stages: dict[str, list[str]]) -> str | None:
    """The version carrying AWSPENDING without AWSCURRENT: an unfinished rotation."""
    for version_id, stages in version_stages.items():
        if PENDING in stages and CURRENT not in stages:
            return version_id
    return None


def key_rows(snapshot: Snapshot) -> tuple[KeyRow, ...]:
    """Current, previous and pending keys first, then every other key of the user."""
    iam = {key.access_key_id: key for key in snapshot.user_keys or ()}
    listed = snapshot.user_keys is not None
    rows: list[KeyRow] = []
    seen: set[str] = set()
    for role, stage in (("current", CURRENT), ("previous", PREVIOUS), ("pending", PENDING)):
        version = snapshot.version_with(stage)
        if version is None or version.access_key_id is None:
            continue
        if version.access_key_id in seen:
            continue
        seen.add(version.access_key_id)
        key = iam.get(version.access_key_id)
        status = key.status if key else ("deleted" if listed else "unknown")
        rows.append(
            KeyRow(
                role,
                version.access_key_id,
                status,
                key.created if key else None,
                version.version_id,
            )
        )
    recorded = {v.access_key_id: v.version_id for v in snapshot.versions if v.access_key_id}
    for key in sorted(snapshot.user_keys or (), key=lambda k: k.access_key_id):
        if key.access_key_id in seen:
            continue
        role = "abandoned" if key.access_key_id in recorded else "unknown"
        rows.append(
            KeyRow(
                role, key.access_key_id, key.status, key.created, recorded.get(key.access_key_id)
            )
        )
    return tuple(rows)


def assess(snapshot: Snapshot, grace: timedelta = DEFAULT_GRACE) -> Health:
    """Find every problem in ``snapshot``; ``grace`` is the previous key's grace period."""
    rows = key_rows(snapshot)
    problems: list[Problem] = []
    name = snapshot.secret_name
    current = snapshot.version_with(CURRENT)

    problems.extend(ownership_problems(snapshot))
    if not snapshot.rotation_lambda_arn:
        problems.append(
            Problem(
                "no-rotation-function",
                "no rotation function is attached to the secret: deploy the component"
                " (`pulumi up`), which configures rotation",
            )
        )
    elif not snapshot.rotation_enabled:
        problems.append(
            Problem(
                "rotation-disabled",
                "rotation is disabled: the key will never change; re-enable it with"
                " `pulumi up` (the component configures rotation)",
            )
        )

    if current is None:
        problems.append(
            Problem(
                "no-current-version",
                "the secret has no AWSCURRENT version: put the bootstrap value"
                f' {{"UserName": "<user>"}} (`pulumi up` does), then run'
                f" `credrot rotate {name}`",
            )
        )
    elif current.malformed:
        problems.append(
            Problem(
                "malformed-current",
                f"the AWSCURRENT value is malformed ({current.malformed}); apps cannot use it:"
                ' put {"UserName": ..., "AccessKeyId": ..., "SecretAccessKey": ...} back'
                " from the key's owner, or a bootstrap value and rotate",
            )
        )
    elif current.read and current.access_key_id is None:
        problems.append(
            Problem(
                "no-key-yet",
                "rotation has not minted a key yet (bootstrap value): run"
                f" `credrot rotate {name}` or wait for the first rotation",
            )
        )

    stuck = next(
        (v for v in snapshot.versions if PENDING in v.stages and CURRENT not in v.stages), None
    )
    if stuck is not None:
        held = f"it holds key {stuck.access_key_id}" if stuck.access_key_id else "it has no value"
        since = f" since {_when(stuck.created)}" if stuck.created else ""
        problems.append(
            Problem(
                "stuck-pending",
                f"previous rotation isn't complete: version {stuck.version_id} is AWSPENDING"
                f" but not AWSCURRENT{since} ({held}); every RotateSecret fails until it is"
                " cleared. Unless a rotation is running right now, read the rotation"
                f" function's logs, then run `credrot unstick {name}`",
            )
        )

    if snapshot.user_keys is None:
        reason = snapshot.user_keys_error or "no user name in the secret"
        problems.append(
            Problem(
                "keys-not-checked",
                f"could not list the user's access keys ({reason}); grant iam:ListAccessKeys"
                " on the user to the identity running status",
            )
        )
    else:
        problems.extend(_key_problems(snapshot, rows, grace))

    if snapshot.user_policies_error:
        problems.append(
            Problem(
                "policies-not-checked",
                f"could not read the user's policies ({snapshot.user_policies_error}), so"
                " whether its key may read its own secret from anywhere is unknown; grant"
                " iam:ListUserPolicies, iam:GetUserPolicy, iam:ListAttachedUserPolicies,"
                " iam:GetPolicy and iam:GetPolicyVersion on the user to the identity running"
                " status",
                severity="warning",
            )
        )
    anywhere = self_read_from_anywhere(snapshot.user_policies or (), snapshot.secret_arn)
    if anywhere:
        problems.append(
            Problem(
                "self-read-from-anywhere",
                f"the key of user {snapshot.user_name} may read its own secret from any"
                f" network ({', '.join(anywhere)} allow secretsmanager:GetSecretValue on it"
                " with no aws:SourceIp condition): a leaked key can read every next key and"
                " follow the rotation for ever. Unless that risk is accepted on purpose"
                " (selfRead.allowFromAnywhere), give selfRead.sourceCidrs and `pulumi up`",
                severity="warning",
            )
        )

    if (
        snapshot.rotation_enabled
        and snapshot.next_rotation is not None
        and snapshot.taken_at - snapshot.next_rotation > OVERDUE_AFTER
    ):
        problems.append(
            Problem(
                "rotation-overdue",
                f"the rotation due {_when(snapshot.next_rotation)} has not happened: read the"
                f" rotation function's logs, then run `credrot rotate {name}`",
            )
        )
    return Health(snapshot, rows, tuple(problems), grace)


def ownership_problems(snapshot: Snapshot) -> list[Problem]:
    """ "not-managed" for a secret the product did not deploy; "names-another-user" for a
    value naming a user that is not this consumer's (nor the rotation function's)."""
    name = snapshot.secret_name
    if snapshot.secret_tags is not None and CONSUMER_TAG not in snapshot.secret_tags:
        return [
            Problem(
                "not-managed",
                f"secret {name} is not managed by ai-credential-rotation: it lacks the"
                f" {CONSUMER_TAG} tag the RotatedAccessKey component puts on every secret it"
                " creates. Check the name or ARN (the stack's outputs list each consumer's"
                " secret); credrot's advice below assumes a managed secret",
            )
        ]
    user = snapshot.user_name
    if user is None:
        return []
    consumer = (snapshot.secret_tags or {}).get(CONSUMER_TAG)
    # The shared function rotates the user the secret's tag names (and no other): the check
    # that still holds when the value names a user carrying the consumer's tag, as an
    # attribute-based reader does.
    bound_user = (snapshot.secret_tags or {}).get(SECRET_USER_TAG)
    reasons = []
    if bound_user and bound_user != user:
        reasons.append(f"the secret's {SECRET_USER_TAG} tag names {bound_user}")
    if snapshot.function_user_name and snapshot.function_user_name != user:
        reasons.append(f"its rotation function rotates {snapshot.function_user_name}")
    if snapshot.user_tags is not None and snapshot.user_tags.get(CONSUMER_TAG) != consumer:
        owner = snapshot.user_tags.get(CONSUMER_TAG)
        reasons.append(
            f"that user belongs to consumer {owner}" if owner else "that user is not the product's"
        )
    elif snapshot.user_path is not None and snapshot.user_path != IAM_PATH:
        reasons.append(f"that user's path is {snapshot.user_path}, not {IAM_PATH}")
    if not reasons:
        return []
    return [
        Problem(
            "names-another-user",
            f"the secret's value names IAM user {user}, but {'; '.join(reasons)}: the value was"
            f" edited or copied from another secret. Rotation refuses it; put back"
            f' {{"UserName": "<the consumer\'s user>"}} and run `credrot rotate {name}`',
        )
    ]


def self_read_from_anywhere(
    policies: tuple[UserPolicy, ...] | list[UserPolicy], secret_arn: str
) -> list[str]:
    """Names of the policies that let their principal read ``secret_arn`` from any address:
    an Allow of secretsmanager:GetSecretValue (wildcards included) on it (or on a matching
    pattern) without an ``aws:SourceIp`` or ``aws:SourceVpce`` condition."""
    found = []
    for policy in policies:
        statements = policy.document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        if any(_reads_from_anywhere(statement, secret_arn) for statement in statements):
            found.append(policy.name)
    return found


def _reads_from_anywhere(statement: Any, secret_arn: str) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement or "NotResource" in statement:
        return False  # unusual enough to leave to a human; never written by the product
    actions = _as_list(statement.get("Action"))
    resources = _as_list(statement.get("Resource"))
    if not any(_matches(action.lower(), "secretsmanager:getsecretvalue") for action in actions):
        return False
    if not any(_matches(resource, secret_arn) for resource in resources):
        return False
    conditions = statement.get("Condition") or {}
    limited = any(
        isinstance(values, dict)
        and any(key.lower() in ("aws:sourceip", "aws:sourcevpce") for key in values)
        for values in conditions.values()
    )
    return not limited


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [item for item in value or [] if isinstance(item, str)]


def _matches(pattern: str, value: str) -> bool:
    # IAM wildcards: * and ? (no character classes, which fnmatch would read into "[").
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _key_problems(snapshot: Snapshot, rows: tuple[KeyRow, ...], grace: timedelta) -> list[Problem]:
    problems: list[Problem] = []
    user = snapshot.user_name
    by_role = {row.role: row for row in rows}
    current = by_role.get("current")
    if current is not None and current.status == "deleted":
        problems.append(
            Problem(
                "current-key-missing",
                f"the AWSCURRENT key {current.access_key_id} no longer exists in IAM: apps"
                f" cannot authenticate; run `credrot rotate {snapshot.secret_name}`",
            )
        )
    elif current is not None and current.status == "Inactive":
        problems.append(
            Problem(
                "current-key-inactive",
                f"the AWSCURRENT key {current.access_key_id} is Inactive: apps cannot"
                f" authenticate; run `credrot rotate {snapshot.secret_name}` (or"
                " reactivate it if it was deactivated by mistake)",
            )
        )

    unknown = [row.access_key_id for row in rows if row.role == "unknown"]
    if unknown:
        problems.append(
            Problem(
                "unknown-keys",
                f"user {user} has key(s) {', '.join(unknown)} that no version of the secret"
                " records: made outside rotation, rotation will never delete them (and at"
                " IAM's 2-key limit it cannot rotate). Find the owner; if nobody needs them,"
                f" `aws iam update-access-key --user-name {user} --access-key-id <id> --status"
                " Inactive`, then delete them",
            )
        )

    previous = by_role.get("previous")
    current_version = snapshot.version_with(CURRENT)
    since = current_since(current_version.stages) if current_version else None
    if (
        previous is not None
        and previous.status == "Active"
        and not previous_key_in_grace(since, grace, snapshot.taken_at)
    ):
        assert since is not None
        problems.append(
            Problem(
                "previous-key-past-grace",
                f"the previous key {previous.access_key_id} is still Active"
                f" {_age(snapshot.taken_at - since)} after it stopped being current (grace"
                f" {_hours(grace)}): the RetirePreviousKey sweep has not run or failed; read"
                " its logs, or deactivate it now: `aws iam update-access-key --user-name"
                f" {user} --access-key-id {previous.access_key_id} --status Inactive`",
            )
        )
    return problems


# -- rendering ----------------------------------------------------------------------------


def format_table(health: Health) -> str:
    """Human-readable status: the secret, its rotation, a key table, then the problems."""
    snap = health.snapshot
    now = snap.taken_at
    rotation = "enabled" if snap.rotation_enabled else "DISABLED"
    if snap.rotation_schedule:
        rotation += f", {snap.rotation_schedule}"
    if snap.rotation_lambda_arn:
        rotation += f", function {snap.rotation_lambda_arn.rsplit(':', 1)[-1]}"
    lines = [
        f"Secret    {snap.secret_name}",
        f"ARN       {snap.secret_arn}",
        f"User      {snap.user_name or '(unknown)'}",
        f"Rotation  {rotation}",
        f"Last      {_when_relative(snap.last_rotated, now)}",
        f"Next      {_when_relative(snap.next_rotation, now)}",
        f"Grace     {_hours(health.grace)} (the previous key stays Active this long)",
    ]
    retirement = previous_key_retirement(health)
    if retirement is not None:
        lines.append(f"Previous  {retirement}")
    lines.append("")
    if health.keys:
        table = [("ROLE", "KEY ID", "STATUS", "AGE", "VERSION")]
        for row in health.keys:
            age = _age(now - row.created) if row.created else "-"
            table.append(
                (row.role, row.access_key_id, row.status, age, (row.version_id or "-")[:8])
            )
        widths = [max(len(cells[i]) for cells in table) for i in range(len(table[0]))]
        for cells in table:
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    else:
        lines.append("No access keys.")
    lines.append("")
    if health.healthy:
        lines.append("Healthy: no problems found.")
    else:
        lines.append(f"Problems ({len(health.errors)}):")
        lines.extend(f"  - [{p.code}] {p.message}" for p in health.errors)
    if health.warnings:
        lines.append(f"Warnings ({len(health.warnings)}):")
        lines.extend(f"  - [{p.code}] {p.message}" for p in health.warnings)
    return "\n".join(lines)


def previous_key_retirement(health: Health) -> str | None:
    """ "previous key <id> retires at <time>" for an Active previous key (None otherwise)."""
    previous = next((row for row in health.keys if row.role == "previous"), None)
    if previous is None or previous.status != "Active":
        return None
    current = health.snapshot.version_with(CURRENT)
    retires_at = previous_key_retires_at(
        current_since(current.stages) if current else None, health.grace
    )
    when = _when_relative(retires_at, health.snapshot.taken_at) if retires_at else UNKNOWN_SINCE
    return f"previous key {previous.access_key_id} retires at {when}"


def to_json(health: Health) -> dict[str, Any]:
    """The same content as ``format_table``, as JSON-serialisable data."""
    snap = health.snapshot
    now = snap.taken_at

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    current = snap.version_with(CURRENT)
    retires_at = previous_key_retires_at(
        current_since(current.stages) if current else None, health.grace
    )

    return {
        "secret": {"name": snap.secret_name, "arn": snap.secret_arn},
        "user": snap.user_name,
        "rotation": {
            "enabled": snap.rotation_enabled,
            "schedule": snap.rotation_schedule,
            "function_arn": snap.rotation_lambda_arn,
            "last": iso(snap.last_rotated),
            "next": iso(snap.next_rotation),
        },
        "keys": [
            {
                "role": row.role,
                "access_key_id": row.access_key_id,
                "status": row.status,
                "created": iso(row.created),
                "age_seconds": round((now - row.created).total_seconds()) if row.created else None,
                "version_id": row.version_id,
            }
            for row in health.keys
        ],
        "grace_hours": health.grace.total_seconds() / 3600,
        "current_since": iso(current_since(current.stages) if current else None),
        "previous_key_retires_at": iso(retires_at),
        "previous_key_retirement": previous_key_retirement(health),
        "healthy": health.healthy,
        "problems": [{"code": p.code, "message": p.message} for p in health.errors],
        "warnings": [{"code": p.code, "message": p.message} for p in health.warnings],
    }


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _when_relative(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    delta = now - moment
    relative = f"{_age(delta)} ago" if delta >= timedelta(0) else f"in {_age(-delta)}"
    return f"{_when(moment)} ({relative})"


def _age(delta: timedelta) -> str:
    """A short duration: 40s, 12m, 5h 2m, 3d 4h."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{seconds}s"


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g}h"
