"""credrot.client's refresh window and errors, against a real secret in moto (in process).

No emulator here: these tests need only Secrets Manager, and a fake clock decides when a
window ends. moto's state is global and ``mock_aws`` resets it, so they live apart from the
emulator's modules (FIELD-NOTES: one moto at a time).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from credrot.app.client import SecretCredentials
from credrot.app.secret import DEFAULT_REFRESH_SECONDS
from credrot.client import session
from credrot.errors import CredentialError
from credrot.sandbox.aws import FaultInjector
from tests.app_side.conftest import ReadCounter

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
VALUE = json.dumps({"UserName": "bot", "AccessKeyId": "AKIAEXAMPLE1", "SecretAccessKey": SECRET})
ROTATED = VALUE.replace("AKIAEXAMPLE1", "AKIAEXAMPLE2")
READ = "secrets-manager.GetSecretValue"
_names = itertools.count(1)


class Secret:
    """One secret in moto and its ``reads``: the GetSecretValue calls made for it (each
    taking ``delay`` first)."""

    def __init__(self, client: SecretsManagerClient, value: str | bytes, delay: float = 0.0):
        self.client = client
        name = f"ai-credential-rotation/bot-{next(_names)}"
        if isinstance(value, bytes):
            self.arn = client.create_secret(Name=name, SecretBinary=value)["ARN"]
        else:
            self.arn = client.create_secret(Name=name, SecretString=value)["ARN"]
        self.reads = ReadCounter(client, self.arn, delay)

    def rotate(self, value: str) -> None:
        """A new AWSCURRENT value, as a rotation's finishSecret leaves it."""
        self.client.put_secret_value(SecretId=self.arn, SecretString=value)


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretsManagerClient]:
    """A Secrets Manager client on moto in process (the app_side default endpoint, an
    unreachable port, is for the emulator's tests)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")


@pytest.fixture
def secret(secrets_manager: SecretsManagerClient) -> Secret:
    return Secret(secrets_manager, VALUE)


@pytest.fixture
def faults(secrets_manager: SecretsManagerClient) -> FaultInjector:
    """The sandbox's fault injector on the client the sessions read with."""
    return FaultInjector(secrets_manager.meta.events)


def frozen(s: Any) -> Any:
    return s.get_credentials().get_frozen_credentials()


def test_the_default_refresh_window_is_well_inside_the_previous_key_grace_period() -> None:
    assert DEFAULT_REFRESH_SECONDS <= 3600
    assert DEFAULT_REFRESH_SECONDS * 10 < 24 * 3600


def test_the_secret_is_read_on_first_use_not_when_the_session_is_made(secret: Secret) -> None:
    s = session(secret.arn, secrets_client=secret.client)
    assert secret.reads.count == 0
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert secret.reads.count == 1


def test_the_session_region_comes_from_the_secret_arn(secret: Secret) -> None:
    s = session(secret.arn, secrets_client=secret.client)
    assert s.region_name == "eu-west-1"
    other = session(secret.arn, region_name="us-west-2", secrets_client=secret.client)
    assert other.region_name == "us-west-2"


def test_many_threads_share_one_secret_read_per_window(
    secrets_manager: SecretsManagerClient, hammer: Any
) -> None:
    secret = Secret(secrets_manager, VALUE, delay=0.05)
    s = session(secret.arn, secrets_client=secret.client)
    errors = hammer(32, 50, lambda: frozen(s))
    assert errors == []
    assert secret.reads.count == 1


def test_the_secret_is_read_again_once_when_the_window_ends(
    secrets_manager: SecretsManagerClient, clock: Any, hammer: Any
) -> None:
    secret = Secret(secrets_manager, VALUE, delay=0.02)
    s = session(secret.arn, refresh_seconds=300, secrets_client=secret.client)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    secret.rotate(ROTATED)
    hammer(16, 20, lambda: frozen(s))
    assert secret.reads.count == 1
    assert frozen(s).access_key == "AKIAEXAMPLE1"  # the window is not over yet
    clock.advance(301)
    errors = hammer(16, 20, lambda: frozen(s))
    assert errors == []
    assert secret.reads.count == 2
    assert frozen(s).access_key == "AKIAEXAMPLE2"


def test_botocore_early_refresh_is_off_so_a_window_is_not_refreshed_on_every_call(
    secret: Secret,
) -> None:
    assert SecretCredentials._advisory_refresh_timeout == 0
    assert SecretCredentials._mandatory_refresh_timeout == 0
    s = session(secret.arn, refresh_seconds=60, secrets_client=secret.client)
    for _ in range(100):
        frozen(s)
    assert secret.reads.count == 1


def test_a_failed_refresh_keeps_the_current_key_and_retries_next_window(
    secret: Secret, faults: FaultInjector, output: Any, clock: Any
) -> None:
    s = session(secret.arn, refresh_seconds=100, secrets_client=secret.client)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    faults.fail(READ, code="AccessDeniedException", status=400)
    clock.advance(101)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert secret.reads.count == 2
    assert faults.injected == [READ]
    secret.rotate("not json " + SECRET)  # then a broken value: kept key again
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert secret.reads.count == 2  # not again before the next window
    clock.advance(121)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert secret.reads.count == 3
    logged = output()
    assert "keeping key AKIAEXAMPLE1" in logged
    assert SECRET not in logged


def test_a_throttled_refresh_keeps_the_key_and_waits_a_window_not_a_moment(
    secret: Secret, faults: FaultInjector, clock: Any, output: Any
) -> None:
    s = session(secret.arn, refresh_seconds=100, secrets_client=secret.client)
    frozen(s)
    faults.fail(READ, code="ThrottlingException", status=400)
    clock.advance(101)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    for _ in range(50):
        frozen(s)
    clock.advance(79)  # less than the shortest jittered window (80 s)
    frozen(s)
    assert secret.reads.count == 2
    assert "ThrottlingException" in output()


def test_a_key_read_on_a_stalled_machine_is_used_even_if_its_window_is_already_over(
    secret: Secret, monkeypatch: pytest.MonkeyPatch, clock: Any
) -> None:
    # Each look at the clock finds a whole window gone: a process paused (CPU starved,
    # GC, a laptop lid) between reading the key and using it. The key itself never
    # expires, so the call goes ahead and the next one reads again.
    import credrot.app.client

    def stalled() -> Any:
        clock.advance(10.0)
        return clock()

    monkeypatch.setattr(credrot.app.client, "_now", stalled)
    s = session(secret.arn, refresh_seconds=10.0, secrets_client=secret.client)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert secret.reads.count == 2


def test_a_hundred_sessions_started_together_reread_spread_over_the_window(
    secrets_manager: SecretsManagerClient, clock: Any
) -> None:
    window = 100.0
    fleet = [Secret(secrets_manager, VALUE) for _ in range(100)]
    sessions = [
        session(secret.arn, refresh_seconds=window, secrets_client=secrets_manager)
        for secret in fleet
    ]
    for s in sessions:
        frozen(s)
    per_tenth = []
    for _ in range(10):
        clock.advance(window / 10)
        before = sum(secret.reads.count for secret in fleet)
        for s in sessions:
            frozen(s)
        per_tenth.append(sum(secret.reads.count for secret in fleet) - before)
    assert all(secret.reads.count >= 2 for secret in fleet)  # each re-read within its first window
    assert max(per_tenth) <= 15, per_tenth  # lockstep would be [0, ..., 0, 100]


# -- errors ---------------------------------------------------------------------------------


def test_a_bootstrap_secret_says_rotation_has_not_minted_a_key_yet(
    secrets_manager: SecretsManagerClient,
) -> None:
    secret = Secret(secrets_manager, json.dumps({"UserName": "bot"}))
    s = session(secret.arn, secrets_client=secrets_manager)
    with pytest.raises(CredentialError) as error:
        frozen(s)
    message = str(error.value)
    assert "rotation has not minted a key yet" in message
    assert f"credrot rotate {secret.arn}" in message


@pytest.mark.parametrize(
    "value",
    [
        "not json at all " + SECRET,
        json.dumps([SECRET]),
        json.dumps({"UserName": "bot", "SecretAccessKey": SECRET}),
        json.dumps({"AccessKeyId": "AKIAEXAMPLE1", "SecretAccessKey": SECRET}),
        json.dumps({"UserName": "bot", "AccessKeyId": 7, "SecretAccessKey": SECRET}),
        SECRET.encode(),
    ],
    ids=["not-json", "list", "no-key-id", "no-user", "key-id-not-text", "binary"],
)
def test_a_malformed_secret_is_a_credential_error_that_never_echoes_the_value(
    secrets_manager: SecretsManagerClient, value: str | bytes, output: Any
) -> None:
    secret = Secret(secrets_manager, value)
    s = session(secret.arn, secrets_client=secrets_manager)
    with pytest.raises(CredentialError) as error:
        frozen(s)
    assert secret.arn in str(error.value)
    assert SECRET not in str(error.value)
    assert SECRET not in repr(error.value)
    assert error.value.__cause__ is None
    assert SECRET not in output()


def test_an_unreadable_secret_names_the_secret_the_error_and_the_permission(
    secret: Secret, faults: FaultInjector
) -> None:
    faults.fail(READ, code="AccessDeniedException", status=400)
    s = session(secret.arn, secrets_client=secret.client)
    with pytest.raises(CredentialError, match=r"AccessDeniedException.*GetSecretValue") as error:
        frozen(s)
    assert secret.arn in str(error.value)


@pytest.mark.parametrize("refresh_seconds", [0, -1, float("nan"), float("inf")])
def test_a_refresh_window_must_be_a_positive_number(secret: Secret, refresh_seconds: float) -> None:
    with pytest.raises(ValueError, match="refresh_seconds"):
        session(secret.arn, refresh_seconds=refresh_seconds, secrets_client=secret.client)


def test_a_secret_id_is_required(secret: Secret) -> None:
    with pytest.raises(ValueError, match="secret_id"):
        session(" ", secrets_client=secret.client)


def test_no_region_at_all_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(CredentialError, match="no AWS region"):
        session("ai-credential-rotation/bot")


def test_repr_of_the_session_credentials_and_frozen_credentials_hide_the_secret(
    secret: Secret,
) -> None:
    s = session(secret.arn, secrets_client=secret.client)
    credentials = s.get_credentials()
    shown = " ".join([repr(s), str(s), repr(credentials), repr(frozen(s)), str(frozen(s))])
    assert SECRET not in shown
    assert "AKIAEXAMPLE1" in repr(frozen(s))
