"""Bad input gives a specific, clear error and changes nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from credrot.sandbox.aws import STEPS
from rotation_lambda.errors import (
    ConfigurationError,
    InvalidEventError,
    RotationError,
    SecretStateError,
    SecretValueError,
    UserMismatchError,
)
from rotation_lambda.handler import lambda_handler, parse_event

TOKEN = "7f3c9a52-5d1e-4c4b-9a53-2b8e0f6d1c27"
SECRET = "ai-apps/chatbot/access-key"
FAKE_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def configured(monkeypatch):
    monkeypatch.setenv("IAM_USER_NAME", "ai-app-chatbot")
    monkeypatch.setenv("IAM_USER_ARN", "arn:aws:iam::123456789012:user/ai-apps/ai-app-chatbot")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "event is a list, not an object"),
        ("createSecret", "event is a str, not an object"),
        (None, "event is a NoneType, not an object"),
        ({}, "exactly one of Step and Action"),
        (
            {"Step": "createSecret", "Action": "RetirePreviousKey", "SecretId": SECRET},
            "exactly one",
        ),
        ({"Step": "createSecret", "ClientRequestToken": TOKEN}, "SecretId is missing"),
        ({"Step": "createSecret", "SecretId": SECRET}, "ClientRequestToken is missing"),
        ({"Step": "createSecret", "SecretId": SECRET, "ClientRequestToken": ""}, "non-empty"),
        ({"Step": "createSecret", "SecretId": 7, "ClientRequestToken": TOKEN}, "SecretId is not"),
        ({"Step": "rotateSecret", "SecretId": SECRET, "ClientRequestToken": TOKEN}, "Step 'rot"),
        ({"Step": None, "SecretId": SECRET, "ClientRequestToken": TOKEN}, "Step is missing"),
        ({"Action": "DeleteEverything", "SecretId": SECRET}, "Action 'DeleteEverything' is unkn"),
        ({"Action": "RetirePreviousKey"}, "SecretId is missing"),
    ],
)
def test_a_malformed_event_is_refused_before_any_call(configured, call_counter, event, message):
    with pytest.raises(InvalidEventError, match=message) as error:
        lambda_handler(event, None)

    assert "createSecret" in str(error.value) or "RetirePreviousKey" in str(error.value)
    assert call_counter.total() == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("IAM_USER_NAME", None, "IAM_USER_NAME is not set"),
        ("IAM_USER_NAME", "no spaces allowed", "IAM_USER_NAME='no spaces allowed' is not a valid"),
        ("PROPAGATION_TIMEOUT_SECONDS", "soon", "PROPAGATION_TIMEOUT_SECONDS='soon' is not a num"),
        ("PROPAGATION_TIMEOUT_SECONDS", "-1", "PROPAGATION_TIMEOUT_SECONDS='-1' is out of range"),
        ("PROPAGATION_TIMEOUT_SECONDS", "3600", "from 0 to 900"),
        ("PROPAGATION_TIMEOUT_SECONDS", "nan", "out of range"),
        ("PREVIOUS_KEY_GRACE_HOURS", "a day", "PREVIOUS_KEY_GRACE_HOURS='a day' is not a number"),
        ("PREVIOUS_KEY_GRACE_HOURS", "-24", "from 0 to 8784"),
        # Absurd numbers overflow a timedelta: a ConfigurationError, not an OverflowError.
        ("PREVIOUS_KEY_GRACE_HOURS", "1e300", "is out of range"),
        ("PREVIOUS_KEY_GRACE_HOURS", "9" * 400, "is out of range"),
        ("PROPAGATION_TIMEOUT_SECONDS", "1e400", "is out of range"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is not a log level: use one of DEBUG"),
        ("IAM_USER_ARN", "arn:aws:iam::123456789012:user/other", "not the ARN of IAM user"),
        ("IAM_USER_ARN", None, "IAM_USER_ARN is not set"),
        ("IAM_USER_ARN", "", "IAM_USER_ARN is not set"),
        ("SECRET_ARN", "ai-apps/chatbot", "is not a Secrets Manager secret ARN"),
    ],
)
def test_bad_configuration_is_refused_with_the_variable_value_and_fix(
    configured, call_counter, monkeypatch, variable, value, message
):
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigurationError, match=message) as error:
        lambda_handler({"Action": "RetirePreviousKey", "SecretId": SECRET}, None)

    assert any(fix in str(error.value) for fix in ("set it", "set a number", "use one of"))
    assert len(str(error.value)) < 400  # the value is echoed cut short, never whole
    assert call_counter.total() == 0


def test_a_huge_event_field_is_never_echoed_whole_in_the_log(configured, caplog):
    huge = "x" * 100_000

    with pytest.raises(InvalidEventError):
        lambda_handler({"Step": huge, "SecretId": huge, "ClientRequestToken": huge}, None)

    assert caplog.records
    assert all(len(record.getMessage()) < 2_000 for record in caplog.records)


def test_a_secret_that_does_not_exist_is_reported_as_not_existing(deployment, call_counter):
    missing = "ai-apps/no-such-secret"

    for event in (
        {"Step": "createSecret", "SecretId": missing, "ClientRequestToken": TOKEN},
        {"Action": "RetirePreviousKey", "SecretId": missing},
        {"Action": "ProvisionKey", "SecretId": missing},
    ):
        with pytest.raises(SecretStateError, match="does not exist"):
            lambda_handler(event, None)

    assert not any(
        op.startswith("iam.") for counter in call_counter.calls.values() for op in counter
    )


def test_a_function_bound_to_one_secret_refuses_any_other(deployment, monkeypatch):
    token = deployment.stage_rotation()
    other = deployment.sm.create_secret(
        Name="ai-apps/other/access-key",
        SecretString=json.dumps({"UserName": deployment.user_name}),
    )["ARN"]
    monkeypatch.setenv("SECRET_ARN", other)

    with pytest.raises(SecretStateError, match="is not the secret this function rotates"):
        deployment.run("createSecret", token)

    assert deployment.access_keys() == {}


@pytest.mark.parametrize("step", STEPS)
def test_a_token_the_secret_does_not_know_is_refused(deployment, step):
    deployment.stage_rotation()
    stages = deployment.stages()
    unknown = str(uuid.uuid4())

    with pytest.raises(SecretStateError, match=f"has no version '{unknown}'"):
        deployment.run(step, unknown)

    assert deployment.stages() == stages
    assert deployment.access_keys() == {}


@pytest.mark.parametrize("step", STEPS)
def test_a_secret_without_rotation_enabled_is_refused(deployment, step):
    token = deployment.stage_rotation()
    deployment.sm.cancel_rotate_secret(SecretId=deployment.secret_name)

    with pytest.raises(SecretStateError, match="rotation is not enabled"):
        deployment.run(step, token)

    assert deployment.access_keys() == {}
    assert deployment.stages()[token] == ["AWSPENDING"]


@pytest.mark.parametrize("step", STEPS)
def test_a_token_that_is_not_pending_is_refused(deployment, step):
    first = deployment.rotate_fully()
    deployment.rotate_fully()
    keys = deployment.access_keys()
    assert deployment.stages()[first] == ["AWSPREVIOUS"]

    with pytest.raises(SecretStateError, match="is not AWSPENDING"):
        deployment.run(step, first)

    assert deployment.access_keys() == keys


BAD_VALUES = [
    ({"SecretString": f"SecretAccessKey={FAKE_SECRET_KEY}"}, SecretValueError, "is not JSON"),
    ({"SecretString": json.dumps([FAKE_SECRET_KEY])}, SecretValueError, "is a JSON list"),
    ({"SecretString": json.dumps(FAKE_SECRET_KEY)}, SecretValueError, "is a JSON str"),
    ({"SecretString": json.dumps({"user": "ai-app-chatbot"})}, SecretValueError, "unexpected"),
    ({"SecretString": "{}"}, SecretValueError, "has no UserName"),
    ({"SecretString": json.dumps({"UserName": 7})}, SecretValueError, "has no UserName"),
    (
        {"SecretString": json.dumps({"UserName": "ai-app-chatbot", "AccessKeyId": "AKIA1"})},
        SecretValueError,
        "both AccessKeyId and SecretAccessKey",
    ),
    ({"SecretBinary": FAKE_SECRET_KEY.encode()}, SecretValueError, r"binary \(SecretBinary\)"),
    ({"SecretString": "[" * 100_000 + "]" * 100_000}, SecretValueError, "nested too deeply"),
    (
        {"SecretString": json.dumps({FAKE_SECRET_KEY: 1, "a": 2, "b": 3, "c": 4})},
        SecretValueError,
        "4 unexpected field",
    ),
    ({"SecretString": json.dumps({"UserName": "root-admin"})}, UserMismatchError, "root-admin"),
]


@pytest.mark.parametrize(("value", "error_class", "message"), BAD_VALUES)
def test_a_bad_current_value_is_refused_before_any_iam_call(
    deployment, call_counter, caplog, value, error_class, message
):
    deployment.replace_current_value(**value)
    token = deployment.stage_rotation()
    call_counter.label = "create"

    with pytest.raises(error_class, match=message) as error:
        deployment.run("createSecret", token)

    assert "AWSCURRENT value" in str(error.value)
    assert FAKE_SECRET_KEY not in str(error.value)
    assert FAKE_SECRET_KEY not in caplog.text
    assert not any(op.startswith("iam.") for op in call_counter.calls["create"])
    assert deployment.access_keys() == {}
    assert deployment.stages()[token] == ["AWSPENDING"]


def test_a_pending_value_naming_another_user_is_refused_before_testing_it(deployment, call_counter):
    token = deployment.stage_rotation_with_pending_value(
        {"UserName": "root-admin", "AccessKeyId": "AKIA1", "SecretAccessKey": "x"}
    )
    call_counter.label = "test"

    for step in ("createSecret", "testSecret"):
        with pytest.raises(UserMismatchError, match="AWSPENDING value"):
            deployment.run(step, token)

    assert not any(op.startswith(("iam.", "sts.")) for op in call_counter.calls["test"])


def test_a_configuration_test_before_the_first_key_passes_mints_nothing_and_says_so(
    deployment, call_counter, caplog
):
    # The deploy enables rotation before its first-key step: AWSCURRENT is the bootstrap.
    token = deployment.stage_configuration_test({"AutomaticallyAfterDays": 30})

    deployment.run("testSecret", token)

    assert deployment.access_keys() == {}
    assert not any(
        op.startswith(("iam.Create", "iam.Delete", "iam.Update")) for op in call_counter.calls[""]
    )
    assert "passed-no-key-yet" in caplog.text

    assert deployment.access_keys() == {}


def test_a_pending_value_without_a_key_is_refused(deployment):
    token = deployment.stage_rotation_with_pending_value({"UserName": deployment.user_name})

    with pytest.raises(SecretValueError, match="holds no access key"):
        deployment.run("testSecret", token)


def test_every_error_is_a_rotation_error_and_a_value_error():
    for error_class in (ConfigurationError, InvalidEventError, SecretStateError, UserMismatchError):
        assert issubclass(error_class, RotationError)
        assert issubclass(error_class, ValueError)


@pytest.mark.parametrize("name", [*STEPS, "RetirePreviousKey", "ProvisionKey"])
def test_the_sample_events_are_valid_events(name):
    request = parse_event(load_sample(name))

    assert request.secret_id.startswith("arn:aws:secretsmanager:")


def load_sample(name):
    return json.loads((Path(__file__).parent / "events" / f"{name}.json").read_text())
