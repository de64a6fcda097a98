"""The shared rotation function: one function serves every consumer of a stack, and neither a
tampered secret value nor a re-pointed secret tag can make it write another consumer's keys.

The user comes from the secret's prefixed name and its `ai-credential-rotation:user` tag; the
user's own tag must name the secret back before any IAM write (`_check_user_binding`)."""

from __future__ import annotations

import json

import pytest

from rotation_lambda.errors import SecretStateError, UserMismatchError
from rotation_lambda.handler import lambda_handler
from rotation_lambda.settings import SECRET_USER_TAG

IAM_WRITES = ("iam.CreateAccessKey", "iam.DeleteAccessKey", "iam.UpdateAccessKey")


@pytest.fixture
def mode() -> str:
    """Every test here deploys the shared function."""
    return "shared"


@pytest.fixture
def two_consumers(deployment):
    """Consumers "chatbot" (the deployment) and "search" of one stack, each with a key, and
    the chatbot's replaced key past its grace (so a sweep or a rotation would write)."""
    search = deployment.add_consumer("search")
    deployment.rotate_fully()
    search.rotate_fully()
    deployment.let_grace_pass()
    return deployment, search


def iam_writes(call_counter) -> list[str]:
    return [op for calls in call_counter.calls.values() for op in calls if op in IAM_WRITES]


def test_a_tampered_value_naming_another_consumers_user_is_refused_before_any_iam_write(
    two_consumers, call_counter
):
    chatbot, search = two_consumers
    keys = (chatbot.access_keys(), search.access_keys())
    # A reader who can write the chatbot's secret points its value at the search user.
    chatbot.replace_current_value(SecretString=json.dumps({"UserName": search.user_name}))
    token = chatbot.stage_rotation()
    call_counter.calls.clear()

    with pytest.raises(UserMismatchError, match=f"only rotates {chatbot.user_name!r} for it"):
        chatbot.run("createSecret", token)
    chatbot.end_configuration_test(token)  # drop AWSPENDING, so the first-key step may act
    with pytest.raises(UserMismatchError):
        lambda_handler({"Action": "ProvisionKey", "SecretId": chatbot.secret_arn}, None)
    chatbot.retire_previous_key()  # the tampered version's grace starts now
    chatbot.let_grace_pass()
    with pytest.raises(UserMismatchError):
        chatbot.retire_previous_key()

    assert iam_writes(call_counter) == []
    assert (chatbot.access_keys(), search.access_keys()) == keys


def test_a_secret_tag_re_pointed_at_another_user_is_refused_by_that_users_own_binding(
    two_consumers, call_counter
):
    chatbot, search = two_consumers
    keys = (chatbot.access_keys(), search.access_keys())
    # The tag and the value both re-pointed: only the search user's reverse tag stands in the way.
    chatbot.sm.tag_resource(
        SecretId=chatbot.secret_arn, Tags=[{"Key": SECRET_USER_TAG, "Value": search.user_name}]
    )
    chatbot.replace_current_value(SecretString=json.dumps({"UserName": search.user_name}))
    token = chatbot.stage_rotation()
    call_counter.calls.clear()
    refusal = (
        f"{search.user_name} is bound to secret {search.secret_arn} .* not to {chatbot.secret_arn}"
    )

    with pytest.raises(SecretStateError, match=refusal):
        chatbot.run("createSecret", token)
    chatbot.end_configuration_test(token)  # drop AWSPENDING, so the first-key step may act
    with pytest.raises(SecretStateError, match=refusal):
        lambda_handler({"Action": "ProvisionKey", "SecretId": chatbot.secret_arn}, None)
    chatbot.retire_previous_key()  # nothing it may prove retired: no write either

    assert iam_writes(call_counter) == []
    assert (chatbot.access_keys(), search.access_keys()) == keys


def test_a_secret_whose_name_lacks_the_stacks_prefix_is_refused_before_any_other_call(
    deployment, call_counter
):
    deployment.rotate_fully()
    # Named outside the stack, though tagged with the user and bound back to by the user.
    outsider = deployment.add_secret(
        "ai-apps/outsider", deployment.user_name, SecretString=json.dumps(deployment.value())
    )
    deployment.bind(outsider)
    call_counter.calls.clear()

    for event in (
        {"Action": "ProvisionKey", "SecretId": outsider},
        {"Action": "RetirePreviousKey", "SecretId": outsider},
    ):
        with pytest.raises(SecretStateError, match="does not start with SECRET_NAME_PREFIX"):
            lambda_handler(event, None)

    assert set(call_counter.calls[""]) == {"secrets-manager.DescribeSecret"}


def test_a_secret_without_the_user_tag_is_refused_naming_the_tag_and_the_fix(
    deployment, call_counter
):
    deployment.rotate_fully()
    deployment.sm.untag_resource(SecretId=deployment.secret_arn, TagKeys=[SECRET_USER_TAG])
    token = deployment.stage_rotation()
    keys = deployment.access_keys()
    call_counter.calls.clear()

    with pytest.raises(SecretStateError, match=f"{SECRET_USER_TAG}=''.*re-deploy") as error:
        deployment.run("createSecret", token)

    assert deployment.secret_arn in str(error.value)
    assert set(call_counter.calls[""]) == {"secrets-manager.DescribeSecret"}
    assert deployment.access_keys() == keys


def test_two_consumers_rotating_through_one_function_keep_their_keys_apart(two_consumers):
    chatbot, search = two_consumers
    for _ in range(2):
        chatbot.let_grace_pass()
        chatbot_token, search_token = chatbot.stage_rotation(), search.stage_rotation()
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            chatbot.run(step, chatbot_token)
            search.run(step, search_token)
    chatbot.let_grace_pass()
    assert chatbot.retire_previous_key()["decision"] == "deactivate-replaced-keys"
    assert search.retire_previous_key()["decision"] == "deactivate-replaced-keys"

    for consumer, other in ((chatbot, search), (search, chatbot)):
        consumer.assert_healthy()  # its current key authenticates as its own user
        assert consumer.value()["UserName"] == consumer.user_name
        assert not set(consumer.access_keys()) & set(other.access_keys())
        assert not consumer.recorded_key_ids() & set(other.access_keys())
        assert sorted(consumer.access_keys().values()) == ["Active", "Inactive"]


def test_the_configuration_test_then_the_first_key_step_work_for_a_new_consumer(deployment):
    # The deploy's order: rotation enabled (Secrets Manager's configuration test) first, then
    # ProvisionKey. (moto's RotateSecret fails on a secret with no version at all.)
    newcomer = deployment.add_consumer("newcomer")  # its secret holds the bootstrap value

    token = newcomer.stage_configuration_test({"AutomaticallyAfterDays": 30})
    newcomer.run("testSecret", token)
    newcomer.end_configuration_test(token)
    result = lambda_handler({"Action": "ProvisionKey", "SecretId": newcomer.secret_arn}, None)

    assert result is not None and result["decision"] == "provisioned"
    assert newcomer.authenticates_as(newcomer.value()) == newcomer.user_arn
    assert deployment.access_keys() == {}  # the other consumer's user untouched


def test_the_first_key_step_of_a_secret_tagged_with_a_user_bound_elsewhere_writes_nothing(
    two_consumers, call_counter
):
    chatbot, search = two_consumers
    # A new secret of the stack (no version yet) whose tag names the search user.
    stray = chatbot.add_secret(f"{chatbot.secret_name}-new", search.user_name)
    keys = search.access_keys()
    call_counter.calls.clear()

    with pytest.raises(SecretStateError, match=f"bound to secret {search.secret_arn}"):
        lambda_handler({"Action": "ProvisionKey", "SecretId": stray}, None)

    assert chatbot.sm.describe_secret(SecretId=stray).get("VersionIdsToStages", {}) == {}
    assert iam_writes(call_counter) == []
    assert search.access_keys() == keys
