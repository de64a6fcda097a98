"""Operator actions on a rotated secret: the AWS calls, at the edge.

Decisions on the data these functions gather live in ``credrot.ops.health`` (pure). Clients
are passed in (boto3 clients for Secrets Manager, IAM and Lambda), so the CLI, the drill and
tests share this code. Errors: ``CommandError`` for states an operator must fix (the message
names the fix); botocore's ClientError/BotoCoreError pass through for the CLI to explain.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from botocore.exceptions import BotoCoreError, ClientError

from components.contract import IAM_PATH
from credrot.app.secret import CURRENT, PENDING, PREVIOUS, KeyRecord, get_value, parse_response
from credrot.errors import CommandError, CredentialError
from credrot.ops.health import (
    DEFAULT_GRACE,
    UNKNOWN_SINCE,
    IamKey,
    Snapshot,
    UserPolicy,
    VersionView,
    previous_key_in_grace,
    previous_key_retires_at,
    stuck_pending_version,
)
from credrot.ops.limits import DEFAULT_ROTATION_TIMEOUT, DEFAULT_UNSTICK_MIN_AGE, EXIT_TIMEOUT
from rotation_lambda.decisions import current_since
from rotation_lambda.protocol import list_versions

if TYPE_CHECKING:
    from types_boto3_iam import IAMClient
    from types_boto3_lambda import LambdaClient
    from types_boto3_logs import CloudWatchLogsClient
    from types_boto3_secretsmanager import SecretsManagerClient

# createSecret stores the new version's value within seconds; none after this long means the
# rotation is failing (AWS retries the Lambda, and keeps AWSPENDING, for much longer).
NO_VALUE_STALL = timedelta(seconds=60)
# How often a waiting rotate/revoke reads the function's logs for its error.
LOG_CHECK_EVERY = 3.0


@dataclass(frozen=True)
class RotationResult:
    """A finished rotation: the new AWSCURRENT version and the keys either side of it."""

    secret_arn: str
    token: str
    seconds: float
    current_key_id: str | None
    previous_key_id: str | None
    # The key that was AWSPREVIOUS before the rotation, deactivated first (--force/revoke)
    # because it was still Active inside its grace and the rotation would delete it.
    deactivated_first: str | None = None


@dataclass(frozen=True)
class PreviousKeyInGrace:
    """The AWSPREVIOUS key, still Active inside its grace: a rotation now would delete it."""

    user_name: str
    access_key_id: str
    retires_at: datetime | None  # None: unknown, counted as in grace

    def describe(self) -> str:
        """Its retirement moment, or that it is unknown."""
        if self.retires_at is None:
            return f"retires at {UNKNOWN_SINCE}"
        return f"retires at {self.retires_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True)
class RevokeResult:
    """What revoke did: the rotation, then the previous key it deactivated (if any)."""

    rotation: RotationResult
    user_name: str
    deactivated_key_id: str | None
    note: str


@dataclass(frozen=True)
class UnstickResult:
    """The abandoned version whose AWSPENDING label was removed, and the key it holds."""

    secret_arn: str
    version_id: str
    key_id: str | None
    has_value: bool


# -- reading --------------------------------------------------------------------------------


def read_version(
    sm: SecretsManagerClient,
    secret_id: str,
    *,
    stage: str | None = None,
    version_id: str | None = None,
) -> tuple[bool, KeyRecord | None, str | None]:
    """(has a value, parsed record or None, malformation or None) for one version."""
    try:
        response = get_value(sm, secret_id, stage=stage, version_id=version_id)
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return False, None, None
        raise
    where = f"version {version_id}" if version_id else f"the {stage} value"
    try:
        return True, parse_response(response, where), None
    except CredentialError as error:
        return True, None, str(error)


def take_snapshot(
    sm: SecretsManagerClient,
    iam: IAMClient,
    secret_id: str,
    *,
    now: datetime | None = None,
    read_policies: bool = True,
    lambda_client: LambdaClient | None = None,
) -> Snapshot:
    """Gather what ``credrot.ops.health.assess`` needs.

    Reads the labelled versions' values, lists the user's keys, and reads unlabelled
    versions only while a key is still unexplained (as the rotation function does). With
    ``read_policies`` it also reads the user's own policies (its inline ones and the
    product's managed ones: typically 4 IAM calls) to see whether its key may read the
    secret from anywhere.
    """
    described = sm.describe_secret(SecretId=secret_id)
    arn = described["ARN"]
    created = {v["VersionId"]: v.get("CreatedDate") for v in list_versions(sm, arn)}
    stages: dict[str, list[str]] = dict(described.get("VersionIdsToStages", {}))
    for version_id in created:
        stages.setdefault(version_id, [])

    views: dict[str, VersionView] = {}

    def view(version_id: str, read: bool) -> VersionView:
        has_value, record, malformed = (
            read_version(sm, arn, version_id=version_id) if read else (False, None, None)
        )
        return VersionView(
            version_id=version_id,
            stages=tuple(stages[version_id]),
            created=created.get(version_id),
            has_value=has_value,
            read=read,
            user_name=record.user_name if record else None,
            access_key_id=record.access_key_id if record else None,
            malformed=malformed,
        )

    for version_id, labels in stages.items():
        views[version_id] = view(version_id, read=bool(labels))

    current = next((v for v in views.values() if CURRENT in v.stages), None)
    user_name = current.user_name if current else None
    user_name = user_name or next((v.user_name for v in views.values() if v.user_name), None)
    user_keys: tuple[IamKey, ...] | None = None
    keys_error = None
    if user_name:
        try:
            listed = iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]
            user_keys = tuple(
                IamKey(k["AccessKeyId"], k["Status"], k.get("CreateDate")) for k in listed
            )
        except ClientError as error:
            keys_error = f"{_code(error)}: {error.response.get('Error', {}).get('Message', '')}"

    if user_keys:
        unexplained = {k.access_key_id for k in user_keys} - {
            v.access_key_id for v in views.values() if v.access_key_id
        }
        unread = sorted(
            (v for v in views.values() if not v.read),
            key=lambda v: v.created or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )
        for version in unread:
            if not unexplained:
                break
            views[version.version_id] = evidence = view(version.version_id, read=True)
            unexplained.discard(evidence.access_key_id or "")

    user_tags, user_path = _user_identity(iam, user_name) if user_name else (None, None)
    policies: tuple[UserPolicy, ...] | None = None
    policies_error = None
    if user_name and read_policies:
        try:
            policies = _user_policies(iam, user_name)
        except ClientError as error:
            policies_error = f"{_code(error)}: {error.response.get('Error', {}).get('Message', '')}"

    rules = described.get("RotationRules") or {}
    schedule = rules.get("ScheduleExpression")
    if not schedule and rules.get("AutomaticallyAfterDays"):
        schedule = f"every {rules['AutomaticallyAfterDays']} days"
    return Snapshot(
        secret_arn=arn,
        secret_name=described.get("Name", arn),
        rotation_enabled=bool(described.get("RotationEnabled")),
        rotation_lambda_arn=described.get("RotationLambdaARN") or None,
        rotation_schedule=schedule,
        last_rotated=described.get("LastRotatedDate"),
        next_rotation=described.get("NextRotationDate"),
        versions=tuple(views.values()),
        user_name=user_name,
        user_keys=user_keys,
        user_keys_error=keys_error,
        taken_at=now or datetime.now(UTC),
        user_policies=policies,
        user_policies_error=policies_error,
        secret_tags={tag["Key"]: tag["Value"] for tag in described.get("Tags", [])},
        user_tags=user_tags,
        user_path=user_path,
        function_user_name=_function_variable(
            lambda_client, described.get("RotationLambdaARN"), "IAM_USER_NAME"
        ),
    )


def _user_identity(iam: IAMClient, user_name: str) -> tuple[dict[str, str] | None, str | None]:
    """(tags, path) of the user, or (None, None) if it cannot be read."""
    try:
        user = iam.get_user(UserName=user_name)["User"]
        tags = iam.list_user_tags(UserName=user_name).get("Tags", [])
    except ClientError:
        return None, None
    return {tag["Key"]: tag["Value"] for tag in tags}, user.get("Path")


def _function_variable(
    lambda_client: LambdaClient | None, function_arn: str | None, name: str
) -> str | None:
    if lambda_client is None or not function_arn:
        return None
    try:
        configuration = lambda_client.get_function_configuration(FunctionName=function_arn)
    except (ClientError, BotoCoreError):
        return None
    value = configuration.get("Environment", {}).get("Variables", {}).get(name)
    return str(value) if value else None


def _user_policies(iam: IAMClient, user_name: str) -> tuple[UserPolicy, ...]:
    """The user's inline policies and the managed ones under the product's IAM path (where
    the component puts the data-access policy that carries selfRead)."""
    policies = []
    for name in iam.list_user_policies(UserName=user_name).get("PolicyNames", []):
        document = iam.get_user_policy(UserName=user_name, PolicyName=name)["PolicyDocument"]
        policies.append(UserPolicy(f"inline policy {name}", _policy_document(document)))
    attached = iam.list_attached_user_policies(UserName=user_name, PathPrefix=IAM_PATH)
    for policy in attached.get("AttachedPolicies", []):
        arn = policy["PolicyArn"]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
            "Document"
        ]
        policies.append(UserPolicy(f"policy {arn}", _policy_document(document)))
    return tuple(policies)


def _policy_document(document: Any) -> dict[str, Any]:
    # boto3 decodes IAM policy documents; other clients hand over the URL-encoded JSON.
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    return document if isinstance(document, dict) else {}


def grace_from_function(lambda_client: LambdaClient, function_arn: str | None) -> timedelta | None:
    """PREVIOUS_KEY_GRACE_HOURS of the rotation function, or None if it cannot be read."""
    if not function_arn:
        return None
    try:
        configuration = lambda_client.get_function_configuration(FunctionName=function_arn)
        raw = configuration.get("Environment", {}).get("Variables", {})["PREVIOUS_KEY_GRACE_HOURS"]
        return timedelta(hours=float(raw))
    except Exception:  # noqa: BLE001 - optional refinement; the caller falls back to 24 h
        return None


# -- rotate ---------------------------------------------------------------------------------


def rotation_state(version_stages: dict[str, list[str]], token: str) -> str:
    """ "done", "running" or "abandoned" for the rotation whose version is ``token``."""
    stages = version_stages.get(token)
    if stages is None:
        return "abandoned"
    others_pending = any(
        PENDING in labels for version, labels in version_stages.items() if version != token
    )
    if CURRENT in stages:
        return "abandoned" if others_pending else "done"
    if PENDING not in stages or others_pending:
        return "abandoned"
    return "running"


def previous_key_in_grace_now(
    sm: SecretsManagerClient,
    iam: IAMClient,
    arn: str,
    version_stages: dict[str, list[str]],
    grace: timedelta,
    now: datetime,
) -> PreviousKeyInGrace | None:
    """The AWSPREVIOUS key if it is still Active inside its grace (counted from the moment
    AWSCURRENT's version became current), else None."""
    current = next((s for s in version_stages.values() if CURRENT in s), [])
    since = current_since(current)
    if not previous_key_in_grace(since, grace, now):
        return None
    _, previous, _ = read_version(sm, arn, stage=PREVIOUS)
    if previous is None or previous.access_key_id is None:
        return None
    try:
        listed = iam.list_access_keys(UserName=previous.user_name)["AccessKeyMetadata"]
    except ClientError as error:
        if _code(error) == "NoSuchEntity":
            return None
        raise
    status = {key["AccessKeyId"]: key["Status"] for key in listed}
    if status.get(previous.access_key_id) != "Active":
        return None
    return PreviousKeyInGrace(
        previous.user_name, previous.access_key_id, previous_key_retires_at(since, grace)
    )


def rotate(
    sm: SecretsManagerClient,
    secret_id: str,
    *,
    timeout: float = DEFAULT_ROTATION_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    iam: IAMClient | None = None,
    grace: timedelta = DEFAULT_GRACE,
    force: bool = False,
    now: datetime | None = None,
    logs: CloudWatchLogsClient | None = None,
    lambda_client: LambdaClient | None = None,
) -> RotationResult:
    """Start a rotation now and wait until AWSCURRENT has moved to its version.

    With ``iam``, first checks the AWSPREVIOUS key: a rotation deletes it, so while it is
    still Active inside its ``grace`` the rotation is refused, unless ``force``, which
    deactivates it first (``RotationResult.deactivated_first``). ``logs`` and
    ``lambda_client`` let a failing rotation be reported with the function's own error.
    """
    started = time.monotonic()
    described = sm.describe_secret(SecretId=secret_id)
    arn = described["ARN"]
    name = described.get("Name", secret_id)
    function_arn = described.get("RotationLambdaARN")
    if not function_arn:
        raise CommandError(
            f"secret {name} has no rotation function: deploy the component (`pulumi up`),"
            " which configures rotation, then rotate again"
        )
    if not described.get("RotationEnabled"):
        raise CommandError(
            f"rotation is disabled for secret {name}: the rotation function refuses to run;"
            " re-enable it with `pulumi up`"
        )
    stages = described.get("VersionIdsToStages", {})
    stuck = stuck_pending_version(stages)
    if stuck is not None:
        raise CommandError(_stuck_message(name, stuck))
    deactivated_first = None
    if iam is not None:
        in_grace = previous_key_in_grace_now(sm, iam, arn, stages, grace, now or datetime.now(UTC))
        if in_grace is not None and not force:
            raise CommandError(
                f"the previous key {in_grace.access_key_id} of user {in_grace.user_name} is"
                f" still Active inside its grace ({in_grace.describe()}): a rotation now would"
                " delete it, cutting off whatever still uses it. Wait until then, or pass"
                " --force to deactivate it first (if the current key leaked: `credrot revoke"
                f" {name}`)"
            )
        if in_grace is not None:
            iam.update_access_key(
                UserName=in_grace.user_name,
                AccessKeyId=in_grace.access_key_id,
                Status="Inactive",
            )
            deactivated_first = in_grace.access_key_id
    try:
        # Passing the function again: moto clears it otherwise; AWS accepts it either way.
        token = sm.rotate_secret(SecretId=arn, RotationLambdaARN=function_arn)["VersionId"]
    except ClientError as error:
        if _code(error) == "InvalidRequestException" and "complete" in str(error):
            raise CommandError(_stuck_message(name, "(another version)")) from None
        raise
    wait_for_rotation(
        sm,
        arn,
        token,
        timeout=timeout,
        started=started,
        sleep=sleep,
        name=name,
        failure=FailureSource(logs, lambda_client, function_arn),
    )
    _, current, _ = read_version(sm, arn, stage=CURRENT)
    _, previous, _ = read_version(sm, arn, stage=PREVIOUS)
    return RotationResult(
        secret_arn=arn,
        token=token,
        seconds=time.monotonic() - started,
        current_key_id=current.access_key_id if current else None,
        previous_key_id=previous.access_key_id if previous else None,
        deactivated_first=deactivated_first,
    )


@dataclass(frozen=True)
class FailureSource:
    """Where a failing rotation's cause can be read: the rotation function's log group
    (its LoggingConfig, else Lambda's default ``/aws/lambda/<name>``), whose failure lines
    (``"decision": "fail"``, written by rotation_lambda.handler) name the token."""

    logs: CloudWatchLogsClient | None = None
    lambda_client: LambdaClient | None = None
    function_arn: str | None = None

    def error_of(self, token: str, since: datetime) -> str | None:
        """The function's error for rotation ``token`` logged since ``since``, if any."""
        if self.logs is None or not self.function_arn:
            return None
        try:
            events = self.logs.filter_log_events(
                logGroupName=self._log_group(), startTime=int(since.timestamp() * 1000)
            ).get("events", [])
        except (ClientError, BotoCoreError):
            return None
        for event in reversed(events):
            failure = failure_in_log_line(str(event.get("message", "")), token)
            if failure is not None:
                return failure
        return None

    def _log_group(self) -> str:
        assert self.function_arn is not None
        if self.lambda_client is not None:
            try:
                configuration = self.lambda_client.get_function_configuration(
                    FunctionName=self.function_arn
                )
                group = configuration.get("LoggingConfig", {}).get("LogGroup")
                if group:
                    return str(group)
            except (ClientError, BotoCoreError):
                pass
        return f"/aws/lambda/{self.function_arn.split(':')[6]}"


def failure_in_log_line(line: str, token: str) -> str | None:
    """ "<step>: <error>: <message>" if ``line`` is the rotation function's failure line for
    ``token`` (a JSON object, possibly after Lambda's text prefix), else None."""
    start = line.find("{")
    if start < 0:
        return None
    try:
        fields = json.loads(line[start:])
    except ValueError:
        return None
    if not isinstance(fields, dict) or fields.get("token") != token:
        return None
    if fields.get("decision") != "fail":
        return None
    return f"{fields.get('step')}: {fields.get('error')}: {fields.get('message')}"


def wait_for_rotation(
    sm: SecretsManagerClient,
    arn: str,
    token: str,
    *,
    timeout: float,
    started: float,
    sleep: Callable[[float], None] = time.sleep,
    name: str | None = None,
    failure: FailureSource | None = None,
) -> None:
    """Poll DescribeSecret until the rotation ``token`` is done; raise if it cannot be.

    A failing rotation is noticed early rather than at ``timeout``: from the function's
    logged error, or when createSecret has stored no value ``NO_VALUE_STALL`` after start.
    """
    name = name or arn
    failure = failure or FailureSource()
    since = datetime.now(UTC) - timedelta(seconds=time.monotonic() - started + 5)
    last_log_check = -LOG_CHECK_EVERY
    for delay in _poll_delays():
        state = rotation_state(
            sm.describe_secret(SecretId=arn).get("VersionIdsToStages", {}), token
        )
        if state == "done":
            return
        if state == "abandoned":
            raise CommandError(
                f"rotation {token} of secret {name} was abandoned (its version is no longer"
                " pending and did not become AWSCURRENT): read the rotation function's logs,"
                f" then `credrot status {name}`"
            )
        elapsed = time.monotonic() - started
        if elapsed - last_log_check >= LOG_CHECK_EVERY:
            last_log_check = elapsed
            error = failure.error_of(token, since)
            if error is not None:
                raise CommandError(_failed_message(name, token, f"the function failed: {error}"))
        if elapsed >= NO_VALUE_STALL.total_seconds():
            has_value, _, _ = read_version(sm, arn, version_id=token)
            if not has_value:
                raise CommandError(
                    _failed_message(
                        name,
                        token,
                        f"createSecret stored no value in {elapsed:.0f} s (no progress: the"
                        " function is failing or not being invoked)",
                    )
                )
        if elapsed >= timeout:
            raise CommandError(
                f"rotation {token} of secret {name} did not finish within {timeout:g} s; it"
                " may still be running (Secrets Manager retries failed steps). Read the"
                f" rotation function's logs, check `credrot status {name}`, and if"
                f" it stays stuck, `credrot unstick {name}`",
                exit_code=EXIT_TIMEOUT,
            )
        sleep(min(delay, max(0.0, timeout - elapsed)))


def _failed_message(name: str, token: str, cause: str) -> str:
    return (
        f"rotation {token} of secret {name} is failing: {cause}. Secrets Manager retries it"
        " and every other rotation is refused until it completes: fix the cause, then"
        f" `credrot unstick {name}` and rotate again"
    )


def _poll_delays() -> Iterator[float]:
    delay = 0.2
    while True:
        yield delay
        delay = min(delay * 1.5, 2.0)


# -- revoke ---------------------------------------------------------------------------------


class WaitOptions(TypedDict, total=False):
    """What ``revoke`` passes on to ``rotate`` as it is (``rotate`` documents each)."""

    timeout: float
    sleep: Callable[[float], None]
    grace: timedelta
    logs: CloudWatchLogsClient | None
    lambda_client: LambdaClient | None


def revoke(
    sm: SecretsManagerClient, iam: IAMClient, secret_id: str, **options: Unpack[WaitOptions]
) -> RevokeResult:
    """Rotate, then deactivate the previous key at once (never the current one).

    The deliberate leak path: a key still in its grace from an earlier rotation (which this
    rotation must delete) is deactivated first, as ``rotate --force`` does.
    """
    rotation = rotate(sm, secret_id, iam=iam, force=True, **options)
    _, current, _ = read_version(sm, rotation.secret_arn, stage=CURRENT)
    _, previous, malformed = read_version(sm, rotation.secret_arn, stage=PREVIOUS)
    if current is None or current.access_key_id is None:
        raise CommandError(
            f"after rotating, secret {secret_id} has no current key: run"
            f" `credrot status {secret_id}`"
        )
    user = current.user_name
    if previous is None or previous.access_key_id is None:
        note = malformed or "the previous version records no key"
        return RevokeResult(rotation, user, None, f"nothing to deactivate: {note}")
    if previous.access_key_id == current.access_key_id:
        raise CommandError(
            f"AWSPREVIOUS and AWSCURRENT of secret {secret_id} record the same key"
            f" {current.access_key_id}; refusing to deactivate the current key"
        )
    try:
        iam.update_access_key(
            UserName=previous.user_name, AccessKeyId=previous.access_key_id, Status="Inactive"
        )
    except ClientError as error:
        if _code(error) != "NoSuchEntity":
            raise
        return RevokeResult(
            rotation,
            user,
            None,
            f"the previous key {previous.access_key_id} was already deleted",
        )
    return RevokeResult(
        rotation,
        user,
        previous.access_key_id,
        "the next rotation deletes it",
    )


# -- unstick --------------------------------------------------------------------------------


def unstick(
    sm: SecretsManagerClient,
    secret_id: str,
    *,
    force: bool = False,
    min_age: timedelta = DEFAULT_UNSTICK_MIN_AGE,
    now: datetime | None = None,
) -> UnstickResult | None:
    """Remove AWSPENDING from a version that is not AWSCURRENT; None if there is none.

    Refuses a pending version younger than ``min_age`` (a rotation may be running) unless
    ``force``. Never touches AWSCURRENT.
    """
    described = sm.describe_secret(SecretId=secret_id)
    arn = described["ARN"]
    name = described.get("Name", secret_id)
    stages = described.get("VersionIdsToStages", {})
    version_id = stuck_pending_version(stages)
    if version_id is None:
        return None
    if not force:
        created = next(
            (v.get("CreatedDate") for v in list_versions(sm, arn) if v["VersionId"] == version_id),
            None,
        )
        age = (now or datetime.now(UTC)) - created if created else None
        if age is None or age < min_age:
            known = f"{int(age.total_seconds())} s old" if age is not None else "of unknown age"
            raise CommandError(
                f"the AWSPENDING version {version_id} of secret {name} is {known}: a rotation"
                f" may still be running (Lambda runs up to {int(min_age.total_seconds())} s)."
                " Wait, or pass --force if you know it is abandoned"
            )
    has_value, record, _ = read_version(sm, arn, version_id=version_id)
    sm.update_secret_version_stage(
        SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=version_id
    )
    return UnstickResult(arn, version_id, record.access_key_id if record else None, has_value)


# -- helpers --------------------------------------------------------------------------------


def _stuck_message(name: str, version_id: str) -> str:
    return (
        f"a previous rotation of secret {name} isn't complete: version {version_id} is still"
        " AWSPENDING. Read the rotation function's logs, then run"
        f" `credrot unstick {name}` and rotate again"
    )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
