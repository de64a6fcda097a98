"""The hourly sweep (action RetirePreviousKey): it retires every key the secret records only in
versions that are not current, once the grace since the current version's finish is over, and
it always leaves a working key."""

from __future__ import annotations

import json

import pytest

from rotation_lambda.errors import KeyTestError, UserMismatchError

# The lifecycle invariants hold in both of the function's modes (see conftest's `mode`).
BOTH_MODES = True

GRACE_HOURS = 24


@pytest.fixture
def rotated_twice(deployment):
    deployment.rotate_fully()
    deployment.rotate_fully()
    return deployment


def assert_retired_exactly_when_its_grace_ends(deployment, key_id):
    """The sweep leaves ``key_id`` active an hour before its grace ends, and retires it after."""
    deployment.clock.advance(hours=GRACE_HOURS - 1)
    deployment.retire_previous_key()
    assert deployment.access_keys()[key_id] == "Active"
    deployment.clock.advance(hours=1, seconds=1)
    deployment.retire_previous_key()
    assert deployment.access_keys()[key_id] == "Inactive"


def test_the_previous_key_is_deactivated_once_the_grace_since_the_finish_is_over(rotated_twice):
    deployment = rotated_twice
    previous_key = deployment.value("AWSPREVIOUS")["AccessKeyId"]
    current = deployment.value()
    deployment.let_grace_pass(GRACE_HOURS)

    decision = deployment.retire_previous_key()

    assert decision["decision"] == "deactivate-replaced-keys"
    assert deployment.access_keys() == {previous_key: "Inactive", current["AccessKeyId"]: "Active"}
    assert deployment.authenticates_as(current) == deployment.user_arn


def test_the_previous_key_stays_active_during_the_grace_period(rotated_twice):
    keys = rotated_twice.access_keys()
    rotated_twice.clock.advance(hours=GRACE_HOURS - 0.01)

    decision = rotated_twice.retire_previous_key()

    assert decision["decision"] == "grace-not-over"
    assert rotated_twice.access_keys() == keys
    assert set(keys.values()) == {"Active"}


def test_grace_is_counted_from_the_finish_not_from_when_the_rotation_was_staged(
    deployment, auth_failures, monkeypatch
):
    deployment.rotate_fully()
    token = deployment.stage_rotation()
    deployment.run_steps(token, ("createSecret", "setSecret"))
    # testSecret keeps failing for three days (IAM rejects the key), then passes.
    monkeypatch.setenv("PROPAGATION_TIMEOUT_SECONDS", "0")
    for _ in range(3):
        auth_failures(1)
        with pytest.raises(KeyTestError):
            deployment.run("testSecret", token)
        deployment.clock.advance(days=1)
    deployment.run_steps(token, ("testSecret", "finishSecret"))
    previous_key = deployment.value("AWSPREVIOUS")["AccessKeyId"]

    deployment.clock.advance(hours=GRACE_HOURS - 1)
    assert deployment.retire_previous_key()["decision"] == "grace-not-over"
    assert deployment.access_keys()[previous_key] == "Active"

    deployment.clock.advance(hours=1, seconds=1)
    deployment.retire_previous_key()
    assert deployment.access_keys()[previous_key] == "Inactive"


def test_the_sweep_is_idempotent(rotated_twice):
    rotated_twice.let_grace_pass()
    rotated_twice.retire_previous_key()
    keys = rotated_twice.access_keys()

    decision = rotated_twice.retire_previous_key()

    assert decision["decision"] == "nothing-to-retire"
    assert rotated_twice.access_keys() == keys


@pytest.mark.parametrize("rotations", [0, 1])
def test_the_sweep_is_harmless_before_there_is_a_previous_key(deployment, rotations):
    for _ in range(rotations):
        deployment.rotate_fully()
    deployment.let_grace_pass()
    keys = deployment.access_keys()

    deployment.retire_previous_key()

    assert deployment.access_keys() == keys


def test_the_sweep_never_deactivates_the_current_key(deployment):
    deployment.rotate_fully()
    current = deployment.value()
    deployment.replace_current_value(SecretString=json.dumps(current))  # same key, new version
    deployment.let_grace_pass()

    deployment.retire_previous_key()

    assert deployment.value("AWSPREVIOUS")["AccessKeyId"] == current["AccessKeyId"]
    assert deployment.access_keys() == {current["AccessKeyId"]: "Active"}


@pytest.mark.parametrize("hand_edit", ["deactivate", "delete"])
def test_the_sweep_retires_nothing_while_the_current_key_does_not_work(rotated_twice, hand_edit):
    deployment = rotated_twice
    current_key = deployment.value()["AccessKeyId"]
    previous_key = deployment.value("AWSPREVIOUS")["AccessKeyId"]
    if hand_edit == "deactivate":
        deployment.iam.update_access_key(
            UserName=deployment.user_name, AccessKeyId=current_key, Status="Inactive"
        )
    else:
        deployment.iam.delete_access_key(UserName=deployment.user_name, AccessKeyId=current_key)
    deployment.let_grace_pass()

    decision = deployment.retire_previous_key()

    assert decision["decision"] == "current-key-not-active"
    assert deployment.access_keys()[previous_key] == "Active"  # the only key that works


def test_a_key_whose_successor_was_deleted_by_hand_is_retired_after_the_repairing_rotation(
    deployment,
):
    deployment.rotate_fully()
    first_key = deployment.value()["AccessKeyId"]
    deployment.rotate_fully()
    deployment.iam.delete_access_key(
        UserName=deployment.user_name, AccessKeyId=deployment.value()["AccessKeyId"]
    )
    deployment.let_grace_pass()
    assert deployment.retire_previous_key()["decision"] == "current-key-not-active"

    deployment.rotate_fully()  # the repair: a new current key; first_key is in an old version
    assert_retired_exactly_when_its_grace_ends(deployment, first_key)
    deployment.assert_healthy()


def test_the_sweep_leaves_a_key_that_no_version_records_alone(deployment):
    deployment.rotate_fully()
    stray = deployment.create_stray_key()
    deployment.let_grace_pass()

    deployment.retire_previous_key()

    assert deployment.access_keys()[stray] == "Active"


def test_a_malformed_previous_version_does_not_stop_the_sweep_retiring_an_older_key(deployment):
    deployment.rotate_fully()
    old_key = deployment.value()["AccessKeyId"]
    current = deployment.value()
    deployment.rotate_fully()
    new_current = deployment.value()
    deployment.replace_current_value(SecretString="not json")
    deployment.replace_current_value(SecretString=json.dumps(new_current))
    assert old_key != new_current["AccessKeyId"] == deployment.value()["AccessKeyId"]
    # A version made current by hand carries no finish time: grace starts at the first sweep.
    assert deployment.retire_previous_key()["decision"] == "grace-starts-now"
    deployment.let_grace_pass()

    deployment.retire_previous_key()

    assert deployment.access_keys()[old_key] == "Inactive"
    assert deployment.access_keys()[new_current["AccessKeyId"]] == "Active"
    assert current["AccessKeyId"] == old_key


def test_the_sweep_refuses_a_current_value_naming_another_user_before_any_iam_call(
    deployment, call_counter
):
    deployment.rotate_fully()
    current = deployment.value()
    deployment.replace_current_value(
        SecretString=json.dumps({**current, "UserName": "someone-else"})
    )
    deployment.retire_previous_key()  # grace starts now for the hand-made version
    deployment.let_grace_pass()
    call_counter.label = "sweep"

    with pytest.raises(UserMismatchError, match="someone-else"):
        deployment.retire_previous_key()

    assert not any(op.startswith("iam.") for op in call_counter.calls["sweep"])
    assert deployment.access_keys() == {current["AccessKeyId"]: "Active"}


def test_a_previous_value_naming_another_user_is_no_evidence_and_no_obstacle(rotated_twice):
    deployment = rotated_twice
    current = deployment.value()
    previous_key = deployment.value("AWSPREVIOUS")["AccessKeyId"]
    deployment.replace_current_value(
        SecretString=json.dumps({**current, "UserName": "someone-else"})
    )
    deployment.replace_current_value(SecretString=json.dumps(current))
    assert deployment.retire_previous_key()["decision"] == "grace-starts-now"
    deployment.let_grace_pass()

    deployment.retire_previous_key()

    # The key is still recorded by an older version of our user: retired after its grace.
    assert deployment.access_keys()[previous_key] == "Inactive"
    assert deployment.access_keys()[current["AccessKeyId"]] == "Active"


def test_a_current_version_without_a_finish_time_starts_its_grace_at_the_first_sweep(
    rotated_twice,
):
    deployment = rotated_twice
    current_version = deployment.version_with("AWSCURRENT")
    for label in deployment.stages()[current_version]:
        if label.startswith("credrot-current-since-"):
            deployment.sm.update_secret_version_stage(
                SecretId=deployment.secret_name,
                VersionStage=label,
                RemoveFromVersionId=current_version,
            )
    previous_key = deployment.value("AWSPREVIOUS")["AccessKeyId"]
    deployment.clock.advance(days=30)

    assert deployment.retire_previous_key()["decision"] == "grace-starts-now"
    assert_retired_exactly_when_its_grace_ends(deployment, previous_key)


ROTATION_PERIOD_HOURS = 30 * 24


def test_no_replaced_key_stays_active_longer_than_the_grace_plus_one_hourly_sweep(deployment):
    """Rotate every P, sweep every hour: each key is Active at most P + G + 1 h in all."""
    active_since: dict[str, float] = {}
    active_hours: dict[str, float] = {}
    hour = 0.0
    for _ in range(4):
        deployment.rotate_fully()
        active_since.setdefault(deployment.value()["AccessKeyId"], hour)
        for _ in range(GRACE_HOURS + 2):
            deployment.clock.advance(hours=1)
            hour += 1
            deployment.retire_previous_key()
            for key_id, status in deployment.access_keys().items():
                if status == "Inactive" and key_id not in active_hours:
                    active_hours[key_id] = hour - active_since[key_id]
        deployment.clock.advance(hours=ROTATION_PERIOD_HOURS - GRACE_HOURS - 2)
        hour += ROTATION_PERIOD_HOURS - GRACE_HOURS - 2

    assert len(active_hours) == 3  # every key but the current one has been retired
    assert max(active_hours.values()) <= ROTATION_PERIOD_HOURS + GRACE_HOURS + 1
