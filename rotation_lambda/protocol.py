"""The Secrets Manager rotation protocol for an IAM access key, plus the previous-key sweep.

One function per step, all with the signature (clients, state, settings); `guard` runs
before each of them, as in AWS's rotation template. Every step is safe to run twice, and
every deletion is justified by what the secret's own versions record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from rotation_lambda import propagation
from rotation_lambda.clients import Clients
from rotation_lambda.decisions import (
    AccessKey,
    KeyRole,
    classify_keys,
    grace_is_over,
    plan_deletions,
    unexplained_active_keys,
)
from rotation_lambda.errors import KeyTestError, SecretStateError, SecretValueError
from rotation_lambda.logs import error_fields, log_decision
from rotation_lambda.secret_value import SecretValue, parse_secret_value, require_user
from rotation_lambda.settings import Settings

Step = Literal["createSecret", "setSecret", "testSecret", "finishSecret"]
CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"


@dataclass(frozen=True)
class SecretState:
    """What the guard learnt from DescribeSecret, shared with the step it guards."""

    step: str
    arn: str
    token: str
    version_stages: dict[str, list[str]]

    def version_with(self, stage: str) -> str | None:
        """Id of the version carrying `stage`, if any."""
        for version_id, stages in self.version_stages.items():
            if stage in stages:
                return version_id
        return None

    def log(self, decision: str, outcome: str, **details: Any) -> None:
        """Log one decision of this step."""
        log_decision(
            step=self.step,
            secret=self.arn,
            token=self.token,
            decision=decision,
            outcome=outcome,
            **details,
        )


def guard(clients: Clients, step: str, secret_id: str, token: str) -> SecretState:
    """Check that the secret is rotating and `token` is a version staged for rotation."""
    described = clients.secretsmanager.describe_secret(SecretId=secret_id)
    arn = described.get("ARN", secret_id)
    if not described.get("RotationEnabled"):
        raise SecretStateError(
            f"rotation is not enabled for secret {arn}: enable it (RotateSecret with a"
            " RotationLambdaARN and RotationRules) before invoking this function"
        )
    stages = described.get("VersionIdsToStages", {})
    if token not in stages:
        raise SecretStateError(
            f"secret {arn} has no version {token!r} (ClientRequestToken): pass the token of"
            " the rotation Secrets Manager staged"
        )
    return SecretState(step, arn, token, stages)


def run_step(clients: Clients, step: Step, secret_id: str, token: str, settings: Settings) -> None:
    """Guard, then run one step; a token that is already AWSCURRENT is a finished rotation."""
    state = guard(clients, step, secret_id, token)
    stages = state.version_stages[token]
    if CURRENT in stages:
        if step == "finishSecret" and PENDING in stages:
            # A crash between moving AWSCURRENT and removing AWSPENDING: finish the cleanup.
            # AWS counts that state as complete, but a leftover label misleads operators and
            # tools (moto refuses the next rotation), and this step promises no AWSPENDING.
            _remove_pending(clients, state)
            state.log("remove-leftover-pending-label", "done")
            return
        state.log("token-already-current", "no-op")
        return
    if PENDING not in stages:
        raise SecretStateError(
            f"version {token!r} of secret {state.arn} is not AWSPENDING (stages {stages}):"
            " it is not a rotation in progress; start one with RotateSecret"
        )
    STEPS[step](clients, state, settings)


def create_secret(clients: Clients, state: SecretState, settings: Settings) -> None:
    """Mint a new access key and record it as the AWSPENDING value of the token's version.

    Keeps the user within IAM's 2-key limit by deleting only keys the secret proves are
    not current, gathering that evidence lazily (each read only if still needed).
    """
    sm = clients.secretsmanager
    pending = _get_value(sm, state.arn, version_id=state.token, stage=PENDING)
    if pending is not None:
        value = parse_secret_value(pending, _where(state, PENDING))
        require_user(value, settings.iam_user_name, _where(state, PENDING))
        state.log("pending-value-exists", "no-op", key_ids=_key_ids(value))
        return

    current_response = _get_value(sm, state.arn, stage=CURRENT)
    if current_response is None:
        raise SecretStateError(
            f"secret {state.arn} has no AWSCURRENT value: put a bootstrap"
            f' value {{"UserName": "{settings.iam_user_name}"}}'
        )
    current = parse_secret_value(current_response, _where(state, CURRENT))
    # Refuse a foreign user before the first IAM call.
    require_user(current, settings.iam_user_name, _where(state, CURRENT))

    iam = clients.iam
    listed = iam.list_access_keys(UserName=settings.iam_user_name)["AccessKeyMetadata"]
    keys = [
        AccessKey(item["AccessKeyId"], item["Status"] == "Active", item["CreateDate"])
        for item in listed
    ]
    roles = _gather_evidence(clients, state, settings, keys, current.access_key_id)

    for key_id, role in plan_deletions(keys, roles):
        iam.delete_access_key(UserName=settings.iam_user_name, AccessKeyId=key_id)
        state.log("delete-key", "done", key_ids=[key_id], reason=role.value)

    existing = {key.key_id for key in keys}
    try:
        response = iam.create_access_key(UserName=settings.iam_user_name)
    except Exception:
        # A lost response (read timeout, dropped connection) may hide a key IAM did create,
        # recorded nowhere: if this rotation were then abandoned, nothing could prove it ours.
        _delete_keys_from_lost_attempts(iam, state, settings, existing, keep=None)
        raise
    created = response["AccessKey"]
    key_id = created["AccessKeyId"]
    if response.get("ResponseMetadata", {}).get("RetryAttempts"):
        # botocore retried CreateAccessKey: an attempt whose response was lost may have
        # minted a key too. Costs a listing only when a retry happened.
        _delete_keys_from_lost_attempts(iam, state, settings, existing, keep=key_id)
    new_value = SecretValue(settings.iam_user_name, key_id, created["SecretAccessKey"])
    try:
        sm.put_secret_value(
            SecretId=state.arn,
            ClientRequestToken=state.token,
            SecretString=new_value.to_json(),
            VersionStages=[PENDING],
        )
    except Exception as put_error:
        if _pending_records(sm, state, key_id):
            # The value was stored but every response got lost: the key is recorded, keep it.
            state.log("create-key", "done", key_ids=[key_id], **error_fields(put_error))
            return
        state.log(
            "record-pending-value",
            "failed",
            key_ids=[key_id],
            level=logging.ERROR,
            **error_fields(put_error),
        )
        # An unrecorded key would be a leak: remove it, then let Secrets Manager retry.
        _delete_unrecorded_key(iam, state, settings, key_id)
        raise
    state.log("create-key", "done", key_ids=[key_id])


def _delete_keys_from_lost_attempts(
    iam: Any, state: SecretState, settings: Settings, existing: set[str], keep: str | None
) -> None:
    """Delete keys minted by CreateAccessKey attempts whose responses were lost.

    Proof of ownership: a key absent from the listing taken just before this step's
    CreateAccessKey and present right after it was minted by that call. Best effort: a
    failure is logged; a retry with the same token still recognises such keys by date.
    """
    try:
        listed = iam.list_access_keys(UserName=settings.iam_user_name)["AccessKeyMetadata"]
        for item in listed:
            key_id = item["AccessKeyId"]
            if key_id in existing or key_id == keep:
                continue
            iam.delete_access_key(UserName=settings.iam_user_name, AccessKeyId=key_id)
            state.log("delete-key-from-lost-attempt", "done", key_ids=[key_id])
    except (BotoCoreError, ClientError) as cleanup_error:
        state.log(
            "delete-key-from-lost-attempt",
            "failed",
            level=logging.ERROR,
            **error_fields(cleanup_error),
        )


def _pending_records(sm: Any, state: SecretState, key_id: str) -> bool:
    """Whether the token's AWSPENDING value records `key_id` (False if that is unknowable)."""
    try:
        response = _get_value(sm, state.arn, version_id=state.token, stage=PENDING)
    except (BotoCoreError, ClientError):
        return False
    if response is None:
        return False
    try:
        return parse_secret_value(response, _where(state, PENDING)).access_key_id == key_id
    except SecretValueError:
        return False


def _delete_unrecorded_key(iam: Any, state: SecretState, settings: Settings, key_id: str) -> None:
    """Best-effort cleanup after a failed put; a failure here is logged, not raised."""
    try:
        iam.delete_access_key(UserName=settings.iam_user_name, AccessKeyId=key_id)
    except (BotoCoreError, ClientError) as cleanup_error:
        # Not fatal: the retry recognises this key as its own (created after its version).
        state.log(
            "delete-unrecorded-key",
            "failed",
            key_ids=[key_id],
            level=logging.ERROR,
            **error_fields(cleanup_error),
        )
    else:
        state.log("delete-unrecorded-key", "done", key_ids=[key_id])


def _gather_evidence(
    clients: Clients,
    state: SecretState,
    settings: Settings,
    keys: list[AccessKey],
    current_key_id: str | None,
) -> dict[str, KeyRole]:
    """Classify the user's keys, reading more of the secret only while an Active key is
    unexplained: first AWSPREVIOUS, then every other version."""
    roles = classify_keys(keys, current_key_id=current_key_id)
    if not unexplained_active_keys(roles):
        return roles

    sm = clients.secretsmanager
    previous_key_id = None
    previous_version = state.version_with(PREVIOUS)
    if previous_version is not None:
        response = _get_value(sm, state.arn, stage=PREVIOUS)
        if response is not None:
            previous = parse_secret_value(response, _where(state, PREVIOUS))
            require_user(previous, settings.iam_user_name, _where(state, PREVIOUS))
            previous_key_id = previous.access_key_id
    roles = classify_keys(keys, current_key_id=current_key_id, previous_key_id=previous_key_id)
    if not unexplained_active_keys(roles):
        return roles

    versions = list_versions(sm, state.arn)
    # The token's version has no value yet (checked by the caller): its date bounds the
    # creation time of a key that a crashed attempt made but never recorded.
    token_created = next(
        (v.get("CreatedDate") for v in versions if v["VersionId"] == state.token), None
    )
    unexplained = set(unexplained_active_keys(roles))
    abandoned: set[str] = set()
    skip = {state.token, state.version_with(CURRENT), previous_version}
    # Newest first (ties: last listed first): an abandoned attempt is most likely recent;
    # stop reading as soon as every Active key is explained.
    for version in sorted(reversed(versions), key=_created, reverse=True):
        if not unexplained:
            break
        if version["VersionId"] in skip:
            continue
        key_id = _recorded_key(sm, state, settings, version["VersionId"])
        if key_id is not None:
            abandoned.add(key_id)
            unexplained.discard(key_id)
    return classify_keys(
        keys,
        current_key_id=current_key_id,
        previous_key_id=previous_key_id,
        abandoned_key_ids=abandoned,
        token_created=token_created,
    )


def _created(version: dict[str, Any]) -> float:
    created = version.get("CreatedDate")
    return created.timestamp() if isinstance(created, datetime) else 0.0


def _recorded_key(sm: Any, state: SecretState, settings: Settings, version_id: str) -> str | None:
    """The key an abandoned version records for our user, or None if it proves nothing."""
    response = _get_value(sm, state.arn, version_id=version_id)
    if response is None:
        return None
    try:
        value = parse_secret_value(response, f"version {version_id} of secret {state.arn}")
    except SecretValueError:
        # A malformed old version is no evidence either way; it must not block rotation.
        state.log("ignore-malformed-version", "skipped", version=version_id)
        return None
    if value.user_name != settings.iam_user_name:
        state.log("ignore-foreign-version", "skipped", version=version_id)
        return None
    return value.access_key_id


def set_secret(clients: Clients, state: SecretState, settings: Settings) -> None:
    """Nothing to set: an IAM access key is live as soon as it is created.

    The pending value is deliberately not read here: testSecret reads and validates it,
    so reading it twice would be a wasted API call.
    """
    state.log("nothing-to-set", "no-op")


def test_secret(clients: Clients, state: SecretState, settings: Settings) -> None:
    """Prove the pending key authenticates as exactly IAM_USER_NAME's ARN (path included).

    "No exception" is not a pass: some emulators answer for unknown keys with another
    principal. Propagation errors are retried with backoff until the timeout.
    """
    response = _get_value(clients.secretsmanager, state.arn, version_id=state.token, stage=PENDING)
    if response is None:
        raise SecretStateError(
            f"version {state.token} of secret {state.arn} has no AWSPENDING value: createSecret"
            " has not completed; let Secrets Manager retry the rotation"
        )
    pending = parse_secret_value(response, _where(state, PENDING))
    require_user(pending, settings.iam_user_name, _where(state, PENDING))
    if pending.access_key_id is None or pending.secret_access_key is None:
        raise SecretValueError(f"{_where(state, PENDING)} holds no access key: nothing to test")

    expected_arn = (
        settings.iam_user_arn
        or clients.iam.get_user(UserName=settings.iam_user_name)["User"]["Arn"]
    )
    sts = clients.sts_with_key(pending.access_key_id, pending.secret_access_key)

    def on_retry(error: ClientError, delay: float) -> None:
        state.log(
            "wait-for-key-propagation",
            "retrying",
            key_ids=_key_ids(pending),
            delay_seconds=round(delay, 3),
            **error_fields(error),
        )

    try:
        identity = propagation.retry_until_propagated(
            sts.get_caller_identity, settings.propagation_timeout_seconds, on_retry
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in propagation.PROPAGATION_ERROR_CODES:
            raise
        raise KeyTestError(
            f"pending key {pending.access_key_id} of user {settings.iam_user_name} was still"
            f" rejected after {settings.propagation_timeout_seconds:g} s"
            f" ({error.response['Error'].get('Code')}); AWSCURRENT is unchanged. If the key"
            " was deleted or deactivated, remove AWSPENDING from version"
            f" {state.token} and rotate again; if IAM is slow, raise PROPAGATION_TIMEOUT_SECONDS"
        ) from error
    if identity.get("Arn") != expected_arn:
        raise KeyTestError(
            f"pending key {pending.access_key_id} authenticates as {identity.get('Arn')!r}, not"
            f" {expected_arn!r}; AWSCURRENT is unchanged. Remove AWSPENDING from version"
            f" {state.token} and rotate again"
        )
    state.log("test-key", "passed", key_ids=_key_ids(pending), arn=expected_arn)


# The step keeps AWS's name; this stops pytest from collecting it when a test imports it.
test_secret.__test__ = False  # type: ignore[attr-defined]


def finish_secret(clients: Clients, state: SecretState, settings: Settings) -> None:
    """Move AWSCURRENT to the token's version, then remove AWSPENDING from it.

    The old version becomes AWSPREVIOUS (Secrets Manager does that) and its key stays
    Active, so apps that cached it keep working until the RetirePreviousKey sweep.
    """
    old_current = state.version_with(CURRENT)
    clients.secretsmanager.update_secret_version_stage(
        SecretId=state.arn,
        VersionStage=CURRENT,
        MoveToVersionId=state.token,
        RemoveFromVersionId=old_current,
    )
    _remove_pending(clients, state)
    state.log("promote-pending-version", "done", previous_version=old_current)


def _remove_pending(clients: Clients, state: SecretState) -> None:
    clients.secretsmanager.update_secret_version_stage(
        SecretId=state.arn, VersionStage=PENDING, RemoveFromVersionId=state.token
    )


STEPS: dict[str, Callable[[Clients, SecretState, Settings], None]] = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}


def retire_previous_key(
    clients: Clients, secret_id: str, settings: Settings, now: datetime | None = None
) -> str:
    """Deactivate the AWSPREVIOUS key once AWSCURRENT is older than the grace period.

    Idempotent and harmless before the first rotation; never touches the current key.
    Returns the decision taken.
    """
    sm = clients.secretsmanager

    def log(decision: str, outcome: str, **details: Any) -> str:
        log_decision(
            step="RetirePreviousKey",
            secret=secret_id,
            decision=decision,
            outcome=outcome,
            **details,
        )
        return decision

    current_response = _get_value(sm, secret_id, stage=CURRENT)
    if current_response is None:
        raise SecretStateError(
            f"secret {secret_id} has no AWSCURRENT value: nothing to retire"
            " from; put a bootstrap value first"
        )
    where = f"AWSCURRENT value of secret {secret_id}"
    current = parse_secret_value(current_response, where)
    require_user(current, settings.iam_user_name, where)
    now = now or datetime.now(UTC)
    if not grace_is_over(current_response["CreatedDate"], now, settings.previous_key_grace):
        return log("grace-not-over", "no-op", key_ids=_key_ids(current))

    previous_response = _get_value(sm, secret_id, stage=PREVIOUS)
    if previous_response is None:
        return log("no-previous-version", "no-op")
    where = f"AWSPREVIOUS value of secret {secret_id}"
    previous = parse_secret_value(previous_response, where)
    require_user(previous, settings.iam_user_name, where)
    if previous.access_key_id is None:
        return log("previous-has-no-key", "no-op")
    if previous.access_key_id == current.access_key_id:
        return log("previous-key-is-current", "no-op", key_ids=_key_ids(current))
    try:
        clients.iam.update_access_key(
            UserName=settings.iam_user_name, AccessKeyId=previous.access_key_id, Status="Inactive"
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        return log("previous-key-already-deleted", "no-op", key_ids=_key_ids(previous))
    return log("deactivate-previous-key", "done", key_ids=_key_ids(previous))


def _get_value(
    sm: Any, secret_id: str, *, stage: str | None = None, version_id: str | None = None
) -> dict[str, Any] | None:
    """GetSecretValue, or None when that version or stage has no value.

    Callers always name a stage or a version: a bare SecretId could be answered from a
    stale default version by some emulators.
    """
    params = {"SecretId": secret_id}
    if version_id is not None:
        params["VersionId"] = version_id
    if stage is not None:
        params["VersionStage"] = stage
    try:
        response: dict[str, Any] = sm.get_secret_value(**params)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    return response


def list_versions(sm: Any, secret_id: str) -> list[dict[str, Any]]:
    """All versions, including deprecated (unlabelled) ones that may record a stray key."""
    versions: list[dict[str, Any]] = []
    params: dict[str, Any] = {"SecretId": secret_id, "IncludeDeprecated": True}
    while True:
        page = sm.list_secret_version_ids(**params)
        versions.extend(page.get("Versions", []))
        if not page.get("NextToken"):
            return versions
        params["NextToken"] = page["NextToken"]


def _where(state: SecretState, stage: str) -> str:
    """Names a version in error messages."""
    version = f" (version {state.token})" if stage == PENDING else ""
    return f"{stage} value{version} of secret {state.arn}"


def _key_ids(value: SecretValue) -> list[str]:
    return [value.access_key_id] if value.access_key_id else []
