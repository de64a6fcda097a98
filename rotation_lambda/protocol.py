"""The Secrets Manager rotation protocol for an IAM access key, the sweep and the first key.

One function per step, all with the signature (clients, state, settings), each after
`guard`, as in AWS's rotation template. Every step is safe to run twice, even at once
(delivery is at least once), and every deletion or deactivation is justified by what the
secret's own versions record (`decisions`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from rotation_lambda import clock, propagation
from rotation_lambda.clients import Clients
from rotation_lambda.decisions import (
    AccessKey,
    KeyRole,
    active_keys_to_explain,
    classify_keys,
    current_since,
    current_since_label,
    grace_is_over,
    is_current_since_label,
    keys_to_retire,
    plan_deletions,
)
from rotation_lambda.errors import (
    KeyInGraceError,
    KeyTestError,
    SecretStateError,
    SecretValueError,
)
from rotation_lambda.logs import error_fields, log_decision
from rotation_lambda.secret_value import (
    CURRENT,
    PENDING,
    PREVIOUS,
    SecretValue,
    parse_secret_value,
    require_user,
)
from rotation_lambda.settings import Settings, bind

if TYPE_CHECKING:
    from types_boto3_iam import IAMClient
    from types_boto3_iam.type_defs import AccessKeyTypeDef
    from types_boto3_secretsmanager import SecretsManagerClient
    from types_boto3_secretsmanager.type_defs import (
        DescribeSecretResponseTypeDef,
        GetSecretValueRequestTypeDef,
        GetSecretValueResponseTypeDef,
        ListSecretVersionIdsRequestTypeDef,
        SecretVersionsListEntryTypeDef,
        UpdateSecretVersionStageRequestTypeDef,
    )

Step = Literal["createSecret", "setSecret", "testSecret", "finishSecret"]
# The tag on the IAM user naming the one secret allowed to rotate its keys. The deployer
# sets it; the function only reads it (components.contract keeps the same name).
USER_SECRET_TAG = "ai-credential-rotation:secret"  # noqa: S105 (a tag key, not a password)


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

    def stages_of(self, version_id: str | None) -> list[str]:
        """The labels of one version ([] for an unknown or absent version)."""
        return self.version_stages.get(version_id, []) if version_id else []

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


def describe(
    clients: Clients, secret_id: str, settings: Settings
) -> tuple[DescribeSecretResponseTypeDef, Settings]:
    """DescribeSecret, and `settings` bound to that secret; an error if it does not exist
    or is not this function's."""
    try:
        described = clients.secretsmanager.describe_secret(SecretId=secret_id)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        raise SecretStateError(
            f"secret {secret_id[:512]} does not exist (or is scheduled for deletion) in this"
            " account and region: check the SecretId, or restore the secret"
        ) from None
    settings = bind(settings, described)
    arn = described.get("ARN", secret_id)
    if settings.secret_arn is not None and arn != settings.secret_arn:
        # Two secrets naming the same user must never rotate, and so delete, each other's
        # keys: the function serves exactly the secret it was deployed for.
        raise SecretStateError(
            f"secret {arn} is not the secret this function rotates ({settings.secret_arn},"
            " SECRET_ARN): point the secret's rotation at its own consumer's function"
        )
    return described, settings


def guard(
    clients: Clients, step: str, secret_id: str, token: str, settings: Settings
) -> tuple[SecretState, Settings]:
    """Check that the secret is rotating and `token` is a version staged for rotation; also
    returns the settings bound to the secret."""
    described, settings = describe(clients, secret_id, settings)
    arn = described.get("ARN", secret_id)
    if not described.get("RotationEnabled"):
        raise SecretStateError(
            f"rotation is not enabled for secret {arn}: enable it (RotateSecret with a"
            " RotationLambdaARN and RotationRules) before invoking this function"
        )
    stages = described.get("VersionIdsToStages", {})
    if token not in stages:
        raise SecretStateError(
            f"secret {arn} has no version {token[:64]!r} (ClientRequestToken): pass the token of"
            " the rotation Secrets Manager staged"
        )
    return SecretState(step, arn, token, stages), settings


def run_step(clients: Clients, step: Step, secret_id: str, token: str, settings: Settings) -> None:
    """Guard, then run one step; a token that is already AWSCURRENT is a finished rotation."""
    state, settings = guard(clients, step, secret_id, token, settings)
    stages = state.version_stages[token]
    if CURRENT in stages:
        if step == "finishSecret":
            # A duplicate finishSecret, or a retry after a crash between moving AWSCURRENT
            # and the rest: complete whatever the first one did not.
            _complete_finish(clients, state)
            return
        state.log("token-already-current", "no-op")
        return
    if PENDING not in stages:
        raise SecretStateError(
            f"version {token!r} of secret {state.arn} is not AWSPENDING (stages {stages}):"
            " it is not a rotation in progress; start one with RotateSecret"
        )
    STEPS[step](clients, state, settings)


# --- createSecret ------------------------------------------------------------------------


def create_secret(clients: Clients, state: SecretState, settings: Settings) -> None:
    """Mint a new access key and record it as the token's AWSPENDING value.

    Room under IAM's 2-key limit comes only from keys the secret proves are not current and
    past their grace (`decisions.plan_deletions`). If a duplicate invocation records the
    token's value first, this one converges on that value instead of failing.
    """
    sm = clients.secretsmanager
    if _pending_value(sm, state, settings) is not None:
        state.log("pending-value-exists", "no-op")
        return
    try:
        _create_and_record(clients, state, settings)
    except Exception:
        if _pending_value_or_none(sm, state, settings) is None:
            raise
        # A concurrent invocation recorded the token's value meanwhile; ours cleaned up
        # after itself (see _mint_key/_record_pending), so this rotation goes on from there.
        state.log("pending-value-recorded-by-another-invocation", "no-op")


def _create_and_record(clients: Clients, state: SecretState, settings: Settings) -> None:
    current = _current_value(clients.secretsmanager, state.arn, settings)
    iam = clients.iam
    _check_user_binding(iam, settings, state.arn)
    keys = _list_keys(iam, settings)
    roles = _roles(clients, state, settings, keys, current.access_key_id)
    since = current_since(state.stages_of(state.version_with(CURRENT)))
    grace = settings.previous_key_grace
    try:
        deletions = plan_deletions(
            keys,
            roles,
            grace_over=grace_is_over(since, clock.now(), grace),
            grace_ends=since + grace if since is not None else None,
        )
    except KeyInGraceError as error:
        if since is None:
            # Grace starts now, not never: the sweep and the next rotation count from here.
            _mark_current_since(clients.secretsmanager, state, clock.now())
        state.log("no-room-key-in-grace", "refused", key_ids=list(error.key_ids))
        raise
    for key_id, role in deletions:
        _delete_key(iam, state, settings, key_id, reason=role.value)

    existing = {key.key_id for key in keys} - {key_id for key_id, _ in deletions}
    created = _mint_key(iam, state, settings, existing)
    _record_pending(clients, state, settings, created)


def _check_user_binding(iam: IAMClient, settings: Settings, secret_arn: str) -> None:
    """Refuse, before any IAM write, a user whose binding tag names another secret: two
    secrets naming one user would otherwise retire each other's current keys. Runs whenever
    the settings name the secret (SECRET_ARN, or shared mode: always).
    """
    if settings.secret_arn is None:
        return
    tags = iam.list_user_tags(UserName=settings.iam_user_name).get("Tags", [])
    bound = next((tag["Value"] for tag in tags if tag["Key"] == USER_SECRET_TAG), None)
    if bound != secret_arn:
        raise SecretStateError(
            f"IAM user {settings.iam_user_name} is bound to secret {str(bound)[:512]} (its tag"
            f" {USER_SECRET_TAG}), not to {secret_arn}, so it refuses to touch its keys: point"
            " this secret at its own user, or re-deploy (`pulumi up`) to restore the tags"
        )


def _roles(
    clients: Clients,
    state: SecretState,
    settings: Settings,
    keys: list[AccessKey],
    current_key_id: str | None,
) -> dict[str, KeyRole]:
    """Classify the user's keys, reading old versions only while an Active key needs it."""
    wanted = active_keys_to_explain(keys, current_key_id)
    previous, older = (
        _recorded_keys(clients.secretsmanager, state, settings, wanted)
        if wanted
        else (set(), set())
    )
    return classify_keys(
        keys, current_key_id=current_key_id, previous_key_ids=previous, older_key_ids=older
    )


def _delete_key(
    iam: IAMClient, state: SecretState, settings: Settings, key_id: str, reason: str
) -> None:
    try:
        iam.delete_access_key(UserName=settings.iam_user_name, AccessKeyId=key_id)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        # Already gone (a concurrent invocation, or a person): the room is there.
        state.log("delete-key", "already-deleted", key_ids=[key_id], reason=reason)
        return
    state.log("delete-key", "done", key_ids=[key_id], reason=reason)


def _mint_key(
    iam: IAMClient, state: SecretState, settings: Settings, existing: set[str]
) -> AccessKeyTypeDef:
    """CreateAccessKey; a key that a call of unknown outcome may have minted is deleted.

    Proof of ownership: absent from `existing` (the listing just before the call, less what
    was deleted) and present right after it. A definite refusal minted nothing.
    """
    try:
        response = iam.create_access_key(UserName=settings.iam_user_name)
    except Exception as error:
        if _outcome_unknown(error):
            _delete_keys_minted_by_this_call(iam, state, settings, existing, keep=None)
        raise
    created = response["AccessKey"]
    if response.get("ResponseMetadata", {}).get("RetryAttempts"):
        # botocore retried CreateAccessKey: an attempt whose response was lost may have
        # minted a key too. Costs a listing only when a retry happened.
        _delete_keys_minted_by_this_call(
            iam, state, settings, existing, keep=created["AccessKeyId"]
        )
    return created


def _outcome_unknown(error: BaseException) -> bool:
    """Whether a failed call may have been performed by AWS all the same."""
    if not isinstance(error, ClientError):
        return True  # connection dropped, read timeout...: the request may have landed
    metadata = error.response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode") or 500
    # A retried call's earlier attempts may have been performed even if the last was refused.
    return status >= 500 or bool(metadata.get("RetryAttempts"))


def _delete_keys_minted_by_this_call(
    iam: IAMClient, state: SecretState, settings: Settings, existing: set[str], keep: str | None
) -> None:
    """Delete the keys present now that were not there before the call (but `keep`).

    Best effort: a failure is logged; the next attempt refuses such a key by name.
    """
    try:
        listed = _list_keys(iam, settings)
        for key in listed:
            if key.key_id in existing or key.key_id == keep:
                continue
            iam.delete_access_key(UserName=settings.iam_user_name, AccessKeyId=key.key_id)
            state.log("delete-key-from-lost-attempt", "done", key_ids=[key.key_id])
    except (BotoCoreError, ClientError) as cleanup_error:
        state.log(
            "delete-key-from-lost-attempt",
            "failed",
            level=logging.ERROR,
            **error_fields(cleanup_error),
        )


def _record_pending(
    clients: Clients, state: SecretState, settings: Settings, created: AccessKeyTypeDef
) -> None:
    """PutSecretValue of the new key as the token's AWSPENDING value; on failure, the key in
    hand is deleted unless the value turns out stored."""
    sm, key_id = clients.secretsmanager, created["AccessKeyId"]
    new_value = SecretValue(settings.iam_user_name, key_id, created["SecretAccessKey"])
    try:
        sm.put_secret_value(
            SecretId=state.arn,
            ClientRequestToken=state.token,
            SecretString=new_value.to_json(),
            VersionStages=[PENDING],
        )
    except Exception as put_error:
        recorded = _pending_value_or_none(sm, state, settings)
        if recorded is not None and recorded.access_key_id == key_id:
            # Stored, but every response got lost: the key is recorded, keep it.
            state.log("create-key", "done", key_ids=[key_id], **error_fields(put_error))
            return
        state.log(
            "record-pending-value",
            "failed",
            key_ids=[key_id],
            level=logging.ERROR,
            **error_fields(put_error),
        )
        # The key is in hand and recorded nowhere: proven ours, and a leak if kept.
        _delete_unrecorded_key(clients.iam, state, settings, key_id)
        raise
    state.log("create-key", "done", key_ids=[key_id])


def _delete_unrecorded_key(
    iam: IAMClient, state: SecretState, settings: Settings, key_id: str
) -> None:
    """Best-effort cleanup after a failed put; a failure here is logged, not raised."""
    try:
        iam.delete_access_key(UserName=settings.iam_user_name, AccessKeyId=key_id)
    except (BotoCoreError, ClientError) as cleanup_error:
        # Not fatal for safety: the retry refuses this unrecorded key by name.
        state.log(
            "delete-unrecorded-key",
            "failed",
            key_ids=[key_id],
            level=logging.ERROR,
            **error_fields(cleanup_error),
        )
    else:
        state.log("delete-unrecorded-key", "done", key_ids=[key_id])


def _pending_value(
    sm: SecretsManagerClient, state: SecretState, settings: Settings
) -> SecretValue | None:
    """The token's AWSPENDING value, checked, or None while it has none."""
    response = _get_value(sm, state.arn, version_id=state.token, stage=PENDING)
    if response is None:
        return None
    value = parse_secret_value(response, _where(state, PENDING))
    require_user(value, settings.iam_user_name, _where(state, PENDING))
    return value


def _pending_value_or_none(
    sm: SecretsManagerClient, state: SecretState, settings: Settings
) -> SecretValue | None:
    """`_pending_value`, or None if it cannot be read either (used after a failure)."""
    try:
        return _pending_value(sm, state, settings)
    except (BotoCoreError, ClientError, SecretValueError):
        return None


def _recorded_keys(
    sm: SecretsManagerClient, state: SecretState, settings: Settings, wanted: set[str]
) -> tuple[set[str], set[str]]:
    """Which of `wanted` AWSPREVIOUS records, and which only older versions record.

    Reads AWSPREVIOUS, then the other versions that are not live, newest first, until all of
    `wanted` are found. A malformed or foreign old version proves nothing, blocks nothing.
    """
    live = {
        version_id
        for version_id, stages in state.version_stages.items()
        if CURRENT in stages or PENDING in stages
    }
    found: set[str] = set()

    def read(version_id: str) -> None:
        key_id = _recorded_key(sm, state, settings, version_id)
        if key_id in wanted:
            found.add(key_id)

    previous = state.version_with(PREVIOUS)
    if previous is not None and previous not in live:
        read(previous)
    previous_keys = set(found)
    if found >= wanted:
        return previous_keys, set()
    versions = list_versions(sm, state.arn)
    # A version the listing shows as current or pending (a rotation finished meanwhile) is
    # live too: its key must never look retired.
    live |= {
        v["VersionId"] for v in versions if {CURRENT, PENDING} & set(v.get("VersionStages", []))
    }
    # Newest first (ties: last listed first): a stray is most likely recent.
    for version in sorted(reversed(versions), key=_created, reverse=True):
        if found >= wanted:
            break
        version_id = version["VersionId"]
        if version_id not in live and version_id != previous:
            read(version_id)
    return previous_keys, found - previous_keys


def _created(version: SecretVersionsListEntryTypeDef) -> float:
    created = version.get("CreatedDate")
    return created.timestamp() if isinstance(created, datetime) else 0.0


def _recorded_key(
    sm: SecretsManagerClient, state: SecretState, settings: Settings, version_id: str
) -> str | None:
    """The key an old version records for our user, or None if it proves nothing."""
    response = _get_value(sm, state.arn, version_id=version_id)
    if response is None:
        return None
    try:
        value = parse_secret_value(response, f"version {version_id} of secret {state.arn}")
    except SecretValueError:
        state.log("ignore-malformed-version", "skipped", version=version_id)
        return None
    if value.user_name != settings.iam_user_name:
        state.log("ignore-foreign-version", "skipped", version=version_id)
        return None
    return value.access_key_id


def _list_keys(iam: IAMClient, settings: Settings) -> list[AccessKey]:
    listed = iam.list_access_keys(UserName=settings.iam_user_name)["AccessKeyMetadata"]
    return [
        AccessKey(item["AccessKeyId"], item["Status"] == "Active", item["CreateDate"])
        for item in listed
    ]


def _current_value(sm: SecretsManagerClient, secret_arn: str, settings: Settings) -> SecretValue:
    """AWSCURRENT's value, checked; a secret with none yet counts as the bootstrap value."""
    response = _get_value(sm, secret_arn, stage=CURRENT)
    where = f"AWSCURRENT value of secret {secret_arn}"
    if response is None:
        return SecretValue(settings.iam_user_name)
    value = parse_secret_value(response, where)
    # Refuse a foreign user before the first IAM call.
    require_user(value, settings.iam_user_name, where)
    return value


# --- setSecret, testSecret ---------------------------------------------------------------


def set_secret(clients: Clients, state: SecretState, settings: Settings) -> None:
    """Nothing to set: an IAM access key is live once created. The pending value is not
    read here: testSecret reads it, and a second read would be a wasted call."""
    state.log("nothing-to-set", "no-op")


def test_secret(clients: Clients, state: SecretState, settings: Settings) -> None:
    """Prove the pending key authenticates as exactly IAM_USER_ARN (path included).

    With no pending value, this is Secrets Manager's configuration test (RotateSecret with
    RotateImmediately=false, on every change of the rules): it proves the current key (if
    any) instead.
    """
    pending = _pending_value(clients.secretsmanager, state, settings)
    if pending is None:
        current = _current_value(clients.secretsmanager, state.arn, settings)
        if not current.has_key:
            # Deploys enable rotation first (the role may touch a secret only once its
            # rotation names the function); ProvisionKey then mints and proves the key.
            state.log("configuration-test", "passed-no-key-yet")
            return
        if not _key_is_active(clients, settings, current):
            raise KeyTestError(
                f"configuration test of secret {state.arn}: the current key"
                f" {current.access_key_id} is not an Active key of user"
                f" {settings.iam_user_name} (deleted or deactivated by hand?): run"
                " `credrot status` and `credrot rotate` to give the secret a working key"
            )
        _prove_key(clients, settings, current, "current", state.log)
        state.log("configuration-test", "passed", key_ids=_key_ids(current))
        return
    if not pending.has_key:
        raise SecretValueError(f"{_where(state, PENDING)} holds no access key: nothing to test")
    _prove_key(clients, settings, pending, "pending", state.log)
    state.log("test-key", "passed", key_ids=_key_ids(pending), arn=settings.iam_user_arn)


# The step keeps AWS's name; this stops pytest from collecting it when a test imports it.
test_secret.__test__ = False  # type: ignore[attr-defined]


def _prove_key(
    clients: Clients,
    settings: Settings,
    value: SecretValue,
    which: str,
    log: Callable[..., None],
) -> None:
    """Require `value`'s key to authenticate as exactly IAM_USER_ARN, waiting out IAM
    propagation. "No exception" is not a pass: some emulators answer for unknown keys with
    another principal."""
    assert value.access_key_id is not None and value.secret_access_key is not None
    sts = clients.sts_with_key(value.access_key_id, value.secret_access_key)

    def on_retry(error: ClientError, delay: float) -> None:
        log(
            "wait-for-key-propagation",
            "retrying",
            key_ids=_key_ids(value),
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
            f"{which} key {value.access_key_id} of user {settings.iam_user_name} was still"
            f" rejected after {settings.propagation_timeout_seconds:g} s"
            f" ({error.response['Error'].get('Code')}); AWSCURRENT is unchanged. If the key"
            " was deleted or deactivated, remove AWSPENDING (`credrot unstick`) and rotate"
            " again; if IAM is slow, raise PROPAGATION_TIMEOUT_SECONDS"
        ) from error
    if identity.get("Arn") != settings.iam_user_arn:
        raise KeyTestError(
            f"{which} key {value.access_key_id} authenticates as"
            f" {str(identity.get('Arn'))[:256]!r}, not {settings.iam_user_arn!r}; AWSCURRENT"
            " is unchanged. Remove AWSPENDING"
            " (`credrot unstick`) and rotate again"
        )


# --- finishSecret ------------------------------------------------------------------------


def finish_secret(clients: Clients, state: SecretState, settings: Settings) -> None:
    """Move AWSCURRENT to the token's version, record when, then remove AWSPENDING.

    The old version becomes AWSPREVIOUS (Secrets Manager does that) and its key stays
    Active, so apps that cached it keep working until its grace, counted from now, is over.
    """
    sm = clients.secretsmanager
    old_current = state.version_with(CURRENT)
    try:
        _move_label(sm, state.arn, CURRENT, state.token, old_current)
    except (BotoCoreError, ClientError):
        # A lost response, or a concurrent duplicate that moved the label first: carry on
        # if AWSCURRENT is where it should be; anything else is an error.
        fresh = sm.describe_secret(SecretId=state.arn).get("VersionIdsToStages", {})
        if CURRENT not in fresh.get(state.token, []):
            raise
        state = SecretState(state.step, state.arn, state.token, fresh)
    else:
        stages = {
            vid: [s for s in labels if s != CURRENT] for vid, labels in state.version_stages.items()
        }
        stages.setdefault(state.token, []).append(CURRENT)
        state = SecretState(state.step, state.arn, state.token, stages)
    state.log("promote-pending-version", "done", previous_version=old_current)
    _complete_finish(clients, state)


def _complete_finish(clients: Clients, state: SecretState) -> None:
    """After AWSCURRENT is on the token: record when (once), tidy old finish labels, drop
    AWSPENDING. Each part is skipped when already done, so any retry completes the rest."""
    sm = clients.secretsmanager
    if current_since(state.stages_of(state.token)) is None:
        # Late by at most the retry's delay if the first attempt crashed: grace is then
        # counted a little later, never earlier.
        _mark_current_since(sm, state, clock.now())
    for version_id, stages in state.version_stages.items():
        if version_id == state.token:
            continue
        for stage in stages:
            if is_current_since_label(stage):
                sm.update_secret_version_stage(
                    SecretId=state.arn, VersionStage=stage, RemoveFromVersionId=version_id
                )
    if PENDING in state.stages_of(state.token):
        sm.update_secret_version_stage(
            SecretId=state.arn, VersionStage=PENDING, RemoveFromVersionId=state.token
        )
        state.log("remove-pending-label", "done")


def _mark_current_since(sm: SecretsManagerClient, state: SecretState, moment: datetime) -> None:
    """Label the AWSCURRENT version with `moment` as the time it became current."""
    version_id = state.version_with(CURRENT)
    if version_id is None:
        return
    label = current_since_label(moment)
    # Held by another version: an older finish in the same second; move it.
    holder = next((v for v, stages in state.version_stages.items() if label in stages), None)
    if holder == version_id:
        return
    _move_label(sm, state.arn, label, version_id, holder)
    if holder is not None:
        state.version_stages[holder] = [s for s in state.version_stages[holder] if s != label]
    state.version_stages.setdefault(version_id, []).append(label)
    state.log("record-current-since", "done", version=version_id, since=label)


def _move_label(
    sm: SecretsManagerClient, arn: str, label: str, version_id: str, holder: str | None
) -> None:
    """Put `label` on `version_id`, taking it off `holder` (if any)."""
    params: UpdateSecretVersionStageRequestTypeDef = {
        "SecretId": arn,
        "VersionStage": label,
        "MoveToVersionId": version_id,
    }
    if holder is not None:
        params["RemoveFromVersionId"] = holder
    sm.update_secret_version_stage(**params)


STEPS: dict[str, Callable[[Clients, SecretState, Settings], None]] = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}


# --- scheduled actions -------------------------------------------------------------------


def retire_replaced_keys(clients: Clients, secret_id: str, settings: Settings) -> dict[str, Any]:
    """The hourly sweep: deactivate every Active key the secret records only in versions that
    are not current, once the grace since the current version became current is over.

    Only while AWSCURRENT holds another, Active, key; never a key no version records.
    Idempotent; returns the decision. During the grace it costs one DescribeSecret.
    """
    described, settings = describe(clients, secret_id, settings)
    state = SecretState(
        "RetirePreviousKey",
        described.get("ARN", secret_id),
        "",
        described.get("VersionIdsToStages", {}),
    )

    def done(decision: str, outcome: str = "no-op", **details: Any) -> dict[str, Any]:
        log_decision(
            step=state.step, secret=state.arn, decision=decision, outcome=outcome, **details
        )
        return {"action": state.step, "decision": decision, **details}

    since = current_since(state.stages_of(state.version_with(CURRENT)))
    now = clock.now()
    if since is None:
        _mark_current_since(clients.secretsmanager, state, now)
        return done("grace-starts-now")
    if not grace_is_over(since, now, settings.previous_key_grace):
        ends = since + settings.previous_key_grace
        return done("grace-not-over", grace_ends=f"{ends:%Y-%m-%dT%H:%M:%SZ}")
    current = _current_value(clients.secretsmanager, state.arn, settings)
    if not current.has_key:
        return done("current-has-no-key")
    keys = _list_keys(clients.iam, settings)
    if not any(key.key_id == current.access_key_id and key.active for key in keys):
        # Retiring anything now could leave apps with no working key at all.
        return done("current-key-not-active", "refused", key_ids=_key_ids(current))
    wanted = active_keys_to_explain(keys, current.access_key_id)
    if not wanted:
        return done("nothing-to-retire")
    previous, older = _recorded_keys(clients.secretsmanager, state, settings, wanted)
    roles = classify_keys(
        keys, current_key_id=current.access_key_id, previous_key_ids=previous, older_key_ids=older
    )
    if keys_to_retire(roles):
        _check_user_binding(clients.iam, settings, state.arn)
    unknown = sorted(wanted - previous - older)
    if unknown:
        log_decision(
            step=state.step,
            secret=state.arn,
            decision="leave-unrecorded-key",
            outcome="skipped",
            key_ids=unknown,
            level=logging.WARNING,
        )
    retired = _deactivate(clients, settings, keys_to_retire(roles))
    if not retired:
        return done("nothing-to-retire")
    return done("deactivate-replaced-keys", "done", key_ids=retired)


def _deactivate(clients: Clients, settings: Settings, key_ids: Iterable[str]) -> list[str]:
    deactivated = []
    for key_id in key_ids:
        try:
            clients.iam.update_access_key(
                UserName=settings.iam_user_name, AccessKeyId=key_id, Status="Inactive"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
            continue  # deleted meanwhile: nothing to retire
        deactivated.append(key_id)
    return deactivated


def provision_key(clients: Clients, secret_id: str, settings: Settings) -> dict[str, Any]:
    """The deploy's first-key step: make AWSCURRENT hold a key that authenticates as the user.

    A no-op when it already does. Else it writes the bootstrap value if there is no
    AWSCURRENT, then runs one whole rotation (the same steps), so `pulumi up` ends with a
    working key that never passed through Pulumi. Refused while a rotation is in progress.
    """
    sm = clients.secretsmanager
    described, settings = describe(clients, secret_id, settings)
    arn = described.get("ARN", secret_id)
    stages = described.get("VersionIdsToStages", {})
    current = _current_value(sm, arn, settings)

    def result(decision: str, value: SecretValue) -> dict[str, Any]:
        log_decision(
            step="ProvisionKey",
            secret=arn,
            decision=decision,
            outcome="done",
            key_ids=_key_ids(value),
        )
        return {"action": "ProvisionKey", "decision": decision, "keyId": value.access_key_id}

    probe = SecretState("ProvisionKey", arn, "", stages)
    if current.has_key and _key_is_active(clients, settings, current):
        _prove_key(clients, settings, current, "current", probe.log)
        return result("current-key-works", current)
    pending = probe.version_with(PENDING)
    if pending is not None and pending != probe.version_with(CURRENT):
        raise SecretStateError(
            f"secret {arn} has a rotation in progress (AWSPENDING on version {pending}) and no"
            " working current key: let it finish, or `credrot unstick` it, then deploy again"
        )
    if probe.version_with(CURRENT) is None:
        _check_user_binding(clients.iam, settings, arn)  # before naming the user in the secret
        sm.put_secret_value(
            SecretId=arn,
            SecretString=SecretValue(settings.iam_user_name).to_json(),
            VersionStages=[CURRENT],
        )
        log_decision(step="ProvisionKey", secret=arn, decision="write-bootstrap", outcome="done")
    token = str(uuid.uuid4())
    state = SecretState("ProvisionKey", arn, token, _stages(clients, arn, settings))
    create_secret(clients, state, settings)
    state = SecretState("ProvisionKey", arn, token, _stages(clients, arn, settings))
    test_secret(clients, state, settings)
    finish_secret(clients, state, settings)
    return result("provisioned", _current_value(sm, arn, settings))


def _key_is_active(clients: Clients, settings: Settings, value: SecretValue) -> bool:
    # STS rejects an Inactive key on AWS; some emulators accept it, so ask IAM as well.
    return any(
        key.key_id == value.access_key_id and key.active
        for key in _list_keys(clients.iam, settings)
    )


def _stages(clients: Clients, secret_arn: str, settings: Settings) -> dict[str, list[str]]:
    return dict(describe(clients, secret_arn, settings)[0].get("VersionIdsToStages", {}))


# --- reading the secret ------------------------------------------------------------------


def _get_value(
    sm: SecretsManagerClient,
    secret_id: str,
    *,
    stage: str | None = None,
    version_id: str | None = None,
) -> GetSecretValueResponseTypeDef | None:
    """GetSecretValue, or None when that version or stage has no value.

    Callers always name a stage or a version: a bare SecretId could be answered from a
    stale default version by some emulators.
    """
    params: GetSecretValueRequestTypeDef = {"SecretId": secret_id}
    if version_id is not None:
        params["VersionId"] = version_id
    if stage is not None:
        params["VersionStage"] = stage
    try:
        return sm.get_secret_value(**params)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise


def list_versions(sm: SecretsManagerClient, secret_id: str) -> list[SecretVersionsListEntryTypeDef]:
    """All versions, including deprecated (unlabelled) ones that may record a stray key."""
    versions: list[SecretVersionsListEntryTypeDef] = []
    params: ListSecretVersionIdsRequestTypeDef = {"SecretId": secret_id, "IncludeDeprecated": True}
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
