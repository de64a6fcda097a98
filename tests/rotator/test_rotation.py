"""Whole rotations driven through the handler the way Secrets Manager drives them."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from rotation_lambda import protocol
from rotation_lambda.clients import Clients
from rotation_lambda.errors import UnknownKeyError
from rotation_lambda.settings import Settings

# The lifecycle invariants hold in both of the function's modes (see conftest's `mode`).
BOTH_MODES = True

FAKE_KEY = {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "not-a-real-secret"}


def test_first_rotation_mints_the_first_key_and_it_authenticates_as_the_user(deployment):
    assert deployment.access_keys() == {}

    deployment.rotate_fully()

    current = deployment.value()
    assert set(current) == {"UserName", "AccessKeyId", "SecretAccessKey"}
    assert current["UserName"] == deployment.user_name
    assert deployment.access_keys() == {current["AccessKeyId"]: "Active"}
    assert deployment.authenticates_as(current) == deployment.user_arn
    assert deployment.user_arn.endswith(f":user{deployment.user_path}ai-app-chatbot")
    deployment.assert_healthy()


def test_the_secret_can_be_named_by_arn_as_well_as_by_name(deployment):
    token = deployment.stage_rotation()
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        deployment.run(step, token, secret_id=deployment.secret_arn)

    assert deployment.version_with("AWSCURRENT") == token
    deployment.assert_healthy()


def test_consecutive_rotations_keep_two_keys_with_the_previous_one_still_active(deployment):
    previous_key = None
    for _ in range(5):
        deployment.rotate_fully()
        deployment.let_grace_pass()

        current = deployment.value()
        keys = deployment.access_keys()
        assert len(keys) <= 2
        assert deployment.authenticates_as(current) == deployment.user_arn
        if previous_key is not None:
            assert deployment.value("AWSPREVIOUS")["AccessKeyId"] == previous_key
            assert keys == {previous_key: "Active", current["AccessKeyId"]: "Active"}
        previous_key = current["AccessKeyId"]
        deployment.assert_healthy()


def test_every_step_can_run_twice(deployment):
    deployment.rotate_fully()
    token = deployment.stage_rotation()

    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        deployment.run(step, token)
        state = (deployment.access_keys(), deployment.stages())
        deployment.run(step, token)
        assert (deployment.access_keys(), deployment.stages()) == state

    assert deployment.version_with("AWSCURRENT") == token
    deployment.assert_healthy()


def test_a_finished_rotation_retried_with_the_same_token_changes_nothing(deployment):
    token = deployment.rotate_fully()
    keys, current = deployment.access_keys(), deployment.value()

    deployment.run_steps(token)

    assert deployment.access_keys() == keys
    assert deployment.value() == current


def test_a_retried_create_keeps_the_key_it_already_recorded(deployment):
    token = deployment.stage_rotation()
    deployment.run("createSecret", token)
    pending = deployment.value("AWSPENDING")

    deployment.run_steps(token)

    assert deployment.value() == pending
    assert len(deployment.access_keys()) == 1


def test_an_abandoned_rotations_key_is_deleted_by_the_next_rotation(deployment):
    deployment.rotate_fully()
    first_key = deployment.value()["AccessKeyId"]
    abandoned = deployment.stage_rotation()
    deployment.run("createSecret", abandoned)
    abandoned_key = deployment.value("AWSPENDING")["AccessKeyId"]
    # As an operator does on AWS before a new rotation can start: drop the stale label.
    deployment.sm.update_secret_version_stage(
        SecretId=deployment.secret_name, VersionStage="AWSPENDING", RemoveFromVersionId=abandoned
    )

    deployment.rotate_fully()

    keys = deployment.access_keys()
    assert abandoned_key not in keys
    assert set(keys) == {first_key, deployment.value()["AccessKeyId"]}
    deployment.assert_healthy()


def test_an_unknown_active_key_is_never_deleted_and_blocks_the_rotation(deployment):
    deployment.rotate_fully()
    current = deployment.value()
    stray = deployment.create_stray_key()
    token = deployment.stage_rotation()

    with pytest.raises(UnknownKeyError) as error:
        deployment.run("createSecret", token)

    assert stray in str(error.value)
    assert "deactivate or delete it" in str(error.value)
    assert error.value.key_ids == (stray,)
    assert deployment.access_keys() == {current["AccessKeyId"]: "Active", stray: "Active"}
    assert deployment.value() == current
    assert deployment.recorded_key_ids() == {current["AccessKeyId"]}


def test_an_unknown_active_key_refuses_even_the_first_rotation_and_is_kept(deployment):
    stray = deployment.create_stray_key()
    bootstrap = deployment.value()
    token = deployment.stage_rotation()

    with pytest.raises(UnknownKeyError, match=stray):
        deployment.run("createSecret", token)

    assert deployment.access_keys() == {stray: "Active"}
    assert deployment.value() == bootstrap


def test_rotation_proceeds_once_the_operator_deactivates_the_stray_key(deployment):
    deployment.rotate_fully()
    stray = deployment.create_stray_key()
    token = deployment.stage_rotation()
    with pytest.raises(UnknownKeyError):
        deployment.run("createSecret", token)

    deployment.iam.update_access_key(
        UserName=deployment.user_name, AccessKeyId=stray, Status="Inactive"
    )
    deployment.run_steps(token)

    assert stray not in deployment.access_keys()
    deployment.assert_healthy()


def test_an_unknown_inactive_key_is_removed_when_room_is_needed(deployment):
    deployment.rotate_fully()
    first_key = deployment.value()["AccessKeyId"]
    stray = deployment.create_stray_key(active=False)

    deployment.rotate_fully()

    assert set(deployment.access_keys()) == {first_key, deployment.value()["AccessKeyId"]}
    assert stray not in deployment.access_keys()
    deployment.assert_healthy()


def test_an_unknown_inactive_key_is_left_alone_when_there_is_room(deployment):
    stray = deployment.create_stray_key(active=False)

    deployment.rotate_fully()

    assert deployment.access_keys() == {
        stray: "Inactive",
        deployment.value()["AccessKeyId"]: "Active",
    }


def test_the_current_key_survives_even_when_deactivated_by_hand(deployment):
    deployment.rotate_fully()
    deployment.rotate_fully()
    current_key = deployment.value()["AccessKeyId"]
    deployment.iam.update_access_key(
        UserName=deployment.user_name, AccessKeyId=current_key, Status="Inactive"
    )
    deployment.let_grace_pass()

    deployment.rotate_fully()

    assert deployment.value("AWSPREVIOUS")["AccessKeyId"] == current_key
    assert current_key in deployment.access_keys()


def test_a_failed_put_deletes_the_key_it_just_created(deployment, faults, caplog):
    deployment.rotate_fully()
    keys_before = deployment.access_keys()
    token = deployment.stage_rotation()
    faults.fail("secrets-manager.PutSecretValue", code="InternalServiceError", status=500)

    with pytest.raises(ClientError) as error:
        deployment.run("createSecret", token)

    assert error.value.response["Error"]["Code"] == "InternalServiceError"
    assert deployment.access_keys() == keys_before
    assert '"decision": "delete-unrecorded-key", "outcome": "done"' in caplog.text
    deployment.run_steps(token)
    deployment.assert_healthy()


def test_a_key_the_function_could_not_clean_up_is_refused_by_name_and_never_deleted(
    deployment, faults
):
    deployment.rotate_fully()
    current_key = deployment.value()["AccessKeyId"]
    token = deployment.stage_rotation()
    # The crash: the key is created, recording it fails and so does deleting it.
    faults.fail("secrets-manager.PutSecretValue", code="InternalServiceError", status=500)
    faults.fail("iam.DeleteAccessKey", code="ServiceFailure", status=500)
    with pytest.raises(ClientError):
        deployment.run("createSecret", token)
    orphan = next(key for key in deployment.access_keys() if key != current_key)

    # A retry cannot tell that key from one a person made meanwhile: it refuses, by name.
    with pytest.raises(UnknownKeyError, match=orphan):
        deployment.run_steps(token)

    assert deployment.access_keys() == {current_key: "Active", orphan: "Active"}
    deployment.iam.delete_access_key(UserName=deployment.user_name, AccessKeyId=orphan)
    deployment.run_steps(token)  # the README's fix, then Secrets Manager's next retry
    deployment.assert_healthy()


def test_a_retried_create_deletes_the_key_its_lost_first_attempt_minted(deployment, faults):
    token = deployment.stage_rotation()  # bootstrap: room for both attempts' keys
    faults.lose_responses("iam.CreateAccessKey", code="InternalError", status=500, attempts=1)

    deployment.run_steps(token)

    assert faults.injected == ["iam.CreateAccessKey"]
    assert set(deployment.access_keys()) == {deployment.value()["AccessKeyId"]}
    deployment.assert_healthy()


def test_a_put_whose_responses_were_lost_keeps_the_key_it_recorded(deployment, faults):
    deployment.rotate_fully()
    token = deployment.stage_rotation()
    faults.lose_responses(
        "secrets-manager.PutSecretValue", code="InternalServiceError", status=500, attempts=4
    )

    deployment.run("createSecret", token)

    assert faults.injected == ["secrets-manager.PutSecretValue"] * 4
    pending_key = deployment.value("AWSPENDING")["AccessKeyId"]
    assert deployment.access_keys()[pending_key] == "Active"
    deployment.run_steps(token)
    deployment.assert_healthy()


def test_a_retried_create_never_deletes_a_key_made_by_hand_after_the_rotation_was_staged(
    deployment,
):
    deployment.rotate_fully()
    deployment.rotate_fully()
    deployment.let_grace_pass()
    token = deployment.stage_rotation()
    # An engineer frees a slot and makes a key by hand while the rotation is pending.
    previous_key = deployment.value("AWSPREVIOUS")["AccessKeyId"]
    deployment.iam.delete_access_key(UserName=deployment.user_name, AccessKeyId=previous_key)
    hand_made = deployment.create_stray_key()

    with pytest.raises(UnknownKeyError, match=hand_made):
        deployment.run_steps(token)

    assert deployment.access_keys()[hand_made] == "Active"
    assert deployment.stages()[token] == ["AWSPENDING"]


def test_finish_completes_a_rotation_interrupted_between_its_two_label_moves(deployment):
    deployment.rotate_fully()
    token = deployment.stage_rotation()
    deployment.run_steps(token, ("createSecret", "setSecret", "testSecret"))
    # The crash: AWSCURRENT moved, AWSPENDING never removed.
    deployment.sm.update_secret_version_stage(
        SecretId=deployment.secret_name,
        VersionStage="AWSCURRENT",
        MoveToVersionId=token,
        RemoveFromVersionId=deployment.version_with("AWSCURRENT"),
    )

    deployment.run("finishSecret", token)

    stages = deployment.stages()
    assert stages[token][0] == "AWSCURRENT"
    assert [label for label in stages[token] if label != "AWSCURRENT"] == [
        f"credrot-current-since-{int(deployment.clock.now.timestamp())}"
    ]
    assert sum(label.startswith("credrot-") for s in stages.values() for label in s) == 1
    deployment.let_grace_pass()
    deployment.rotate_fully()
    deployment.assert_healthy()


def test_malformed_or_foreign_old_versions_are_no_evidence(deployment, caplog):
    deployment.rotate_fully()
    for junk in ("not json", json.dumps({"UserName": "someone-else", **FAKE_KEY})):
        version = deployment.sm.put_secret_value(
            SecretId=deployment.secret_name, SecretString=junk, VersionStages=["JUNK"]
        )["VersionId"]
        deployment.sm.update_secret_version_stage(
            SecretId=deployment.secret_name, VersionStage="JUNK", RemoveFromVersionId=version
        )
    stray = deployment.create_stray_key()
    token = deployment.stage_rotation()

    with pytest.raises(UnknownKeyError, match=stray):
        deployment.run("createSecret", token)

    assert '"decision": "ignore-malformed-version"' in caplog.text
    assert '"decision": "ignore-foreign-version"' in caplog.text


def test_version_listing_follows_next_token():
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    with Stubber(sm) as stubber:
        for page, next_token in (("v1", "page-2"), ("v2", None)):
            response = {"Versions": [{"VersionId": page * 16}]}
            if next_token:
                response["NextToken"] = next_token
            stubber.add_response("list_secret_version_ids", response)

        versions = protocol.list_versions(sm, "secret")

    assert [v["VersionId"] for v in versions] == ["v1" * 16, "v2" * 16]


def test_steps_can_run_directly_with_injected_clients(deployment, monkeypatch):
    session = deployment.session
    clients = Clients(
        secretsmanager=session.client("secretsmanager"),
        iam=session.client("iam"),
        sts_factory=lambda key_id, secret: session.client(
            "sts", aws_access_key_id=key_id, aws_secret_access_key=secret
        ),
    )
    settings = Settings(deployment.user_name, iam_user_arn=deployment.user_arn)
    token = deployment.stage_rotation()

    for step, run in protocol.STEPS.items():
        run(clients, *protocol.guard(clients, step, deployment.secret_name, token, settings))

    assert deployment.version_with("AWSCURRENT") == token
    deployment.assert_healthy()
