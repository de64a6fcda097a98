"""credrot.client: a boto3 Session whose key comes from the secret and refreshes by itself."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from credrot.app.client import SecretCredentials, refresh_delay
from credrot.app.secret import DEFAULT_REFRESH_SECONDS
from credrot.client import session
from credrot.errors import CredentialError

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ai-credential-rotation/bot-AbCdEf"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
VALUE = json.dumps({"UserName": "bot", "AccessKeyId": "AKIAEXAMPLE1", "SecretAccessKey": SECRET})


class FakeSecrets:
    """A Secrets Manager client stand-in: serves ``values`` in turn, counts reads."""

    def __init__(self, *values: Any, delay: float = 0.0) -> None:
        self._values = list(values)
        self._delay = delay
        self._lock = threading.Lock()
        self.reads = 0

    def get_secret_value(self, SecretId: str, VersionStage: str) -> dict[str, Any]:
        assert VersionStage == "AWSCURRENT"
        with self._lock:
            self.reads += 1
            value = self._values[min(self.reads, len(self._values)) - 1]
        time.sleep(self._delay)
        if isinstance(value, Exception):
            raise value
        if isinstance(value, dict):
            return value
        return {"SecretString": value}


def denied() -> ClientError:
    return ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "GetSecretValue"
    )


def frozen(s: Any) -> Any:
    return s.get_credentials().get_frozen_credentials()


def hammer(threads: int, calls: int, action: Any) -> list[BaseException]:
    """Run ``action`` ``calls`` times in each of ``threads`` threads started together."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        for _ in range(calls):
            try:
                action()
            except BaseException as error:
                errors.append(error)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


# -- refresh, without AWS -------------------------------------------------------------------


def test_the_default_refresh_window_is_well_inside_the_previous_key_grace_period() -> None:
    assert DEFAULT_REFRESH_SECONDS <= 3600
    assert DEFAULT_REFRESH_SECONDS * 10 < 24 * 3600


def test_the_secret_is_read_on_first_use_not_when_the_session_is_made() -> None:
    secrets = FakeSecrets(VALUE)
    s = session(ARN, secrets_client=secrets)
    assert secrets.reads == 0
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert secrets.reads == 1


def test_the_session_region_comes_from_the_secret_arn() -> None:
    s = session(ARN, secrets_client=FakeSecrets(VALUE))
    assert s.region_name == "eu-west-1"
    assert session(ARN, region_name="us-west-2", secrets_client=FakeSecrets(VALUE)).region_name == (
        "us-west-2"
    )


def test_many_threads_share_one_secret_read_per_window() -> None:
    secrets = FakeSecrets(VALUE, delay=0.05)
    s = session(ARN, secrets_client=secrets)
    errors = hammer(32, 50, lambda: frozen(s))
    assert errors == []
    assert secrets.reads == 1


def test_the_secret_is_read_again_once_when_the_window_ends(clock: Any) -> None:
    rotated = VALUE.replace("AKIAEXAMPLE1", "AKIAEXAMPLE2")
    secrets = FakeSecrets(VALUE, rotated, delay=0.02)
    s = session(ARN, refresh_seconds=300, secrets_client=secrets)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    hammer(16, 20, lambda: frozen(s))
    assert secrets.reads == 1
    clock.advance(301)
    errors = hammer(16, 20, lambda: frozen(s))
    assert errors == []
    assert secrets.reads == 2
    assert frozen(s).access_key == "AKIAEXAMPLE2"


def test_botocore_early_refresh_is_off_so_a_window_is_not_refreshed_on_every_call() -> None:
    assert SecretCredentials._advisory_refresh_timeout == 0
    assert SecretCredentials._mandatory_refresh_timeout == 0
    secrets = FakeSecrets(VALUE)
    s = session(ARN, refresh_seconds=60, secrets_client=secrets)
    for _ in range(100):
        frozen(s)
    assert secrets.reads == 1


def test_a_failed_refresh_keeps_the_current_key_and_retries_next_window(
    output: Any, clock: Any
) -> None:
    secrets = FakeSecrets(VALUE, denied(), "not json " + SECRET)
    s = session(ARN, refresh_seconds=100, secrets_client=secrets)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    clock.advance(101)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert secrets.reads == 2
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert secrets.reads == 2  # not again before the next window
    clock.advance(121)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert secrets.reads == 3
    logged = output()
    assert "keeping key AKIAEXAMPLE1" in logged
    assert SECRET not in logged


# -- errors ---------------------------------------------------------------------------------


def test_a_bootstrap_secret_says_rotation_has_not_minted_a_key_yet() -> None:
    s = session(ARN, secrets_client=FakeSecrets(json.dumps({"UserName": "bot"})))
    with pytest.raises(CredentialError) as error:
        frozen(s)
    message = str(error.value)
    assert "rotation has not minted a key yet" in message
    assert f"credrot rotate {ARN}" in message


@pytest.mark.parametrize(
    "value",
    [
        "not json at all " + SECRET,
        json.dumps([SECRET]),
        json.dumps({"UserName": "bot", "SecretAccessKey": SECRET}),
        json.dumps({"AccessKeyId": "AKIAEXAMPLE1", "SecretAccessKey": SECRET}),
        json.dumps({"UserName": "bot", "AccessKeyId": 7, "SecretAccessKey": SECRET}),
        {"SecretBinary": SECRET.encode()},
    ],
    ids=["not-json", "list", "no-key-id", "no-user", "key-id-not-text", "binary"],
)
def test_a_malformed_secret_is_a_credential_error_that_never_echoes_the_value(
    value: Any, output: Any
) -> None:
    s = session(ARN, secrets_client=FakeSecrets(value))
    with pytest.raises(CredentialError) as error:
        frozen(s)
    assert ARN in str(error.value)
    assert SECRET not in str(error.value)
    assert SECRET not in repr(error.value)
    assert error.value.__cause__ is None
    assert SECRET not in output()


def test_an_unreadable_secret_names_the_secret_the_error_and_the_permission() -> None:
    s = session(ARN, secrets_client=FakeSecrets(denied()))
    with pytest.raises(CredentialError, match=r"AccessDeniedException.*GetSecretValue"):
        frozen(s)


@pytest.mark.parametrize("refresh_seconds", [0, -1, float("nan"), float("inf")])
def test_a_refresh_window_must_be_a_positive_number(refresh_seconds: float) -> None:
    with pytest.raises(ValueError, match="refresh_seconds"):
        session(ARN, refresh_seconds=refresh_seconds, secrets_client=FakeSecrets(VALUE))


def test_a_secret_id_is_required() -> None:
    with pytest.raises(ValueError, match="secret_id"):
        session(" ", secrets_client=FakeSecrets(VALUE))


def test_no_region_at_all_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(CredentialError, match="no AWS region"):
        session("ai-credential-rotation/bot")


def test_repr_of_the_session_credentials_and_frozen_credentials_hide_the_secret() -> None:
    s = session(ARN, secrets_client=FakeSecrets(VALUE))
    credentials = s.get_credentials()
    shown = " ".join([repr(s), str(s), repr(credentials), repr(frozen(s)), str(frozen(s))])
    assert SECRET not in shown
    assert "AKIAEXAMPLE1" in repr(frozen(s))


# -- against the emulator (IAM authentication on) -------------------------------------------


def counted_session(aws: Any, consumer: Any, **options: Any) -> tuple[Any, Any]:
    """A credrot session on the consumer's secret, read as the app, and its read counter."""
    secrets, reads = aws.reader_client(consumer)
    return session(consumer.secret_arn, secrets_client=secrets, **options), reads


class App:
    """The app side of one test: a default credrot session, its STS client and its read counter."""

    def __init__(self, aws: Any, consumer: Any) -> None:
        self.session, self.reads = counted_session(aws, consumer)
        self.sts = self.session.client("sts")


@pytest.fixture
def app(consumer: Any, aws: Any, operator_env: Any) -> App:
    return App(aws, consumer)


def test_the_session_authenticates_as_the_consumer_with_the_current_key(
    consumer: Any, aws: Any, operator_env: Any
) -> None:
    s, reads = counted_session(aws, consumer)
    assert aws.whoami(s) == consumer.user_arn
    assert frozen(s).access_key == aws.current_value(consumer)["AccessKeyId"]
    assert reads.count == 1


def test_the_default_secrets_client_uses_the_apps_own_identity(
    consumer: Any, aws: Any, emulator: Any
) -> None:
    with emulator.environ(consumer.reader):
        s = session(consumer.secret_arn)
        assert aws.whoami(s) == consumer.user_arn


def test_the_session_follows_a_rotation_after_its_window(
    consumer: Any, aws: Any, operator_env: Any, clock: Any
) -> None:
    s, reads = counted_session(aws, consumer, refresh_seconds=60)
    first = frozen(s).access_key
    new_key = aws.rotate(consumer)
    assert frozen(s).access_key == first  # the previous key still works: no hurry
    clock.advance(61)
    assert aws.whoami(s) == consumer.user_arn
    assert frozen(s).access_key == new_key != first
    assert reads.count == 2


def test_concurrent_app_calls_read_the_secret_once_per_window(app: App) -> None:
    errors = hammer(12, 5, lambda: app.sts.get_caller_identity())
    assert errors == []
    assert app.reads.count == 1


def test_a_key_deleted_under_the_app_is_refreshed_and_the_call_retried(
    app: App, consumer: Any, aws: Any
) -> None:
    held = frozen(app.session).access_key
    aws.rotate(consumer)
    aws.rotate(consumer)  # the second rotation deletes the key the app still holds
    assert held not in aws.user_keys(consumer)
    response = app.sts.get_caller_identity()
    assert response["Arn"] == consumer.user_arn
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert app.reads.count == 2


def test_a_deactivated_key_is_refreshed_and_the_s3_call_retried(
    app: App, consumer: Any, aws: Any, emulator: Any
) -> None:
    s3 = app.session.client("s3")
    held = frozen(app.session).access_key
    aws.rotate(consumer)
    emulator.client("iam").update_access_key(
        UserName=consumer.user_name, AccessKeyId=held, Status="Inactive"
    )
    body = s3.get_object(Bucket=consumer.bucket, Key=consumer.object_keys[0])["Body"].read()
    assert body.startswith(consumer.object_keys[0].encode())
    assert app.reads.count == 2


def test_threads_failing_with_the_same_stale_key_share_one_refresh(
    app: App, consumer: Any, aws: Any
) -> None:
    app.sts.get_caller_identity()
    aws.rotate(consumer)
    aws.rotate(consumer)
    arns: list[str] = []
    errors = hammer(8, 1, lambda: arns.append(app.sts.get_caller_identity()["Arn"]))
    assert errors == []
    assert arns == [consumer.user_arn] * 8
    assert app.reads.count == 2


def test_a_call_is_retried_only_once(app: App, consumer: Any, emulator: Any) -> None:
    sts = app.sts
    attempts: list[str] = []
    sts.meta.events.register("before-send.sts.GetCallerIdentity", lambda **kw: attempts.append("x"))
    held = frozen(app.session).access_key
    # The key the secret records is deleted: re-reading the secret cannot help.
    emulator.client("iam").delete_access_key(UserName=consumer.user_name, AccessKeyId=held)
    with pytest.raises(ClientError) as error:
        sts.get_caller_identity()
    assert error.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert len(attempts) == 2
    assert app.reads.count == 2
    attempts.clear()
    with pytest.raises(ClientError):
        sts.get_caller_identity()
    assert len(attempts) == 2  # each call gets its own single retry


def test_without_the_retry_a_deleted_key_fails_the_call(
    consumer: Any, aws: Any, operator_env: Any
) -> None:
    s, _ = counted_session(aws, consumer, retry_on_auth_failure=False)
    sts = s.client("sts")
    sts.get_caller_identity()
    aws.rotate(consumer)
    aws.rotate(consumer)
    with pytest.raises(ClientError) as error:
        sts.get_caller_identity()
    assert error.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_a_bootstrap_secret_fails_the_first_call_with_the_credential_error(
    bootstrap_consumer: Any, aws: Any, operator_env: Any
) -> None:
    s, _ = counted_session(aws, bootstrap_consumer)
    with pytest.raises(CredentialError, match="rotation has not minted a key yet"):
        s.client("sts").get_caller_identity()


def test_no_secret_access_key_is_printed_or_logged_by_the_client(
    consumer: Any, aws: Any, operator_env: Any, output: Any
) -> None:
    s, _ = counted_session(aws, consumer, refresh_seconds=0.2)
    sts = s.client("sts")
    secret = aws.current_value(consumer)["SecretAccessKey"]
    sts.get_caller_identity()
    aws.rotate(consumer)
    aws.rotate(consumer)
    sts.get_caller_identity()
    print(repr(s), repr(s.get_credentials()), repr(frozen(s)))
    assert secret not in output()


def test_a_key_read_on_a_stalled_machine_is_used_even_if_its_window_is_already_over(
    monkeypatch: pytest.MonkeyPatch, clock: Any
) -> None:
    # Each look at the clock finds a whole window gone: a process paused (CPU starved,
    # GC, a laptop lid) between reading the key and using it. The key itself never
    # expires, so the call goes ahead and the next one reads again.
    import credrot.app.client

    def stalled() -> Any:
        clock.advance(10.0)
        return clock()

    monkeypatch.setattr(credrot.app.client, "_now", stalled)
    secrets = FakeSecrets(VALUE)
    s = session(ARN, refresh_seconds=10.0, secrets_client=secrets)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    assert secrets.reads == 2


# -- a fleet started together ---------------------------------------------------------------


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999])
def test_refresh_windows_are_jittered_by_twenty_percent_and_the_first_spread_over_one(
    draw: float,
) -> None:
    assert 0 < refresh_delay(900, draw, first=True) <= 900
    assert 720 <= refresh_delay(900, draw, first=False) < 1080
    assert refresh_delay(900, 0.0, first=False) == 720


def test_a_hundred_sessions_started_together_reread_spread_over_the_window(clock: Any) -> None:
    window = 100.0
    fleet = [FakeSecrets(VALUE) for _ in range(100)]
    sessions = [session(ARN, refresh_seconds=window, secrets_client=s) for s in fleet]
    for s in sessions:
        frozen(s)
    per_tenth = []
    for _ in range(10):
        clock.advance(window / 10)
        before = sum(s.reads for s in fleet)
        for s in sessions:
            frozen(s)
        per_tenth.append(sum(s.reads for s in fleet) - before)
    assert all(s.reads >= 2 for s in fleet)  # each re-read within its first window
    assert max(per_tenth) <= 15, per_tenth  # lockstep would be [0, ..., 0, 100]


def test_a_throttled_refresh_keeps_the_key_and_waits_a_window_not_a_moment(
    clock: Any, output: Any
) -> None:
    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetSecretValue"
    )
    secrets = FakeSecrets(VALUE, throttled, VALUE)
    s = session(ARN, refresh_seconds=100, secrets_client=secrets)
    frozen(s)
    clock.advance(101)
    assert frozen(s).access_key == "AKIAEXAMPLE1"
    for _ in range(50):
        frozen(s)
    clock.advance(79)  # less than the shortest jittered window (80 s)
    frozen(s)
    assert secrets.reads == 2
    assert "ThrottlingException" in output()


def test_the_default_secrets_client_backs_off_adaptively_on_throttling(
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    credentials = session(ARN).get_credentials()
    retries = credentials._secrets_client.meta.config.retries
    assert retries["mode"] == "adaptive" and retries["total_max_attempts"] >= 3
