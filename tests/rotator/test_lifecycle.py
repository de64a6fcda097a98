"""The key lifecycle's promises under retries, duplicates, hand edits and misconfiguration:
no key is deleted or deactivated unless the secret proves it is not in use, and no rotation
leaves anything that needs `unstick`."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from rotation_lambda.errors import KeyInGraceError, SecretStateError, UnknownKeyError
from rotation_lambda.handler import lambda_handler
from rotation_lambda.protocol import USER_SECRET_TAG

# The lifecycle invariants hold in both of the function's modes (see conftest's `mode`).
BOTH_MODES = True

GRACE_HOURS = 24


# --- 1. No unproven deletion ---------------------------------------------------------------


def test_a_definite_create_refusal_creates_nothing_so_nothing_is_listed_or_deleted(
    deployment, faults, call_counter
):
    deployment.rotate_fully()
    keys = deployment.access_keys()
    token = deployment.stage_rotation()
    faults.fail("iam.CreateAccessKey", code="AccessDenied", status=403)
    call_counter.calls.clear()

    with pytest.raises(ClientError, match="AccessDenied"):
        deployment.run("createSecret", token)

    assert call_counter.calls[""]["iam.ListAccessKeys"] == 1  # the listing before, no other
    assert "iam.DeleteAccessKey" not in call_counter.calls[""]
    assert deployment.access_keys() == keys


@pytest.mark.parametrize(
    ("attempts", "error"),
    [
        # Every attempt's response is lost: the first one minted a key nobody saw.
        pytest.param(4, "InternalError", id="when-every-attempts-response-is-lost"),
        # The first attempt mints a key but its response is lost; botocore's retry then hits
        # IAM's 2-key limit, and the step fails after deleting the key nobody saw.
        pytest.param(1, "LimitExceeded", id="when-the-retry-hits-the-two-key-limit"),
    ],
)
def test_a_create_whose_outcome_is_unknown_deletes_only_the_key_the_listings_prove_new(
    deployment, faults, attempts, error
):
    deployment.rotate_fully()
    current_key = deployment.value()["AccessKeyId"]
    token = deployment.stage_rotation()
    faults.lose_responses(
        "iam.CreateAccessKey", code="InternalError", status=500, attempts=attempts
    )

    with pytest.raises(ClientError, match=error):
        deployment.run("createSecret", token)

    assert faults.injected == ["iam.CreateAccessKey"] * attempts
    assert deployment.access_keys() == {current_key: "Active"}
    deployment.run_steps(token)  # Secrets Manager's retry
    assert set(deployment.access_keys()) == {current_key, deployment.value()["AccessKeyId"]}
    deployment.assert_healthy()


@pytest.fixture
def second_secret(deployment, monkeypatch):
    """A second secret naming the same user, rotated by a function bound to it: the
    misconfiguration. Its value is a copy of the first secret's."""
    deployment.rotate_fully()
    arn = deployment.add_secret(
        f"{deployment.secret_name}-copy",
        deployment.user_name,
        SecretString=json.dumps(deployment.value()),
    )
    deployment.invocations.clear()
    deployment.sm.rotate_secret(
        SecretId=arn,
        RotationLambdaARN=deployment.function_arn,
        RotationRules={"AutomaticallyAfterDays": 30},
    )
    return arn


def test_a_second_secret_naming_the_same_user_can_never_touch_the_firsts_keys(
    deployment, second_secret, monkeypatch
):
    first_current = deployment.value()["AccessKeyId"]
    token = deployment.invocations[0]["ClientRequestToken"]
    if not deployment.shared:  # the shared function takes the secret from the event
        monkeypatch.setenv("SECRET_ARN", second_secret)
    deployment.let_grace_pass()

    with pytest.raises(SecretStateError, match=f"bound to secret {deployment.secret_arn}"):
        lambda_handler(
            {"Step": "createSecret", "SecretId": second_secret, "ClientRequestToken": token}, None
        )
    lambda_handler({"Action": "RetirePreviousKey", "SecretId": second_secret}, None)

    assert deployment.access_keys() == {first_current: "Active"}


def test_the_first_secret_keeps_rotating_while_a_second_one_names_its_user(
    deployment, second_secret
):
    deployment.let_grace_pass()
    deployment.rotate_fully()

    deployment.assert_healthy()


def test_a_function_without_a_binding_tag_on_its_user_refuses_to_write(deployment):
    deployment.iam.untag_user(UserName=deployment.user_name, TagKeys=[USER_SECRET_TAG])
    token = deployment.stage_rotation()

    with pytest.raises(SecretStateError, match="is bound to secret None"):
        deployment.run("createSecret", token)

    assert deployment.access_keys() == {}


# --- 4. At-least-once delivery ---------------------------------------------------------------


@pytest.mark.parametrize("step", ["createSecret", "setSecret", "testSecret", "finishSecret"])
def test_a_duplicate_delivered_after_its_step_converges_on_one_rotation(deployment, step):
    deployment.rotate_fully()
    deployment.let_grace_pass()
    token = deployment.stage_rotation()
    steps = ("createSecret", "setSecret", "testSecret", "finishSecret")

    for name in steps:
        deployment.run(name, token)
        if name == step:
            deployment.run(name, token)  # the duplicate
    deployment.run(step, token)  # and a late one, after the rotation finished

    assert deployment.version_with("AWSCURRENT") == token
    assert len(deployment.access_keys()) == 2
    deployment.assert_healthy()


def overlap(operation, duplicate):
    """Run `duplicate` inside the first invocation, right before its `operation` call."""
    fired = []

    def hook(**_):
        if not fired:
            fired.append(True)
            duplicate()

    boto3.DEFAULT_SESSION.events.register(f"before-call.{operation}", hook)


@pytest.mark.parametrize(
    "operation",
    ["iam.ListAccessKeys", "iam.CreateAccessKey", "secrets-manager.PutSecretValue"],
)
def test_overlapping_create_invocations_converge_on_one_key(deployment, operation):
    deployment.rotate_fully()
    deployment.let_grace_pass()
    token = deployment.stage_rotation()
    outcomes = []

    def duplicate():
        try:
            deployment.run("createSecret", token)
            outcomes.append("done")
        except (ClientError, UnknownKeyError) as error:
            outcomes.append(type(error).__name__)

    overlap(operation, duplicate)
    try:
        deployment.run("createSecret", token)
    except (ClientError, UnknownKeyError):
        deployment.run("createSecret", token)  # Secrets Manager's retry of the failed one
    deployment.run_steps(token)

    assert outcomes  # the duplicate did run inside the first invocation
    assert deployment.version_with("AWSCURRENT") == token
    deployment.assert_healthy()
    assert deployment.version_with("AWSPENDING") is None


def test_overlapping_finish_invocations_both_succeed(deployment):
    deployment.rotate_fully()
    deployment.let_grace_pass()
    token = deployment.stage_rotation()
    deployment.run_steps(token, ("createSecret", "setSecret", "testSecret"))
    overlap(
        "secrets-manager.UpdateSecretVersionStage", lambda: deployment.run("finishSecret", token)
    )

    deployment.run("finishSecret", token)

    assert deployment.version_with("AWSCURRENT") == token
    labels = [label for stages in deployment.stages().values() for label in stages]
    assert sum(label.startswith("credrot-current-since-") for label in labels) == 1
    deployment.assert_healthy()


# --- 5. Hand-edited values -------------------------------------------------------------------


def test_a_malformed_previous_version_never_blocks_a_rotation(deployment):
    deployment.rotate_fully()
    good = deployment.value()
    deployment.replace_current_value(SecretString="{not json")
    deployment.replace_current_value(SecretString=json.dumps(good))  # AWSPREVIOUS: malformed

    deployment.rotate_fully()

    deployment.assert_healthy()
    assert deployment.value("AWSPREVIOUS")["AccessKeyId"] == good["AccessKeyId"]


def test_putting_the_bootstrap_value_back_never_costs_apps_their_key_before_its_grace(
    deployment,
):
    deployment.rotate_fully()
    deployment.let_grace_pass()
    deployment.rotate_fully()
    live = deployment.value()["AccessKeyId"]  # what apps hold
    deployment.let_grace_pass()
    deployment.replace_current_value(SecretString=json.dumps({"UserName": deployment.user_name}))

    for _ in range(3):  # the sweep keeps running; a rotation repairs the secret
        deployment.retire_previous_key()
    assert deployment.access_keys()[live] == "Active"
    deployment.rotate_fully()
    deployment.clock.advance(hours=GRACE_HOURS - 1)
    deployment.retire_previous_key()

    assert deployment.access_keys()[live] == "Active"  # inside its grace, still working
    deployment.clock.advance(hours=1, seconds=1)
    deployment.retire_previous_key()
    assert deployment.access_keys()[live] == "Inactive"
    deployment.assert_healthy()


# --- 6. Rotation inside the previous key's grace ---------------------------------------------


def test_a_rotation_inside_the_previous_keys_grace_deletes_nothing_and_says_when(deployment):
    deployment.rotate_fully()
    deployment.rotate_fully()
    previous_key = deployment.value("AWSPREVIOUS")["AccessKeyId"]
    keys = deployment.access_keys()
    token = deployment.stage_rotation()

    with pytest.raises(KeyInGraceError, match=previous_key) as error:
        deployment.run("createSecret", token)

    assert error.value.grace_ends == deployment.clock.now + timedelta(hours=GRACE_HOURS)
    assert f"{error.value.grace_ends:%Y-%m-%dT%H:%M:%SZ}" in str(error.value)
    assert deployment.access_keys() == keys


def test_a_schedule_change_with_rotate_immediately_keeps_a_workload_safe_offline_for_the_grace(
    deployment,
):
    """The provider calls RotateSecret on every change of the rules. With RotateImmediately=false
    that is a configuration test; even a forced immediate rotation inside the grace refuses."""
    deployment.rotate_fully()
    deployment.rotate_fully()
    offline_workloads_key = deployment.value("AWSPREVIOUS")["AccessKeyId"]

    token = deployment.stage_configuration_test({"ScheduleExpression": "rate(7 days)"})
    deployment.run("testSecret", token)
    deployment.end_configuration_test(token)
    with pytest.raises(KeyInGraceError):
        deployment.rotate_fully()

    assert deployment.access_keys()[offline_workloads_key] == "Active"


# --- 8. The first key ------------------------------------------------------------------------


def provision(deployment):
    return lambda_handler({"Action": "ProvisionKey", "SecretId": deployment.secret_arn}, None)


@pytest.fixture
def empty_secret(deployment, monkeypatch):
    """A secret as the program creates it now: no version at all, rotation not yet enabled."""
    deployment.sm.delete_secret(SecretId=deployment.secret_name, ForceDeleteWithoutRecovery=True)
    deployment.secret_arn = deployment.add_secret(deployment.secret_name, deployment.user_name)
    deployment.bind(deployment.secret_arn)
    return deployment


def test_the_first_key_step_writes_the_bootstrap_and_mints_a_working_key(empty_secret, capsys):
    deployment = empty_secret

    result = provision(deployment)

    value = deployment.value()
    assert result == {
        "action": "ProvisionKey",
        "decision": "provisioned",
        "keyId": value["AccessKeyId"],
    }
    assert deployment.authenticates_as(value) == deployment.user_arn
    assert deployment.access_keys() == {value["AccessKeyId"]: "Active"}
    assert value["SecretAccessKey"] not in json.dumps(result)  # what Pulumi records
    assert value["SecretAccessKey"] not in capsys.readouterr().out


def test_the_first_key_step_is_a_no_op_once_the_key_works(empty_secret):
    deployment = empty_secret
    provision(deployment)
    keys = deployment.access_keys()

    assert provision(deployment)["decision"] == "current-key-works"
    assert deployment.access_keys() == keys


def test_the_first_key_step_re_run_on_a_rotating_consumer_writes_nothing(deployment, call_counter):
    # Migration re-invokes the first-key step on consumers that have rotated for months: the
    # current key works, and the previous one is inside its grace.
    deployment.rotate_fully()
    deployment.rotate_fully()
    keys, stages = deployment.access_keys(), deployment.stages()
    call_counter.calls.clear()

    assert provision(deployment)["decision"] == "current-key-works"
    assert (deployment.access_keys(), deployment.stages()) == (keys, stages)
    assert set(call_counter.calls[""]) == {
        "secrets-manager.DescribeSecret",
        "secrets-manager.GetSecretValue",
        "iam.ListAccessKeys",
        "sts.GetCallerIdentity",
    }


def test_the_first_key_step_fails_naming_the_cause_when_the_key_cannot_be_made(
    empty_secret, faults
):
    faults.fail("iam.CreateAccessKey", code="LimitExceeded", status=409)

    with pytest.raises(ClientError, match="LimitExceeded"):
        provision(empty_secret)


def test_the_first_key_step_then_the_configuration_test_passes_and_rotation_works(empty_secret):
    deployment = empty_secret
    provision(deployment)

    token = deployment.stage_configuration_test({"AutomaticallyAfterDays": 30})
    deployment.run("testSecret", token)
    deployment.end_configuration_test(token)
    deployment.let_grace_pass()
    deployment.rotate_fully()

    deployment.assert_healthy()
