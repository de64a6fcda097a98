"""credrot.client: a boto3 Session whose key comes from the secret and refreshes by itself."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from credrot.app.client import refresh_delay
from credrot.client import session
from credrot.errors import CredentialError

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ai-credential-rotation/bot-AbCdEf"


def frozen(s: Any) -> Any:
    return s.get_credentials().get_frozen_credentials()


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


def test_concurrent_app_calls_read_the_secret_once_per_window(app: App, hammer: Any) -> None:
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
    app: App, consumer: Any, aws: Any, hammer: Any
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


# -- a fleet started together ---------------------------------------------------------------


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999])
def test_refresh_windows_are_jittered_by_twenty_percent_and_the_first_spread_over_one(
    draw: float,
) -> None:
    assert 0 < refresh_delay(900, draw, first=True) <= 900
    assert 720 <= refresh_delay(900, draw, first=False) < 1080
    assert refresh_delay(900, 0.0, first=False) == 720


def test_the_default_secrets_client_backs_off_adaptively_on_throttling(
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    credentials = session(ARN).get_credentials()
    retries = credentials._secrets_client.meta.config.retries
    assert retries["mode"] == "adaptive" and retries["total_max_attempts"] >= 3
