"""testSecret: the pending key must authenticate as exactly the user, after IAM propagation."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from rotation_lambda.errors import KeyTestError


@pytest.fixture
def created(deployment):
    """A first rotation staged and created: AWSPENDING holds a fresh key."""
    token = deployment.stage_rotation()
    deployment.run_steps(token, ("createSecret", "setSecret"))
    return token


def assert_current_untouched(deployment, token):
    assert deployment.value() == {"UserName": deployment.user_name}
    assert deployment.stages()[token] == ["AWSPENDING"]


def test_a_key_that_works_at_once_is_accepted_without_any_sleep(deployment, created, fake_clock):
    deployment.run("testSecret", created)

    assert fake_clock.sleeps == []


def test_a_key_still_propagating_is_retried_with_exponential_backoff(
    deployment, created, fake_clock, auth_failures
):
    auth_failures(3)

    deployment.run("testSecret", created)

    assert fake_clock.sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    "code",
    [
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "UnrecognizedClientException",
    ],
)
def test_every_propagation_error_is_retried(deployment, created, fake_clock, auth_failures, code):
    auth_failures(1, code)

    deployment.run("testSecret", created)

    assert fake_clock.sleeps == [0.5]


def test_the_wait_is_capped_and_bounded_by_the_propagation_timeout(
    deployment, created, fake_clock, auth_failures
):
    auth_failures(1000)

    with pytest.raises(KeyTestError, match="still rejected after 60 s") as error:
        deployment.run("testSecret", created)

    assert fake_clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 4.5]
    assert sum(fake_clock.sleeps) == 60
    assert "PROPAGATION_TIMEOUT_SECONDS" in str(error.value)
    assert_current_untouched(deployment, created)


def test_the_propagation_timeout_comes_from_the_environment(
    deployment, created, fake_clock, auth_failures, monkeypatch
):
    monkeypatch.setenv("PROPAGATION_TIMEOUT_SECONDS", "5")
    auth_failures(1000)

    with pytest.raises(KeyTestError):
        deployment.run("testSecret", created)

    assert fake_clock.sleeps == [0.5, 1.0, 2.0, 1.5]


def test_a_zero_timeout_tries_once(deployment, created, fake_clock, auth_failures, monkeypatch):
    monkeypatch.setenv("PROPAGATION_TIMEOUT_SECONDS", "0")
    auth_failures(1)

    with pytest.raises(KeyTestError):
        deployment.run("testSecret", created)

    assert fake_clock.sleeps == []


def test_a_dead_pending_key_fails_the_test_and_leaves_awscurrent_alone(
    deployment, created, fake_clock
):
    pending_key = deployment.value("AWSPENDING")["AccessKeyId"]
    deployment.iam.delete_access_key(UserName=deployment.user_name, AccessKeyId=pending_key)

    # moto answers a deleted key with another principal: the ARN check catches it at once.
    with pytest.raises(
        KeyTestError, match="authenticates as 'arn:aws:sts::123456789012:user/moto'"
    ):
        deployment.run("testSecret", created)

    assert fake_clock.sleeps == []
    assert_current_untouched(deployment, created)


def test_a_key_of_another_principal_is_a_hard_failure(deployment, fake_clock):
    other = deployment.iam.create_user(UserName="someone-else")["User"]["Arn"]
    other_key = deployment.iam.create_access_key(UserName="someone-else")["AccessKey"]
    token = deployment.stage_rotation_with_pending_value(
        {
            "UserName": deployment.user_name,
            "AccessKeyId": other_key["AccessKeyId"],
            "SecretAccessKey": other_key["SecretAccessKey"],
        }
    )

    with pytest.raises(KeyTestError, match=other):
        deployment.run("testSecret", token)

    assert fake_clock.sleeps == []
    assert_current_untouched(deployment, token)


def test_an_error_other_than_propagation_is_not_waited_on(deployment, created, fake_clock, faults):
    faults.fail("sts.GetCallerIdentity", code="Throttling", status=400)

    with pytest.raises(ClientError, match="Throttling"):
        deployment.run("testSecret", created)

    assert fake_clock.sleeps == []


def test_the_key_is_compared_with_the_configured_arn_without_asking_iam(
    deployment, created, call_counter
):
    deployment.run("testSecret", created)

    assert not any(op.startswith("iam.") for op in call_counter.calls[""])


def test_a_change_of_rotation_rules_runs_only_the_configuration_test_and_mints_nothing(
    deployment, call_counter
):
    deployment.rotate_fully()
    keys, current = deployment.access_keys(), deployment.value()
    call_counter.calls.clear()

    token = deployment.stage_configuration_test({"ScheduleExpression": "rate(10 days)"})
    deployment.run("testSecret", token)
    deployment.end_configuration_test(token)

    assert deployment.access_keys() == keys
    assert deployment.value() == current
    called = [op for counter in call_counter.calls.values() for op in counter]
    assert not {"iam.CreateAccessKey", "iam.DeleteAccessKey", "iam.UpdateAccessKey"} & set(called)
    deployment.assert_healthy()


@pytest.mark.parametrize("hand_edit", ["delete", "deactivate"])
def test_the_configuration_test_fails_clearly_when_the_current_key_does_not_work(
    deployment, hand_edit
):
    deployment.rotate_fully()
    key_id = deployment.value()["AccessKeyId"]
    if hand_edit == "delete":
        deployment.iam.delete_access_key(UserName=deployment.user_name, AccessKeyId=key_id)
    else:
        deployment.iam.update_access_key(
            UserName=deployment.user_name, AccessKeyId=key_id, Status="Inactive"
        )
    token = deployment.stage_configuration_test({"AutomaticallyAfterDays": 7})

    with pytest.raises(KeyTestError, match=f"current key {key_id}"):
        deployment.run("testSecret", token)


def test_a_configured_user_arn_with_another_path_fails_the_test(deployment, created, monkeypatch):
    monkeypatch.setenv("IAM_USER_ARN", f"arn:aws:iam::123456789012:user/{deployment.user_name}")

    with pytest.raises(KeyTestError, match="user/ai-apps/ai-app-chatbot"):
        deployment.run("testSecret", created)


def test_only_the_pending_key_signs_the_check_never_the_functions_session_token(
    deployment, created, monkeypatch
):
    monkeypatch.setenv("AWS_SESSION_TOKEN", "the-functions-own-session-token")
    pending_key = deployment.value("AWSPENDING")["AccessKeyId"]
    headers = []
    boto3.DEFAULT_SESSION.events.register(
        "before-send.sts.GetCallerIdentity", lambda request, **_: headers.append(request.headers)
    )

    deployment.run("testSecret", created)

    (sent,) = headers
    assert "X-Amz-Security-Token" not in sent
    assert f"Credential={pending_key}/".encode() in sent["Authorization"]
