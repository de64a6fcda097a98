"""Fixtures for the rotation Lambda's tests: a moto AWS where rotations are staged the AWS way.

`deployment` holds what the component deploys (an IAM user, its bootstrap secret and a rotation
function registered in moto's Lambda), in the function's isolated mode, or in both modes for
modules that set BOTH_MODES. RotateSecret then stages an AWSPENDING version and
"invokes" the function; moto's invoke is replaced by a recorder, so each test drives the
recorded steps through the real handler itself, step by step. The recorder, the sessions, the
call counter, the fault injector and the invariants are the sandbox's
(``credrot.sandbox.aws``), shared with tests/resilience and bench/faults.py.

Test-side clients come from their own boto3 Session: hooks that tests register on
boto3.DEFAULT_SESSION (call counters, fault injection) therefore see the function's calls only.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.retries.standard
import moto.awslambda.models
import moto.secretsmanager.models
import pytest
from moto import mock_aws

from components import contract
from credrot.app.secret import CURRENT, PENDING
from credrot.sandbox.aws import (
    REGION,
    CallCounter,
    FaultInjector,
    Rotating,
    new_session,
    no_backoff,
    read_snapshot,
    read_value,
    recorded_invoke,
    register_recorded_function,
    stack_function_environment,
    stage_rotation,
    state_violations,
)
from rotation_lambda import clock, propagation
from rotation_lambda.handler import lambda_handler
from rotation_lambda.protocol import USER_SECRET_TAG
from rotation_lambda.settings import SECRET_USER_TAG

EVENTS_DIR = Path(__file__).parent / "events"
USER_NAME = "ai-app-chatbot"
# Isolated mode: any path and name (the function is told its user and secret).
USER_PATH = "/ai-apps/"
SECRET_NAME = "ai-apps/chatbot/access-key"
# Shared mode: the stack's user path and secret name prefix, as the component deploys them.
SHARED_USER_PATH = contract.IAM_PATH
SHARED_SECRET_NAME = f"{contract.RESOURCE_NAME_PREFIX}chatbot-secret"
ROTATOR_ID = "ai-credential-rotation/test"


def reset_default_session() -> None:
    """A fresh boto3.DEFAULT_SESSION (the function's clients use it); hooks start empty."""
    boto3.DEFAULT_SESSION = new_session()


def load_event(name: str, **fields: Any) -> dict[str, Any]:
    """A sample event from events/<name>.json with some fields replaced."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    event.update(fields)
    return event


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy credentials and region only, so nothing can reach real AWS; a fresh default
    session per test, so hooks registered by one test never leak into another."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "IAM_USER_NAME",
        "IAM_USER_ARN",
        "SECRET_ARN",
        "IAM_USER_PATH",
        "SECRET_NAME_PREFIX",
        "PROPAGATION_TIMEOUT_SECONDS",
        "PREVIOUS_KEY_GRACE_HOURS",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    reset_default_session()
    yield
    boto3.DEFAULT_SESSION = None


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Replaces the propagation wait hooks: sleeps are recorded and advance a fake clock;
    jitter is pinned to its maximum so backoff sequences are exact."""
    clock = FakeClock()
    monkeypatch.setattr(propagation, "sleep", clock.sleep)
    monkeypatch.setattr(propagation, "monotonic", clock.monotonic)
    monkeypatch.setattr(propagation, "jitter", lambda: 1.0)
    return clock


class FakeClock:
    """A monotonic clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


class HandlerClock:
    """The function's wall clock (rotation_lambda.clock.now): starts at real time and moves
    only when a test says so, so grace periods of hours pass in no time."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def handler_clock(monkeypatch: pytest.MonkeyPatch) -> HandlerClock:
    """Every test runs the function on a clock it controls."""
    wall = HandlerClock()
    monkeypatch.setattr(clock, "now", wall)
    return wall


@pytest.fixture
def mode() -> str:
    """The rotation function's mode: isolated, unless the module sets BOTH_MODES."""
    return "isolated"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules proving invariants set BOTH_MODES = True: each of their tests that deploys
    runs once per mode (doubling the time, so only those modules)."""
    if getattr(metafunc.module, "BOTH_MODES", False) and "mode" in metafunc.fixturenames:
        metafunc.parametrize("mode", ["isolated", "shared"])


@pytest.fixture
def deployment(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, handler_clock: HandlerClock, mode: str
) -> Iterator[Deployment]:
    """The deployed pieces in moto, and the function's environment as the component sets it."""
    session = boto3.DEFAULT_SESSION
    with mock_aws():
        # mock_aws sets boto3.DEFAULT_SESSION to None while active; keep this test's session
        # so hooks registered on it (by fixtures set up earlier, too) stay in place.
        boto3.DEFAULT_SESSION = session
        yield Deployment(monkeypatch, handler_clock, mode)


class Deployment(Rotating):
    """An IAM user with a bootstrap secret rotated by a (recorded) Lambda function.

    Isolated mode: the function's environment names the user and the secret. Shared mode:
    it names the stack's user path and secret prefix; the secret's tag names the user.
    Both: the user's tag names the secret back (and, shared, the stack's rotator id).
    """

    user_name = USER_NAME

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, handler_clock: HandlerClock, mode: str
    ) -> None:
        self.mode = mode
        self.shared = mode == "shared"
        self.monkeypatch = monkeypatch
        self.clock = handler_clock
        self.session = new_session()
        self.iam = self.session.client("iam")
        self.sm = self.session.client("secretsmanager")
        self.user_path = SHARED_USER_PATH if self.shared else USER_PATH
        self.secret_name = SHARED_SECRET_NAME if self.shared else SECRET_NAME
        self.user_arn = self.add_user(USER_NAME)
        self.secret_arn = self.add_secret(
            self.secret_name, USER_NAME, SecretString=json.dumps({"UserName": USER_NAME})
        )
        self.bind(self.secret_arn)
        self.function_arn = register_recorded_function(self.iam, self.session.client("lambda"))
        self.invocations: list[dict[str, Any]] = []
        monkeypatch.setattr(
            moto.awslambda.models.LambdaBackend, "invoke", recorded_invoke(self.invocations)
        )
        if self.shared:
            for name, value in stack_function_environment(60, 24).items():
                monkeypatch.setenv(name, value)
        else:
            monkeypatch.setenv("IAM_USER_NAME", USER_NAME)
            monkeypatch.setenv("IAM_USER_ARN", self.user_arn)

    # --- deploying (what the component does) --------------------------------------------

    def add_user(self, user_name: str) -> str:
        """An IAM user at this mode's path (shared: tagged with the stack's rotator id)."""
        tags = [{"Key": contract.ROTATOR_TAG, "Value": ROTATOR_ID}] if self.shared else []
        user = self.iam.create_user(UserName=user_name, Path=self.user_path, Tags=tags)
        return str(user["User"]["Arn"])

    def add_secret(self, name: str, user_name: str, **value: Any) -> str:
        """A secret for `user_name` (shared: tagged with the user's name, the pointer the
        function follows); `value`: SecretString=..., or nothing for no version at all."""
        tags = [{"Key": SECRET_USER_TAG, "Value": user_name}] if self.shared else []
        return str(self.sm.create_secret(Name=name, Tags=tags, **value)["ARN"])

    def bind(self, secret_arn: str, user_name: str = USER_NAME) -> None:
        """Bind the user to `secret_arn`: its reverse tag (both modes); in isolated mode the
        function's SECRET_ARN too (the shared function learns the secret from the event)."""
        self.iam.tag_user(UserName=user_name, Tags=[{"Key": USER_SECRET_TAG, "Value": secret_arn}])
        if not self.shared and user_name == USER_NAME:
            self.monkeypatch.setenv("SECRET_ARN", secret_arn)

    def add_consumer(self, consumer: str) -> Deployment:
        """Another consumer of the same stack, served by the same function: its own user and
        secret, bound both ways. The returned view drives and reads that consumer."""
        other = copy.copy(self)
        other.user_name = f"ai-app-{consumer}"
        other.secret_name = f"{contract.RESOURCE_NAME_PREFIX}{consumer}-secret"
        other.user_arn = self.add_user(other.user_name)
        other.secret_arn = self.add_secret(
            other.secret_name,
            other.user_name,
            SecretString=json.dumps({"UserName": other.user_name}),
        )
        self.bind(other.secret_arn, other.user_name)
        return other

    # --- driving rotations -------------------------------------------------------------

    def stage_rotation(self) -> str:
        """RotateSecret as AWS does it: stages AWSPENDING with no value; returns the token."""
        self.invocations.clear()
        return stage_rotation(self.sm, self.secret_name, self.function_arn, self.invocations)

    def stage_rotation_with_pending_value(self, value: dict[str, Any]) -> str:
        """A staged rotation whose AWSPENDING version holds ``value`` (as a hand-written or
        tampered value would); returns the token."""
        token = self.stage_rotation()
        self.sm.put_secret_value(
            SecretId=self.secret_name,
            ClientRequestToken=token,
            VersionStages=[PENDING],
            SecretString=json.dumps(value),
        )
        return token

    def stage_configuration_test(self, rules: dict[str, Any]) -> str:
        """RotateSecret with RotateImmediately=false, as the provider calls it on every change
        of the rotation rules: AWS stages an AWSPENDING version with NO value and invokes only
        testSecret. (moto copies the current value into it: that copy is removed here.)"""
        self.invocations.clear()
        self.sm.rotate_secret(
            SecretId=self.secret_name,
            RotationLambdaARN=self.function_arn,
            RotationRules=rules,
            RotateImmediately=False,
        )
        assert [event["Step"] for event in self.invocations] == ["testSecret"]
        token = str(self.invocations[0]["ClientRequestToken"])
        backend = moto.secretsmanager.models.secretsmanager_backends["123456789012"][REGION]
        backend.secrets[self.secret_name].versions[token].pop("secret_string", None)
        return token

    def end_configuration_test(self, token: str) -> None:
        """What AWS does after the configuration test: the staged version goes."""
        self.sm.update_secret_version_stage(
            SecretId=self.secret_name, VersionStage=PENDING, RemoveFromVersionId=token
        )

    def run(self, step: str, token: str, secret_id: str | None = None) -> None:
        """Invoke the handler for one step, as Secrets Manager does."""
        secret_id = secret_id or self.secret_name
        lambda_handler(load_event(step, SecretId=secret_id, ClientRequestToken=token), None)

    def run_step(self, step: str, token: str) -> None:
        self.run(step, token)

    def rotate_fully(self) -> str:
        """Stage a rotation and run its four steps; returns the token."""
        return self.rotate()

    def retire_previous_key(self) -> dict[str, Any]:
        """Invoke the scheduled sweep; returns its decision."""
        result = lambda_handler(load_event("RetirePreviousKey", SecretId=self.secret_name), None)
        assert result is not None
        return result

    def let_grace_pass(self, hours: float = 24) -> None:
        """Move the function's clock past the (default 24 h) grace of the replaced key."""
        self.clock.advance(hours=hours, seconds=1)

    # --- reading state -----------------------------------------------------------------

    def value(self, stage: str = CURRENT) -> dict[str, Any]:
        """The parsed value of the version carrying `stage` (always named: see FIELD-NOTES)."""
        response = self.sm.get_secret_value(SecretId=self.secret_name, VersionStage=stage)
        return dict(json.loads(response["SecretString"]))

    def stages(self) -> dict[str, list[str]]:
        """VersionIdsToStages."""
        return dict(self.sm.describe_secret(SecretId=self.secret_name)["VersionIdsToStages"])

    def version_with(self, stage: str) -> str | None:
        return next((v for v, stages in self.stages().items() if stage in stages), None)

    def access_keys(self) -> dict[str, str]:
        """The user's access keys: id -> Status."""
        listed = self.iam.list_access_keys(UserName=self.user_name)["AccessKeyMetadata"]
        return {item["AccessKeyId"]: item["Status"] for item in listed}

    def recorded_key_ids(self) -> set[str]:
        """Key ids recorded in any labelled version of the secret."""
        values = [read_value(self.sm, self.secret_name, version_id=v) for v in self.stages()]
        return {value["AccessKeyId"] for value in values if value and value.get("AccessKeyId")}

    def authenticates_as(self, value: dict[str, Any]) -> str:
        """The ARN STS reports for the key in `value` (compare it: moto checks no credentials)."""
        sts = self.session.client(
            "sts",
            aws_access_key_id=value["AccessKeyId"],
            aws_secret_access_key=value["SecretAccessKey"],
        )
        return str(sts.get_caller_identity()["Arn"])

    def assert_nothing_leaked(self) -> None:
        """<= 2 keys, every Active key recorded in the secret, AWSCURRENT authenticates as
        exactly the user (valid mid-rotation too): the sandbox's invariants 1-3."""
        state = read_snapshot(self.sm, self.iam, self.secret_name, self.user_name, {})
        current = read_value(self.sm, self.secret_name, stage=CURRENT)
        found = state_violations(
            state, current, self.authenticates_as, self.user_arn, rotation_in_progress=True
        )
        assert found == []

    def assert_healthy(self) -> None:
        """Nothing leaked, and no rotation left half-done."""
        self.assert_nothing_leaked()
        pending = self.version_with(PENDING)
        assert pending is None or pending == self.version_with(CURRENT)

    # --- arranging state ---------------------------------------------------------------

    def create_stray_key(self, *, active: bool = True) -> str:
        """A key someone created by hand on the user, outside the rotation."""
        key_id = str(
            self.iam.create_access_key(UserName=self.user_name)["AccessKey"]["AccessKeyId"]
        )
        if not active:
            self.iam.update_access_key(
                UserName=self.user_name, AccessKeyId=key_id, Status="Inactive"
            )
        return key_id

    def replace_current_value(self, **value: Any) -> None:
        """Make a new AWSCURRENT version (SecretString= or SecretBinary=). Staged under a custom
        label first, then AWSCURRENT is moved: moto's plain put can leave two AWSCURRENT."""
        new_version = self.sm.put_secret_value(
            SecretId=self.secret_name, VersionStages=["REPLACEMENT"], **value
        )["VersionId"]
        self.sm.update_secret_version_stage(
            SecretId=self.secret_name,
            VersionStage=CURRENT,
            MoveToVersionId=new_version,
            RemoveFromVersionId=self.version_with(CURRENT),
        )
        self.sm.update_secret_version_stage(
            SecretId=self.secret_name, VersionStage="REPLACEMENT", RemoveFromVersionId=new_version
        )


# --- observing and disturbing the function's calls (botocore's own event system) ---------


@pytest.fixture
def call_counter() -> CallCounter:
    """Counts calls made through boto3's default session (the function's clients)."""
    return CallCounter(boto3.DEFAULT_SESSION.events)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> FaultInjector:
    """Error injection; botocore still retries lost responses, minus its backoff sleeps."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", no_backoff)
    return FaultInjector(boto3.DEFAULT_SESSION.events)


@pytest.fixture
def auth_failures() -> Callable[..., None]:
    """`auth_failures(n)`: the next n GetCallerIdentity calls fail with InvalidClientTokenId,
    as AWS answers a key IAM has not propagated yet (moto checks no credentials)."""
    injector = FaultInjector(boto3.DEFAULT_SESSION.events)

    def arm(times: int, code: str = "InvalidClientTokenId") -> None:
        for occurrence in range(1, times + 1):
            injector.fail("sts.GetCallerIdentity", code=code, status=403, occurrence=occurrence)

    return arm
