"""Workloads outside AWS: `export` once, then any SDK authenticates through credential_process.

Real SDK behaviour: a temporary AWS config file holds the profile `export` wrote, and
`boto3.Session(profile_name=...)` runs the command through botocore's own credential-process
provider, as a subprocess, against the emulator (IAM authentication on, the real rotation
handler). The emulator evaluates aws:SourceIp conditions against its callers' address
(127.0.0.1): the consumers here have selfRead from it, or from elsewhere on purpose.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import CredentialRetrievalError

from components.config import SelfRead
from credrot.app.key_cache import KeyCache, default_cache_path
from credrot.ops.cli import main
from credrot.ops.limits import EXIT_ERROR, EXIT_LOCKED_OUT, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from credrot.sandbox.provision import provision_consumer

PROFILE = "agent"
UNREACHABLE_ENDPOINT = "http://127.0.0.1:9"


class Workload:
    """A host outside AWS: its home (config file, key cache) and the operator's export."""

    def __init__(self, home: Path, consumer: Any, capsys: Any) -> None:
        self.home = home
        self.consumer = consumer
        self.config = home / ".aws" / "config"
        self._capsys = capsys

    @property
    def cache(self) -> Path:
        return default_cache_path(self.consumer.secret_arn)

    def export(self, *extra: str) -> tuple[int, str, str]:
        """``credrot export`` in-process, with the operator's credentials."""
        self._capsys.readouterr()
        code = main(
            [
                "export",
                self.consumer.secret_arn,
                "--profile",
                PROFILE,
                "--config-file",
                str(self.config),
                *extra,
            ]
        )
        captured = self._capsys.readouterr()
        return code, captured.out, captured.err

    def command(self) -> list[str]:
        """The credential_process line export wrote, split as botocore splits it."""
        for line in self.config.read_text().splitlines():
            if line.startswith("credential_process = "):
                return shlex.split(line.partition(" = ")[2])
        raise AssertionError(f"no credential_process line in {self.config}")

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        """Run the command as an SDK would, from another directory, without PYTHONPATH."""
        variables = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        variables.update(env)
        return subprocess.run(  # noqa: S603 - the command export wrote, no shell
            self.command(),
            capture_output=True,
            text=True,
            cwd=self.home,
            env=variables,
            timeout=60,
            check=False,
        )

    def session(self) -> boto3.Session:
        """What an app does: a session on the profile (botocore runs credential_process)."""
        return boto3.Session(profile_name=PROFILE)

    def whoami(self, session: boto3.Session) -> tuple[str, str]:
        """(the ARN the session authenticates as, the key id it signs with)."""
        arn: str = session.client("sts").get_caller_identity()["Arn"]
        credentials = session.get_credentials()
        assert credentials is not None
        key_id: str = credentials.get_frozen_credentials().access_key
        return arn, key_id


@pytest.fixture
def workload(
    tmp_path: Path, operator_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> Iterator[Any]:
    """A factory: a workload for a consumer, HOME in a temporary directory."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def make(consumer: Any) -> Workload:
        return Workload(tmp_path, consumer, capsys)

    yield make


def use_profile(workload: Workload, monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, act as the app: the workload's config file, no credentials in the
    environment (an explicit profile ignores them anyway)."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(workload.config))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")


def mode(path: Path) -> str:
    """The permission bits as `stat -c %a` shows them."""
    return format(stat.S_IMODE(path.stat().st_mode), "o")


@pytest.fixture
def secret_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every GetSecretValue the emulator serves from now on (secret ids), from any process."""
    from moto.secretsmanager.models import SecretsManagerBackend

    reads: list[str] = []
    original = SecretsManagerBackend.get_secret_value

    def get_secret_value(backend: Any, secret_id: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(secret_id)
        return original(backend, secret_id, *args, **kwargs)

    monkeypatch.setattr(SecretsManagerBackend, "get_secret_value", get_secret_value)
    return reads


# -- across rotations -----------------------------------------------------------------------


def test_a_profile_keeps_authenticating_as_the_user_across_rotations_with_old_keys_deleted(
    secret_watch: Any,
    self_read_consumer: Any,
    workload: Any,
    aws: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = workload(self_read_consumer)
    code, out, err = app.export("--refresh-seconds", "1")
    assert code == EXIT_OK, err
    use_profile(app, monkeypatch)
    long_lived = app.session()  # botocore refreshes it by itself
    assert app.whoami(long_lived) == (
        self_read_consumer.user_arn,
        aws.current_value(self_read_consumer)["AccessKeyId"],
    )

    held = [app.whoami(long_lived)[1]]
    for _ in range(4):
        current = aws.rotate(self_read_consumer)
        time.sleep(1.2)  # past the refresh window: the next call runs the process again
        assert app.whoami(long_lived) == (self_read_consumer.user_arn, current)
        assert app.whoami(app.session()) == (self_read_consumer.user_arn, current)
        held.append(current)
        keys = aws.user_keys(self_read_consumer)
        assert set(keys) == set(held[-2:])  # the key before the previous one is deleted
    assert len(set(held)) == 5
    secret_watch.assert_absent(out, err)


def test_a_client_session_in_self_read_mode_shares_the_cache_with_credential_process(
    self_read_consumer: Any, workload: Any, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credrot.client import session

    app = workload(self_read_consumer)
    assert app.export("--refresh-seconds", "0.5")[0] == EXIT_OK
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    s = session(self_read_consumer.secret_arn, self_read=True, refresh_seconds=0.5)
    for _ in range(3):
        current = aws.rotate(self_read_consumer)
        time.sleep(0.6)
        assert aws.whoami(s) == self_read_consumer.user_arn
        assert json.loads(app.cache.read_text())["AccessKeyId"] == current
    assert mode(app.cache) == "600"


# -- the cache ------------------------------------------------------------------------------


def test_the_cache_is_owner_only_even_under_a_permissive_umask(
    self_read_consumer: Any, workload: Any, aws: Any
) -> None:
    app = workload(self_read_consumer)
    previous_umask = os.umask(0)
    try:
        assert app.export("--refresh-seconds", "0.5")[0] == EXIT_OK
        assert (mode(app.cache), mode(app.cache.parent)) == ("600", "700")
        aws.rotate(self_read_consumer)
        time.sleep(0.6)
        ran = app.run()  # refreshes: the file is replaced
    finally:
        os.umask(previous_umask)
    assert ran.returncode == EXIT_OK, ran.stderr
    assert json.loads(app.cache.read_text())["AccessKeyId"] == json.loads(ran.stdout)["AccessKeyId"]
    assert (mode(app.cache), mode(app.cache.parent)) == ("600", "700")
    assert mode(app.cache.with_name(app.cache.name + ".lock")) == "600"
    assert [p.name for p in app.cache.parent.iterdir() if p.name.endswith(".tmp")] == []


def age_cache(app: Any, *, seconds: float) -> None:
    """Make the workload's cached key look fetched ``seconds`` earlier than it was."""
    cached = json.loads(app.cache.read_text())
    fetched = datetime.fromisoformat(cached["FetchedAt"]) - timedelta(seconds=seconds)
    app.cache.write_text(json.dumps({**cached, "FetchedAt": fetched.isoformat()}))


def test_within_the_window_no_aws_call_is_made_and_after_it_exactly_one(
    self_read_consumer: Any, workload: Any, secret_reads: list[str]
) -> None:
    app = workload(self_read_consumer)
    assert app.export("--refresh-seconds", "600")[0] == EXIT_OK
    seeded = len(secret_reads)  # export's own read and its self-read check
    # Within the window the command never reaches AWS: an unreachable endpoint is fine.
    ran = app.run(AWS_ENDPOINT_URL=UNREACHABLE_ENDPOINT)
    assert ran.returncode == EXIT_OK, ran.stderr
    output = json.loads(ran.stdout)
    assert set(output) == {"Version", "AccessKeyId", "SecretAccessKey", "Expiration"}
    assert output["Version"] == 1
    assert output["Expiration"].endswith("Z")
    assert len(secret_reads) == seeded

    cache = KeyCache(app.cache)
    stored = cache.load()
    assert stored is not None
    cache.store(replace(stored, fetched_at=stored.fetched_at - timedelta(seconds=601)))
    runs = [app.run() for _ in range(3)]
    assert [r.returncode for r in runs] == [EXIT_OK] * 3
    assert len(secret_reads) == seeded + 1


def test_concurrent_invocations_after_the_window_read_the_secret_once(
    self_read_consumer: Any, workload: Any, aws: Any, secret_reads: list[str]
) -> None:
    app = workload(self_read_consumer)
    assert app.export("--refresh-seconds", "600")[0] == EXIT_OK
    current = aws.rotate(self_read_consumer)
    # The window ends when the test says so: a cache fetched longer ago than the window.
    # (A short real window would also end again while eight processes start on a loaded
    # machine, and each late one would read the secret once more.)
    age_cache(app, seconds=601)
    before = len(secret_reads)
    variables = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    processes = [
        subprocess.Popen(  # noqa: S603 - the command export wrote, no shell
            app.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=app.home,
            env=variables,
        )
        for _ in range(8)
    ]
    results = [(p.wait(timeout=60), *p.communicate()) for p in processes]
    assert [code for code, _, _ in results] == [EXIT_OK] * 8, results[0][2]
    outputs = {out for _, out, _ in results}
    assert len(outputs) == 1  # every process printed the same key and Expiration
    assert json.loads(outputs.pop())["AccessKeyId"] == current
    assert len(secret_reads) == before + 1
    cached = json.loads(app.cache.read_text())  # valid JSON, the new key
    assert cached["AccessKeyId"] == current


# -- failures: clear, non-zero, and never a secret on stderr --------------------------------


@pytest.mark.parametrize("retire", ["two rotations delete it", "the sweep deactivates it"])
def test_a_workload_offline_until_its_key_is_retired_is_locked_out_with_the_reseed_command(
    secret_watch: Any,
    retire: str,
    self_read_consumer: Any,
    workload: Any,
    aws: Any,
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = workload(self_read_consumer)
    assert app.export("--refresh-seconds", "0.5")[0] == EXIT_OK
    cached = json.loads(app.cache.read_text())["AccessKeyId"]
    # Offline from here: nothing runs the command while the key is retired.
    aws.rotate(self_read_consumer)
    if retire == "two rotations delete it":
        aws.rotate(self_read_consumer)
        assert cached not in aws.user_keys(self_read_consumer)
    else:
        with emulator.function_environment(
            self_read_consumer.function_name, PREVIOUS_KEY_GRACE_HOURS="0"
        ):
            emulator.client("lambda").invoke(
                FunctionName=self_read_consumer.function_name,
                Payload=json.dumps(
                    {"Action": "RetirePreviousKey", "SecretId": self_read_consumer.secret_arn}
                ),
            )
        assert aws.user_keys(self_read_consumer)[cached] == "Inactive"
    time.sleep(0.6)

    ran = app.run(AWS_CONFIG_FILE=str(app.config))  # as an SDK reading that file runs it
    assert ran.returncode == EXIT_LOCKED_OUT
    assert ran.stdout == ""
    assert "locked out" in ran.stderr and cached in ran.stderr
    assert (
        f"credrot export {self_read_consumer.secret_arn} --profile {PROFILE}"
        f" --config-file {app.config}`" in ran.stderr
    )
    use_profile(app, monkeypatch)
    with pytest.raises(CredentialRetrievalError, match="locked out"):
        app.session().client("sts").get_caller_identity()
    secret_watch.assert_absent(ran.stderr, ran.stdout)

    # The operator re-seeds: the same profile works again.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", emulator.operator.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", emulator.operator.secret_access_key)
    assert app.export("--refresh-seconds", "0.5")[0] == EXIT_OK
    assert app.whoami(app.session())[0] == self_read_consumer.user_arn


def test_a_key_used_outside_its_source_cidrs_cannot_read_the_next_key(
    secret_watch: Any,
    emulator: Any,
    workload: Any,
    aws: Any,
) -> None:
    emulator.disable_iam_authentication()
    elsewhere = provision_consumer(
        emulator, "elsewhere", self_read=SelfRead(source_cidrs=("203.0.113.0/24",))
    )
    emulator.enable_iam_authentication()
    try:
        app = workload(elsewhere)
        code, out, err = app.export("--refresh-seconds", "0.5")
        # Written, but the operator is told at once that the key cannot refresh from here.
        assert code == EXIT_PROBLEMS
        assert "selfRead.sourceCidrs" in err and "cannot refresh itself" in err
        aws.rotate(elsewhere)
        time.sleep(0.6)
        ran = app.run()
        assert ran.returncode == EXIT_ERROR
        assert "may not read secret" in ran.stderr and "sourceCidrs" in ran.stderr
        assert ran.stdout == ""
        secret_watch.assert_absent(out, err, ran.stderr)
    finally:
        emulator.disable_iam_authentication()


def test_secrets_manager_unreachable_after_the_window_is_a_clear_error(
    secret_watch: Any,
    self_read_consumer: Any,
    workload: Any,
) -> None:
    app = workload(self_read_consumer)
    assert app.export("--refresh-seconds", "0.5")[0] == EXIT_OK
    time.sleep(0.6)
    ran = app.run(AWS_ENDPOINT_URL=UNREACHABLE_ENDPOINT)
    assert ran.returncode == EXIT_ERROR
    assert "cannot reach Secrets Manager" in ran.stderr
    assert ran.stdout == ""
    secret_watch.assert_absent(ran.stderr)


def test_an_unseeded_cache_names_the_operators_command(tmp_path: Path) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:agent-AbCdEf"
    cache = tmp_path / "cache.json"
    ran = subprocess.run(  # noqa: S603 - our own command, no shell
        [
            sys.executable,
            str(Path(__file__).resolve().parents[2] / "credrot"),
            "credential-process",
            "--secret-id",
            arn,
            "--cache",
            str(cache),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert ran.returncode == EXIT_ERROR
    config = os.environ["AWS_CONFIG_FILE"]
    assert (
        f"credrot export {arn} --profile '<profile>' --cache {cache} --config-file {config}"
        in ran.stderr
    )
    assert not cache.exists()


# -- export ---------------------------------------------------------------------------------


def test_export_writes_only_its_profile_and_leaves_the_rest_of_the_file_alone(
    secret_watch: Any,
    self_read_consumer: Any,
    workload: Any,
) -> None:
    app = workload(self_read_consumer)
    app.config.parent.mkdir(mode=0o700)
    before = (
        "# my settings\n"
        "[default]\n"
        "region = eu-west-1  ; inline comment\n"
        "\n"
        f"[profile {PROFILE}]\n"
        "output = json\n"
        "credential_process = /old/command\n"
        "    with a continuation line\n"
        "\n"
        "[profile other]\n"
        "s3 =\n"
        "    max_concurrent_requests = 20\n"
    )
    app.config.write_text(before)
    code, out, err = app.export()
    assert code == EXIT_OK, err
    after = app.config.read_text()
    command = shlex.join(app.command())
    assert after == before.replace(
        "credential_process = /old/command\n    with a continuation line\n",
        f"credential_process = {command}\nregion = us-east-1\n",
    )
    assert app.export()[0] == EXIT_OK
    assert app.config.read_text() == after  # idempotent

    key_id = json.loads(app.cache.read_text())["AccessKeyId"]
    assert key_id in out and self_read_consumer.user_name in out
    assert f"Checked: key {key_id} can read its own secret from this host." in out
    secret_watch.assert_absent(out, err)


def test_export_refuses_a_secret_without_a_key_and_writes_nothing(
    bootstrap_consumer: Any, workload: Any
) -> None:
    app = workload(bootstrap_consumer)
    code, _, err = app.export()
    assert code == EXIT_ERROR
    assert "holds no access key yet" in err and "credrot rotate" in err
    assert not app.config.exists() and not app.cache.exists()


def test_export_refuses_to_take_the_operators_credentials_from_the_profile_it_writes(
    self_read_consumer: Any, workload: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = workload(self_read_consumer)
    monkeypatch.setenv("AWS_PROFILE", PROFILE)
    code, _, err = app.export()
    assert code == EXIT_USAGE
    assert "--operator-profile" in err
    assert not app.config.exists()


def test_export_refuses_a_profile_that_takes_credentials_from_elsewhere(
    self_read_consumer: Any, workload: Any
) -> None:
    app = workload(self_read_consumer)
    app.config.parent.mkdir()
    app.config.write_text(f"[profile {PROFILE}]\naws_access_key_id = AKIAOLD\n")
    code, _, err = app.export()
    assert code == EXIT_ERROR
    assert "aws_access_key_id" in err
    assert app.config.read_text() == f"[profile {PROFILE}]\naws_access_key_id = AKIAOLD\n"
    assert not app.cache.exists()


def test_ambient_mode_refreshes_with_the_hosts_own_identity_not_the_cached_key(
    emulator: Any, bootstrap_consumer: Any, workload: Any, aws: Any, secret_reads: list[str]
) -> None:
    consumer = bootstrap_consumer
    current = aws.rotate(consumer)  # a key, but no selfRead: only the reader may read
    app = workload(consumer)
    assert app.export("--refresh-seconds", "0.5", "--ambient")[0] == EXIT_OK
    time.sleep(0.6)
    reader = consumer.reader
    ran = app.run(
        AWS_ACCESS_KEY_ID=reader.access_key_id,
        AWS_SECRET_ACCESS_KEY=reader.secret_access_key,
        # Never used for the read: no recursion into this very profile.
        AWS_PROFILE=PROFILE,
        AWS_CONFIG_FILE=str(app.config),
    )
    assert ran.returncode == EXIT_OK, ran.stderr
    assert json.loads(ran.stdout)["AccessKeyId"] == current
