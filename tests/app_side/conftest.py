"""Fixtures for the app-side tests: credrot's client, CLI and drill against the emulator.

Nothing here can reach real AWS: every test runs with dummy credentials, no AWS config
files and AWS_ENDPOINT_URL pointing at a closed local port, unless it points botocore at
the embedded emulator itself.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from components.config import SelfRead
from credrot.sandbox.aws import LOADER
from credrot.sandbox.emulator import CALLER_CIDR, AccessKeyPair, Emulator
from credrot.sandbox.provision import Consumer, provision_consumer

# Port 9 (discard) is closed here: a call that escapes the emulator fails at once.
UNREACHABLE_ENDPOINT = "http://127.0.0.1:9"
_names = itertools.count(1)


@pytest.fixture(autouse=True)
def no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Dummy credentials and region; no profile, empty config files, no metadata service."""
    files = tmp_path_factory.mktemp("aws-files")
    for name in ("config", "credentials"):
        (files / name).touch(mode=0o600)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(files / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(files / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", UNREACHABLE_ENDPOINT)


@pytest.fixture(scope="module", autouse=True)
def shared_botocore_loader() -> Iterator[None]:
    """Speed only: every botocore session in this process (credrot's own too) shares the
    sandbox's model loader, so a client costs milliseconds instead of re-reading the
    service's JSON model each time."""
    import botocore.session

    original = botocore.session.create_loader
    botocore.session.create_loader = lambda *_, **__: LOADER
    yield
    botocore.session.create_loader = original


class FakeClock:
    """The clock credrot sessions measure refresh windows with, moved by hand."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Sessions made during the test see this clock: windows end when the test says."""
    import credrot.app.client

    fake = FakeClock()
    monkeypatch.setattr(credrot.app.client, "_now", fake)
    return fake


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator per test module (moto's state is global: one at a time)."""
    with Emulator() as running:
        yield running


@contextmanager
def provisioned(emulator: Emulator, prefix: str, **options: Any) -> Iterator[Consumer]:
    """A freshly provisioned consumer (``provision_consumer(**options)``) named ``prefix``
    and a number, IAM authentication on while the block runs."""
    emulator.disable_iam_authentication()
    created = provision_consumer(emulator, f"{prefix}{next(_names)}", **options)
    emulator.enable_iam_authentication()
    yield created
    emulator.disable_iam_authentication()


@pytest.fixture
def consumer(emulator: Emulator) -> Iterator[Consumer]:
    """A freshly provisioned consumer with one key, IAM authentication on during the test."""
    # Time compressed: rotations follow each other at once, each past the previous key's grace.
    with provisioned(emulator, "app", previous_key_grace_hours=0) as created:
        yield created


@pytest.fixture
def bootstrap_consumer(emulator: Emulator) -> Iterator[Consumer]:
    """A consumer whose secret still holds only {"UserName": ...} (rotation enabled)."""
    with provisioned(emulator, "boot", first_rotation=False) as created:
        yield created


@pytest.fixture
def self_read_consumer(emulator: Emulator) -> Iterator[Consumer]:
    """A consumer with one key and selfRead from the emulator's callers' address."""
    self_read = SelfRead(source_cidrs=(CALLER_CIDR,))
    with provisioned(emulator, "self", previous_key_grace_hours=0, self_read=self_read) as created:
        yield created


@pytest.fixture
def operator_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point boto3 (and the CLI) at the emulator with the operator's credentials."""
    variables = emulator.env()
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


class SecretWatch:
    """Every secret access key minted in the emulator during a test, to prove none leaks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret:
            with self._lock:
                self.secrets.add(secret)

    def assert_absent(self, *texts: str) -> None:
        assert self.secrets, "the watch saw no secret: it would prove nothing"
        for text in texts:
            for secret in self.secrets:
                assert secret not in text


@pytest.fixture
def secret_watch(monkeypatch: pytest.MonkeyPatch) -> SecretWatch:
    """Record the SecretAccessKey of every key moto creates from now on."""
    from moto.iam.models import IAMBackend

    watch = SecretWatch()
    original = IAMBackend.create_access_key

    def create_access_key(backend: Any, *args: Any, **kwargs: Any) -> Any:
        key = original(backend, *args, **kwargs)
        watch.add(key.secret_access_key)
        return key

    monkeypatch.setattr(IAMBackend, "create_access_key", create_access_key)
    return watch


class ReadCounter:
    """Counts GetSecretValue calls made through a Secrets Manager client (botocore hook):
    all of them, or with ``secret_id`` those for that secret only. With ``delay``, each
    counted read takes that long first (a slow network), so threads pile up on one read."""

    def __init__(self, client: Any, secret_id: str | None = None, delay: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._secret_id = secret_id
        self._delay = delay
        self.count = 0
        # before-parameter-build sees the call's own parameters (SecretId), once per call.
        client.meta.events.register(
            "before-parameter-build.secrets-manager.GetSecretValue", self._count
        )

    def _count(self, params: dict[str, Any], **kwargs: Any) -> None:
        if self._secret_id is not None and params.get("SecretId") != self._secret_id:
            return
        with self._lock:
            self.count += 1
        time.sleep(self._delay)


class Aws:
    """Operator-side helpers on the emulator, for arranging and checking state."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def current_value(self, consumer: Consumer) -> dict[str, str]:
        """The secret's AWSCURRENT value."""
        response = self.emulator.client("secretsmanager").get_secret_value(
            SecretId=consumer.secret_arn, VersionStage="AWSCURRENT"
        )
        value: dict[str, str] = json.loads(response["SecretString"])
        return value

    def current_key(self, consumer: Consumer) -> AccessKeyPair:
        """The key the secret's AWSCURRENT value holds."""
        value = self.current_value(consumer)
        return AccessKeyPair(value["AccessKeyId"], value["SecretAccessKey"])

    def rotate(self, consumer: Consumer) -> str:
        """Rotate once through RotateSecret (the real handler runs); return the new key id."""
        self.emulator.client("secretsmanager").rotate_secret(
            SecretId=consumer.secret_arn, RotationLambdaARN=consumer.function_arn
        )
        return self.current_value(consumer)["AccessKeyId"]

    def user_keys(self, consumer: Consumer) -> dict[str, str]:
        """The user's keys: id -> Active/Inactive."""
        listed = self.emulator.client("iam").list_access_keys(UserName=consumer.user_name)
        return {key["AccessKeyId"]: key["Status"] for key in listed["AccessKeyMetadata"]}

    def stages(self, consumer: Consumer) -> dict[str, list[str]]:
        """VersionIdsToStages of the consumer's secret."""
        described = self.emulator.client("secretsmanager").describe_secret(
            SecretId=consumer.secret_arn
        )
        stages: dict[str, list[str]] = described["VersionIdsToStages"]
        return stages

    def mark_current_since(self, consumer: Consumer, moment: datetime) -> str:
        """Label AWSCURRENT ``credrot-current-since-<epoch>``, as the rotation function
        records when its version became current; return the label."""
        label = f"credrot-current-since-{int(moment.timestamp())}"
        self.unmark_current_since(consumer)
        current = next(v for v, s in self.stages(consumer).items() if "AWSCURRENT" in s)
        self.emulator.client("secretsmanager").update_secret_version_stage(
            SecretId=consumer.secret_arn, VersionStage=label, MoveToVersionId=current
        )
        return label

    def unmark_current_since(self, consumer: Consumer) -> None:
        """Remove the finish-time labels the rotation function wrote (an older release's
        secret, or one whose AWSCURRENT was moved by hand)."""
        sm = self.emulator.client("secretsmanager")
        for version_id, stages in self.stages(consumer).items():
            for stage in stages:
                if stage.startswith("credrot-current-since-"):
                    sm.update_secret_version_stage(
                        SecretId=consumer.secret_arn,
                        VersionStage=stage,
                        RemoveFromVersionId=version_id,
                    )

    def reader_client(self, consumer: Consumer) -> tuple[Any, ReadCounter]:
        """The app's own Secrets Manager client (the reader identity) and its read counter."""
        client = self.emulator.client("secretsmanager", consumer.reader)
        return client, ReadCounter(client)

    def whoami(self, client_session: Any) -> str:
        """The ARN a session authenticates as (STS through the emulator)."""
        sts = client_session.client("sts", endpoint_url=self.emulator.endpoint_url)
        arn: str = sts.get_caller_identity()["Arn"]
        return arn


@pytest.fixture
def aws(emulator: Emulator) -> Aws:
    """Operator-side helpers on the module's emulator."""
    return Aws(emulator)


@pytest.fixture
def output(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Callable[[], str]:
    """Everything printed (stdout, stderr) or logged (INFO and above) so far in the test."""
    caplog.set_level(logging.INFO)
    printed: list[str] = []

    def collected() -> str:
        captured = capsys.readouterr()
        printed.append(captured.out + captured.err)
        return "".join(printed) + caplog.text

    return collected


@pytest.fixture
def hammer() -> Callable[[int, int, Callable[[], object]], list[BaseException]]:
    """``hammer(threads, calls, action)``: run ``action`` ``calls`` times in each of
    ``threads`` threads started together; the errors they raised."""
    return _hammer


def _hammer(threads: int, calls: int, action: Callable[[], object]) -> list[BaseException]:
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
