"""The scheduled RetirePreviousKey sweep: deactivate AWSPREVIOUS's key after the grace period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from rotation_lambda.clients import Clients
from rotation_lambda.errors import UserMismatchError
from rotation_lambda.protocol import retire_previous_key
from rotation_lambda.settings import Settings


@pytest.fixture
def rotated_twice(deployment):
    deployment.rotate_fully()
    deployment.rotate_fully()
    return deployment


def test_the_previous_key_is_deactivated_once_the_grace_period_is_over(rotated_twice, monkeypatch):
    deployment = rotated_twice
    monkeypatch.setenv("PREVIOUS_KEY_GRACE_HOURS", "0")
    previous_key = deployment.value("AWSPREVIOUS")["AccessKeyId"]
    current = deployment.value()

    deployment.retire_previous_key()

    assert deployment.access_keys() == {previous_key: "Inactive", current["AccessKeyId"]: "Active"}
    assert deployment.authenticates_as(current) == deployment.user_arn


def test_the_previous_key_stays_active_during_the_default_grace_period(rotated_twice):
    keys = rotated_twice.access_keys()

    rotated_twice.retire_previous_key()

    assert rotated_twice.access_keys() == keys
    assert set(keys.values()) == {"Active"}


def test_the_grace_period_is_measured_from_the_current_versions_creation(deployment):
    deployment.rotate_fully()
    deployment.rotate_fully()
    settings = Settings(deployment.user_name, previous_key_grace=timedelta(hours=24))
    clients = Clients("us-east-1")
    now = datetime.now(UTC)

    early = retire_previous_key(
        clients, deployment.secret_name, settings, now + timedelta(hours=23)
    )
    late = retire_previous_key(clients, deployment.secret_name, settings, now + timedelta(hours=25))

    assert (early, late) == ("grace-not-over", "deactivate-previous-key")


def test_the_sweep_is_idempotent(rotated_twice, monkeypatch):
    monkeypatch.setenv("PREVIOUS_KEY_GRACE_HOURS", "0")
    rotated_twice.retire_previous_key()
    keys = rotated_twice.access_keys()

    rotated_twice.retire_previous_key()

    assert rotated_twice.access_keys() == keys


@pytest.mark.parametrize("rotations", [0, 1])
def test_the_sweep_is_harmless_before_there_is_a_previous_key(deployment, monkeypatch, rotations):
    monkeypatch.setenv("PREVIOUS_KEY_GRACE_HOURS", "0")
    for _ in range(rotations):
        deployment.rotate_fully()
    keys = deployment.access_keys()

    deployment.retire_previous_key()

    assert deployment.access_keys() == keys


def test_the_sweep_never_deactivates_the_current_key(deployment, monkeypatch):
    monkeypatch.setenv("PREVIOUS_KEY_GRACE_HOURS", "0")
    deployment.rotate_fully()
    current = deployment.value()
    deployment.replace_current_value(SecretString=json.dumps(current))  # same key, new version

    deployment.retire_previous_key()

    assert deployment.value("AWSPREVIOUS")["AccessKeyId"] == current["AccessKeyId"]
    assert deployment.access_keys() == {current["AccessKeyId"]: "Active"}


def test_the_sweep_tolerates_a_previous_key_already_deleted(rotated_twice, monkeypatch):
    monkeypatch.setenv("PREVIOUS_KEY_GRACE_HOURS", "0")
    previous_key = rotated_twice.value("AWSPREVIOUS")["AccessKeyId"]
    rotated_twice.iam.delete_access_key(UserName=rotated_twice.user_name, AccessKeyId=previous_key)

    rotated_twice.retire_previous_key()

    assert len(rotated_twice.access_keys()) == 1


def test_the_sweep_refuses_a_previous_value_naming_another_user(
    deployment, monkeypatch, call_counter
):
    monkeypatch.setenv("PREVIOUS_KEY_GRACE_HOURS", "0")
    deployment.rotate_fully()
    current = deployment.value()
    deployment.replace_current_value(
        SecretString=json.dumps({**current, "UserName": "someone-else"})
    )
    deployment.replace_current_value(SecretString=json.dumps(current))
    call_counter.label = "sweep"

    with pytest.raises(UserMismatchError, match="someone-else"):
        deployment.retire_previous_key()

    assert not any(op.startswith("iam.") for op in call_counter.calls["sweep"])
    assert deployment.access_keys() == {current["AccessKeyId"]: "Active"}
