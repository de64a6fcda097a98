"""Each Troubleshooting row of the README that the function raises, followed exactly: the
error, then the fix the row gives, then a healthy consumer. (The CLI rows are followed in
tests/app_side.)"""

from __future__ import annotations

import json
import uuid

import pytest

from rotation_lambda.errors import (
    ConfigurationError,
    InvalidEventError,
    KeyInGraceError,
    KeyTestError,
    SecretStateError,
    SecretValueError,
    UnknownKeyError,
    UserMismatchError,
)
from rotation_lambda.handler import lambda_handler
from rotation_lambda.protocol import USER_SECRET_TAG
from rotation_lambda.settings import SECRET_USER_TAG


def test_row_unknown_key_deactivate_the_stray_then_rotate(deployment):
    deployment.rotate_fully()
    stray = deployment.create_stray_key()
    token = deployment.stage_rotation()
    with pytest.raises(UnknownKeyError, match=stray):
        deployment.run("createSecret", token)

    deployment.iam.update_access_key(
        UserName=deployment.user_name, AccessKeyId=stray, Status="Inactive"
    )
    deployment.run_steps(token)

    assert stray not in deployment.access_keys()  # "the rotation deletes Inactive strays"
    deployment.assert_healthy()


def test_row_key_in_grace_wait_for_the_time_it_names_then_rotate(deployment):
    deployment.rotate_fully()
    deployment.rotate_fully()
    token = deployment.stage_rotation()
    with pytest.raises(KeyInGraceError) as refusal:
        deployment.run("createSecret", token)

    deployment.clock.now = refusal.value.grace_ends
    deployment.retire_previous_key()  # the hourly sweep deactivates it
    deployment.run_steps(token)  # Secrets Manager's retry, or the next rotation

    deployment.assert_healthy()


def test_row_user_mismatch_restore_the_values_user_name(deployment):
    deployment.rotate_fully()
    good = deployment.value()
    deployment.replace_current_value(SecretString=json.dumps({**good, "UserName": "other"}))
    token = deployment.stage_rotation()
    with pytest.raises(UserMismatchError):
        deployment.run("createSecret", token)

    deployment.replace_current_value(SecretString=json.dumps(good))
    deployment.let_grace_pass()
    deployment.run_steps(token)

    deployment.assert_healthy()


def test_row_secret_state_a_stale_invocation_then_a_proper_rotation(deployment):
    deployment.rotate_fully()
    with pytest.raises(SecretStateError, match="has no version"):
        deployment.run("createSecret", str(uuid.uuid4()))

    deployment.let_grace_pass()
    deployment.rotate_fully()  # what `credrot rotate` starts: RotateSecret

    deployment.assert_healthy()


def test_row_secret_value_put_the_bootstrap_back_and_rotate(deployment):
    deployment.rotate_fully()
    apps_key = deployment.value()["AccessKeyId"]
    deployment.replace_current_value(SecretString="overwritten by hand")
    token = deployment.stage_rotation()
    with pytest.raises(SecretValueError, match="is not JSON"):
        deployment.run("createSecret", token)

    deployment.replace_current_value(SecretString=json.dumps({"UserName": deployment.user_name}))
    deployment.run_steps(token)

    # The key apps held keeps working through its grace, then the sweep retires it.
    assert deployment.access_keys()[apps_key] == "Active"
    deployment.let_grace_pass()
    deployment.retire_previous_key()
    assert deployment.access_keys()[apps_key] == "Inactive"
    deployment.assert_healthy()


def test_row_key_test_unstick_then_rotate(deployment, auth_failures, monkeypatch):
    deployment.rotate_fully()
    monkeypatch.setenv("PROPAGATION_TIMEOUT_SECONDS", "0")
    token = deployment.stage_rotation()
    deployment.run("createSecret", token)
    auth_failures(1)
    with pytest.raises(KeyTestError, match="still rejected"):
        deployment.run("testSecret", token)

    # `credrot unstick`: remove AWSPENDING from the abandoned version; then `credrot rotate`.
    deployment.sm.update_secret_version_stage(
        SecretId=deployment.secret_name, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )
    deployment.rotate_fully()

    deployment.assert_healthy()


def test_row_configuration_pulumi_up_restores_the_environment(deployment, monkeypatch):
    deployment.rotate_fully()
    arn = deployment.user_arn
    monkeypatch.setenv("IAM_USER_ARN", "edited by hand")
    with pytest.raises(ConfigurationError, match="IAM_USER_ARN"):
        deployment.retire_previous_key()

    monkeypatch.setenv("IAM_USER_ARN", arn)  # what `pulumi up` puts back
    deployment.let_grace_pass()
    deployment.rotate_fully()

    deployment.assert_healthy()


def test_row_invalid_event_changes_nothing(deployment):
    deployment.rotate_fully()
    state = (deployment.access_keys(), deployment.stages())

    with pytest.raises(InvalidEventError):
        lambda_handler({"Action": "RotateEverything", "SecretId": deployment.secret_arn}, None)

    assert (deployment.access_keys(), deployment.stages()) == state
    deployment.assert_healthy()


def test_row_bound_to_another_secret_redeploy_restores_the_tag(deployment):
    deployment.rotate_fully()
    deployment.iam.tag_user(
        UserName=deployment.user_name, Tags=[{"Key": USER_SECRET_TAG, "Value": "edited"}]
    )
    token = deployment.stage_rotation()
    with pytest.raises(SecretStateError, match="is bound to secret edited"):
        deployment.run("createSecret", token)

    deployment.iam.tag_user(  # what `pulumi up` puts back
        UserName=deployment.user_name,
        Tags=[{"Key": USER_SECRET_TAG, "Value": deployment.secret_arn}],
    )
    deployment.let_grace_pass()
    deployment.run_steps(token)

    deployment.assert_healthy()


@pytest.mark.parametrize("mode", ["shared"])
def test_row_not_one_this_function_may_rotate_redeploy_restores_the_secrets_tag(deployment):
    deployment.rotate_fully()
    deployment.sm.untag_resource(SecretId=deployment.secret_arn, TagKeys=[SECRET_USER_TAG])
    deployment.let_grace_pass()
    token = deployment.stage_rotation()
    with pytest.raises(SecretStateError, match="is not one this function may rotate"):
        deployment.run("createSecret", token)

    deployment.sm.tag_resource(  # what `pulumi up` restores
        SecretId=deployment.secret_arn,
        Tags=[{"Key": SECRET_USER_TAG, "Value": deployment.user_name}],
    )
    deployment.run_steps(token)

    deployment.assert_healthy()
