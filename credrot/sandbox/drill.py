"""The drill: zero-downtime rotation rehearsed end to end on the embedded emulator.

It provisions consumers as the Pulumi component does (``credrot.sandbox.provision``: one by
default, ``DrillConfig.consumers`` in all, every one rotating through the stack's one shared
function), turns IAM authentication on, starts app workers (at least one per consumer) that
keep calling S3 GetObject and STS GetCallerIdentity through ``credrot.client`` sessions,
and meanwhile performs N rotations of each consumer (RotateSecret, running the real rotation
Lambda), a RetirePreviousKey sweep with zero grace and a revoke of each. Invariants are
checked after each step and at the end; the drill passes only if no app call failed, every
invariant held, every consumer's secret was rotated by its own (the shared) function only,
and every consumer ends with another key than it started with. The report's per-consumer
figures are read back from the emulator's record of invocations and from the secrets.

The workers' refresh window (2 s) is longer than the time between rotations, so workers
regularly hold a key that a rotation deletes, a sweep or a revoke deactivates: only the
client's refresh-and-retry on a rejected key keeps their calls from failing.

Process workers (of the first consumer) stand for apps outside AWS: they authenticate
through an AWS profile whose ``credential_process`` is ``credrot credential-process``
(seeded with ``credrot export`` into a temporary AWS config file), with botocore's own
credential-process provider, and refresh by self-read (the consumer has ``selfRead`` from
the emulator's address). They run in a phase of their own after the sweep, with rotations
spaced as in production: longer apart than their refresh window (the drill waits until they
all use the new key before the next rotation). The fast rotations above would retire a key
before a window of theirs could end, which for them means locked out, by design. They stop
before the revoke, which deactivates the key they hold; the drill then checks that this key
can no longer read the secret (a leaked key cannot follow a revoke) and that re-seeding with
export recovers.
"""

from __future__ import annotations

import functools
import json
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import boto3
import botocore.session

from components.config import SelfRead
from components.contract import ConsumerNames, sweep_event
from credrot.app.credential_process import export
from credrot.app.key_cache import KeyCache
from credrot.app.secret import CURRENT, PREVIOUS
from credrot.app.self_read import LockedOutError, current_key, read_with_key
from credrot.client import session
from credrot.errors import CredentialError
from credrot.ops import operations
from credrot.ops.health import key_rows
from credrot.ops.limits import MAX_DRILL_CONSUMERS
from credrot.sandbox.aws import read_snapshot, read_value, state_violations
from credrot.sandbox.emulator import CALLER_CIDR, AccessKeyPair, Emulator
from credrot.sandbox.provision import EMULATOR_ONLY_POLICY, Consumer, provision_consumer

if TYPE_CHECKING:
    from types_boto3_iam import IAMClient
    from types_boto3_s3 import S3Client
    from types_boto3_secretsmanager import SecretsManagerClient
    from types_boto3_sts import STSClient

CONSUMER_NAME = "drill-app"
PROCESS_PROFILE = "drill-app"
# Each app worker's pause between two pairs of calls. With more than FULL_SPEED_WORKERS
# workers (many consumers) each pauses longer, so that together they call no faster than
# FULL_SPEED_WORKERS would when calls are quick (one process serves them all and the
# rotations too); on a loaded machine the calls' own latency is what bounds them.
CALL_PAUSE = 0.01
FULL_SPEED_WORKERS = 4
# Limits before a wait counts as a failure, not expected durations: a healthy run goes on as
# soon as the condition holds. Generous, because a credential_process run starts a Python
# process, which takes seconds on a loaded machine.
WARMUP_TIMEOUT = 120.0
ROTATION_TIMEOUT = 120.0
# How long the process workers may take to finish their last call before the revoke.
PROCESS_WORKER_STOP_SECONDS = 120.0
# How long process workers may take to pick up a new key (their window plus a process run).
PICKUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class DrillConfig:
    """How hard to push: consumers, rotations, app workers, their refresh window, the pacing."""

    rotations: int = 5
    # App workers in all; each consumer has at least one (worker i calls consumer i mod N).
    workers: int = 4
    # Consumers, all rotating through the stack's one shared function.
    consumers: int = 1
    refresh_seconds: float = 2.0
    pause_seconds: float = 0.5
    auth_retry: bool = True
    process_workers: int = 1
    # Rotations while process workers run, each once they all use the previous new key.
    process_rotations: int = 2
    # Shorter than the time between two rotations, as a real window is (15 min vs >= 4 h).
    process_refresh_seconds: float = 1.0


class _Worker(threading.Thread):
    """An app instance calling S3 GetObject and STS GetCallerIdentity until told to stop;
    subclasses give it ``_s3`` and ``_sts`` clients."""

    _s3: S3Client
    _sts: STSClient

    def __init__(
        self, name: str, consumer: Consumer, stop: threading.Event, pause: float = CALL_PAUSE
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._consumer = consumer
        self._stop_event = stop
        self._pause = pause
        self._lock = threading.Lock()
        self.calls = 0
        self.failures: list[str] = []

    @property
    def consumer(self) -> Consumer:
        """The consumer whose credentials the worker uses."""
        return self._consumer

    @property
    def successes(self) -> int:
        """Calls that succeeded so far."""
        with self._lock:
            return self.calls - len(self.failures)

    def run(self) -> None:
        index = 0
        while not self._stop_event.is_set():
            key = self._consumer.object_keys[index % len(self._consumer.object_keys)]
            index += 1
            self._call("s3:GetObject", functools.partial(self._get_object, key))
            self._call("sts:GetCallerIdentity", self._whoami)
            self._after_round()
            self._stop_event.wait(self._pause)

    def _after_round(self) -> None:
        """Hook run after each pair of calls."""

    def _get_object(self, key: str) -> None:
        self._s3.get_object(Bucket=self._consumer.bucket, Key=key)["Body"].read()

    def _whoami(self) -> None:
        arn = self._sts.get_caller_identity()["Arn"]
        if arn != self._consumer.user_arn:
            raise RuntimeError(f"authenticated as {arn}, not {self._consumer.user_arn}")

    def _call(self, name: str, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception as error:  # noqa: BLE001 - every failure is counted and reported
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            with self._lock:
                self.calls += 1
                self.failures.append(f"{name}: {code or type(error).__name__}")
            return
        with self._lock:
            self.calls += 1


class ProcessWorker(_Worker):
    """An app outside AWS: botocore's credential-process provider runs
    ``credrot credential-process`` for the profile ``export`` wrote; no credrot code here."""

    def __init__(
        self,
        index: int,
        consumer: Consumer,
        config_file: Path,
        profile: str,
        stop: threading.Event,
    ) -> None:
        super().__init__(f"process-worker-{index}", consumer, stop)
        # Clients are made here, in the main thread: botocore sessions are not thread-safe.
        core = botocore.session.Session()
        core.set_config_variable("config_file", str(config_file))
        app = boto3.Session(botocore_session=core, profile_name=profile)
        credentials = app.get_credentials()
        if credentials is None:
            raise RuntimeError(f"profile {profile} in {config_file} gave no credentials")
        self._credentials = credentials
        self._s3 = app.client("s3")
        self._sts = app.client("sts")
        self.key_ids: list[str | None] = [credentials.get_frozen_credentials().access_key]

    @property
    def key_id(self) -> str | None:
        """The key the worker's calls are signed with now."""
        with self._lock:
            return self.key_ids[-1]

    def _after_round(self) -> None:
        try:
            key_id = self._credentials.get_frozen_credentials().access_key
        except Exception as error:  # noqa: BLE001 - a failed refresh is a failed call
            with self._lock:
                self.calls += 1
                self.failures.append(f"credential_process: {type(error).__name__}")
            return
        with self._lock:
            if key_id != self.key_ids[-1]:
                self.key_ids.append(key_id)


class AppWorker(_Worker):
    """An app instance: its own credrot session, calling AWS until told to stop."""

    def __init__(
        self,
        index: int,
        emulator: Emulator,
        consumer: Consumer,
        config: DrillConfig,
        stop: threading.Event,
        pause: float = CALL_PAUSE,
    ) -> None:
        super().__init__(f"app-worker-{index}", consumer, stop, pause)
        self.recovered = 0
        self.secret_reads = 0
        # Clients are made here, in the main thread: botocore sessions are not thread-safe.
        secrets = emulator.client("secretsmanager", consumer.reader)
        secrets.meta.events.register(
            "before-call.secrets-manager.GetSecretValue", self._count_secret_read
        )
        app = session(
            consumer.secret_arn,
            refresh_seconds=config.refresh_seconds,
            region_name=emulator.region,
            secrets_client=secrets,
            retry_on_auth_failure=config.auth_retry,
        )
        self._s3 = app.client("s3")
        self._sts = app.client("sts")
        for client in (self._s3, self._sts):
            client.meta.events.register("after-call", self._count_recovery)

    def _count_secret_read(self, **kwargs: Any) -> None:
        with self._lock:
            self.secret_reads += 1

    def _count_recovery(self, parsed: Any = None, **kwargs: Any) -> None:
        if parsed and parsed.get("ResponseMetadata", {}).get("RetryAttempts"):
            with self._lock:
                self.recovered += 1


class _Drill:
    def __init__(self, config: DrillConfig, progress: TextIO | None) -> None:
        self.config = config
        self.progress = progress
        self.started = time.monotonic()
        self.violations: list[str] = []
        self.checks = 0
        self.rotations: list[operations.RotationResult] = []
        # Per consumer name: its rotations (revoke's included), sweep and revoke.
        self.rotations_of: Counter[str] = Counter()
        self.sweeps: dict[str, dict[str, Any]] = {}
        self.revokes: dict[str, dict[str, Any]] = {}
        self.first_keys: dict[str, str | None] = {}
        # The credential_process profile's command and what happened to it after the revoke.
        self.profile: dict[str, Any] | None = None
        self.process_rotations = 0

    def _of(self, consumer: Consumer) -> str:
        """ " of <consumer>" in messages, when there is more than one."""
        return f" of {consumer.name}" if self.config.consumers > 1 else ""

    def log(self, message: str) -> None:
        if self.progress is not None:
            elapsed = time.monotonic() - self.started
            self.progress.write(f"drill [{elapsed:5.1f}s] {message}\n")
            self.progress.flush()

    def run(self) -> dict[str, Any]:
        count = self.config.consumers
        if not 1 <= count <= MAX_DRILL_CONSUMERS:
            raise ValueError(f"consumers: {count} is not from 1 to {MAX_DRILL_CONSUMERS}")
        with Emulator() as emulator:
            self.log(f"emulator on {emulator.endpoint_url}")
            consumers = [
                provision_consumer(
                    emulator,
                    consumer_name(index),
                    propagation_timeout_seconds=10,
                    # Time compressed: rotations seconds apart, each one past the previous
                    # key's grace (the function refuses to delete a key inside it). Apps that
                    # still hold the previous key are rejected once and refresh: what the
                    # drill proves.
                    previous_key_grace_hours=0,
                    self_read=SelfRead(source_cidrs=(CALLER_CIDR,)),
                )
                for index in range(count)
            ]
            emulator.enable_iam_authentication()
            sm: SecretsManagerClient = emulator.client("secretsmanager")
            for consumer in consumers:
                _, current, _ = operations.read_version(sm, consumer.secret_arn, stage=CURRENT)
                self.first_keys[consumer.name] = current.access_key_id if current else None
            first = consumers[0]
            functions = sorted({consumer.function_name for consumer in consumers})
            self.log(
                f"provisioned {_consumers_text(consumers)} (selfRead from {CALLER_CIDR}),"
                f" rotating through {', '.join(functions)}; IAM authentication on"
            )
            with (
                tempfile.TemporaryDirectory(prefix="credrot-drill-") as home,
                emulator.environ(first.reader),
            ):
                return self._exercise(emulator, consumers, Path(home))

    def _exercise(
        self, emulator: Emulator, consumers: list[Consumer], home: Path
    ) -> dict[str, Any]:
        config = self.config
        first = consumers[0]
        sm: SecretsManagerClient = emulator.client("secretsmanager")
        iam: IAMClient = emulator.client("iam")
        stop = threading.Event()
        process_stop = threading.Event()
        count = max(config.workers, len(consumers))
        pause = CALL_PAUSE * max(1.0, count / FULL_SPEED_WORKERS)
        workers = [
            AppWorker(i, emulator, consumers[i % len(consumers)], config, stop, pause)
            for i in range(count)
        ]
        process_workers: list[ProcessWorker] = []
        for worker in workers:
            worker.start()
        try:
            self._wait_for_warm_workers(workers)
            self.log(
                f"{len(workers)} app workers calling s3:GetObject and sts:GetCallerIdentity"
                + (f" for {len(consumers)} consumers" if len(consumers) > 1 else "")
                + f" (refresh window {config.refresh_seconds:g} s,"
                f" retry on rejected key {'on' if config.auth_retry else 'OFF'})"
            )
            for number in range(1, config.rotations + 1):
                label = f"rotation {number}/{config.rotations}"
                results = [
                    self._rotate(emulator, consumer, sm, iam, label) for consumer in consumers
                ]
                if len(consumers) == 1:
                    self.log(
                        f"{label}: {results[0].seconds:.2f} s, current key"
                        f" {results[0].current_key_id} | {_progress(workers)}"
                    )
                else:
                    took = percentiles([result.seconds for result in results])
                    self.log(
                        f"{label} of each of {len(consumers)} consumers: p50 {took['p50']:.2f}"
                        f" s, max {took['max']:.2f} s | {_progress(workers)}"
                    )
                time.sleep(config.pause_seconds)
            for consumer in consumers:
                self._sweep(emulator, consumer, sm, iam)
            time.sleep(config.pause_seconds)
            if config.process_workers:
                process_workers = self._process_phase(emulator, first, sm, iam, home, process_stop)
            for consumer in consumers:
                self._revoke(emulator, consumer, sm, iam, workers)
            if process_workers:
                self._after_revoke(sm, first, home, self.revokes[first.name]["current_key_id"])
            # Let every worker's window expire at least once on the final key.
            time.sleep(config.refresh_seconds + 0.5)
        finally:
            stop.set()
            process_stop.set()
            for thread in [*workers, *process_workers]:
                thread.join(timeout=10)
        for consumer in consumers:
            self._check(emulator, consumer, sm, iam, "at the end")
        self.log(f"workers stopped | {_progress(workers)}")
        return self._report(emulator, consumers, sm, iam, workers, process_workers)

    def _revoke(
        self,
        emulator: Emulator,
        consumer: Consumer,
        sm: SecretsManagerClient,
        iam: IAMClient,
        workers: list[AppWorker],
    ) -> None:
        revoked = operations.revoke(sm, iam, consumer.secret_arn, timeout=ROTATION_TIMEOUT)
        self.rotations.append(revoked.rotation)
        self.rotations_of[consumer.name] += 1
        self.revokes[consumer.name] = {
            "current_key_id": revoked.rotation.current_key_id,
            "deactivated_key_id": revoked.deactivated_key_id,
        }
        self._check(emulator, consumer, sm, iam, f"after revoke{self._of(consumer)}")
        self.log(
            f"revoke{self._of(consumer)}: current key {revoked.rotation.current_key_id},"
            f" deactivated {revoked.deactivated_key_id} | {_progress(workers)}"
        )

    def _rotate(
        self,
        emulator: Emulator,
        consumer: Consumer,
        sm: SecretsManagerClient,
        iam: IAMClient,
        label: str,
    ) -> operations.RotationResult:
        result = operations.rotate(sm, consumer.secret_arn, timeout=ROTATION_TIMEOUT)
        self.rotations.append(result)
        self.rotations_of[consumer.name] += 1
        self._check(emulator, consumer, sm, iam, f"after {label}{self._of(consumer)}")
        return result

    def _process_phase(
        self,
        emulator: Emulator,
        consumer: Consumer,
        sm: SecretsManagerClient,
        iam: IAMClient,
        home: Path,
        stop: threading.Event,
    ) -> list[ProcessWorker]:
        """Apps outside AWS: seeded by export, refreshed by self-read through botocore's
        credential-process provider, across rotations spaced as in production: longer
        apart than their refresh window (the fast rotations above would delete a key before
        a window of theirs could end, which in production means a workload offline for a
        whole rotation period plus the grace: locked out)."""
        config = self.config
        self.profile = self._export(sm, consumer, home)
        workers = [
            ProcessWorker(i, consumer, home / "config", PROCESS_PROFILE, stop)
            for i in range(config.process_workers)
        ]
        for worker in workers:
            worker.start()
        self._wait_for_warm_workers(workers)
        self.log(
            f"{config.process_workers} process workers calling AWS through the profile's"
            f" credential_process (refresh window {config.process_refresh_seconds:g} s)"
        )
        for number in range(1, config.process_rotations + 1):
            label = f"rotation {number}/{config.process_rotations} with process workers"
            result = self._rotate(emulator, consumer, sm, iam, label)
            self._wait_for_pickup(workers, result.current_key_id, label)
            self.log(
                f"{label}: {result.seconds:.2f} s, current key {result.current_key_id}, used"
                f" by every process worker | {_process_progress(workers)}"
            )
        self.process_rotations = config.process_rotations
        # The revoke that follows deactivates the key they hold: they would be locked out
        # (see _after_revoke), which is the point of a revoke, not an app failure.
        # Each must have stopped before the revoke: one still mid-call (a credential_process
        # start takes seconds on a loaded machine) would meet the revoked key and count as a
        # failed app call. The bound only keeps a wedged worker from hanging the drill.
        stop.set()
        for worker in workers:
            worker.join(timeout=PROCESS_WORKER_STOP_SECONDS)
        return workers

    def _export(self, sm: SecretsManagerClient, consumer: Consumer, home: Path) -> dict[str, Any]:
        """The operator's one-time seeding, into a temporary AWS config file and cache."""
        result = export(
            sm,
            consumer.secret_arn,
            PROCESS_PROFILE,
            config_file=home / "config",
            cache_path=home / "cache" / "drill-app.json",
            refresh_seconds=self.config.process_refresh_seconds,
        )
        if result.self_read_problem:
            self.violations.append(
                f"export: the seeded key cannot self-read: {result.self_read_problem}"
            )
        self.log(
            f"export: profile {PROCESS_PROFILE} in {result.config_file}, cache seeded with key"
            f" {result.access_key_id}"
        )
        return {
            "command": result.command,
            "cache": result.cache_path,
            "seeded": [result.access_key_id],
        }

    def _wait_for_pickup(
        self, workers: list[ProcessWorker], key_id: str | None, label: str
    ) -> None:
        """Wait until every process worker signs with the new key, as a workload does within
        its window, long before the next rotation."""
        deadline = time.monotonic() + PICKUP_TIMEOUT
        while any(worker.key_id != key_id for worker in workers):
            if time.monotonic() > deadline:
                self.violations.append(
                    f"after {label}: a credential_process worker still used key"
                    f" {[w.key_id for w in workers if w.key_id != key_id]} after"
                    f" {PICKUP_TIMEOUT:g} s, not {key_id}"
                )
                return
            time.sleep(0.02)

    def _after_revoke(
        self, sm: SecretsManagerClient, consumer: Consumer, home: Path, current_key_id: str | None
    ) -> None:
        """The revoked key cannot read the next key (locked out); export re-seeds the profile."""
        assert self.profile is not None
        cache = KeyCache(self.profile["cache"])
        try:
            # What credential-process does once the window is over: refresh by self-read.
            current_key(cache, consumer.secret_arn, 0, read_with_key)
            outcome = "refreshed"
        except LockedOutError as error:
            outcome = str(error)
        except CredentialError as error:
            outcome = f"{type(error).__name__}: {error}"
        locked_out = outcome.startswith("locked out")
        if not locked_out:
            self.violations.append(
                f"after revoke: the revoked key refreshed by self-read instead of being locked"
                f" out ({outcome})"
            )
        self.profile["locked_out_after_revoke"] = locked_out
        self.profile["lockout_message"] = outcome
        self._export(sm, consumer, home)
        core = botocore.session.Session()
        core.set_config_variable("config_file", str(home / "config"))
        app = boto3.Session(botocore_session=core, profile_name=PROCESS_PROFILE)
        try:
            arn = app.client("sts").get_caller_identity()["Arn"]
            credentials = app.get_credentials()
            key_id = credentials.get_frozen_credentials().access_key if credentials else None
        except Exception as error:  # noqa: BLE001 - reported as a violation
            arn, key_id = f"an error ({type(error).__name__})", None
        reseeded = arn == consumer.user_arn and key_id == current_key_id
        if not reseeded:
            self.violations.append(
                f"after revoke and a new export, the profile authenticated as {arn} with key"
                f" {key_id}, not {consumer.user_arn} with {current_key_id}"
            )
        self.profile["reseeded"] = reseeded
        self.log(
            "revoke: the revoked key is locked out of the secret"
            f" ({'as intended' if locked_out else 'NOT'}); export re-seeded the profile"
            f" ({'works' if reseeded else 'FAILED'})"
        )

    def _wait_for_warm_workers(self, workers: list[AppWorker] | list[ProcessWorker]) -> None:
        deadline = time.monotonic() + WARMUP_TIMEOUT
        while any(worker.successes < 2 for worker in workers):
            if time.monotonic() > deadline:
                self.violations.append("app workers could not make a first successful call")
                return
            time.sleep(0.02)

    def _sweep(
        self, emulator: Emulator, consumer: Consumer, sm: SecretsManagerClient, iam: IAMClient
    ) -> None:
        """RetirePreviousKey through Lambda's Invoke API, as the schedule does, with zero grace."""
        _, previous, _ = operations.read_version(sm, consumer.secret_arn, stage=PREVIOUS)
        calls_before = len(emulator.invocations)
        with emulator.function_environment(consumer.function_name, PREVIOUS_KEY_GRACE_HOURS="0"):
            response = emulator.client("lambda").invoke(
                FunctionName=consumer.function_name,
                Payload=json.dumps(sweep_event(consumer.secret_arn)),
            )
        outcome = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            self.violations.append(f"the sweep failed: {outcome}")
        calls: Counter[str] = Counter()
        for invocation in emulator.invocations[calls_before:]:
            calls.update(invocation.api_calls)
        previous_id = previous.access_key_id if previous else None
        statuses = {
            key["AccessKeyId"]: key["Status"]
            for key in iam.list_access_keys(UserName=consumer.user_name)["AccessKeyMetadata"]
        }
        if previous_id and statuses.get(previous_id) != "Inactive":
            self.violations.append(
                f"the sweep with zero grace left the previous key {previous_id}"
                f" {statuses.get(previous_id, 'deleted')}"
            )
        self.sweeps[consumer.name] = {
            "ok": not response.get("FunctionError"),
            "deactivated_key_id": previous_id,
            "api_calls": dict(sorted(calls.items())),
        }
        self._check(emulator, consumer, sm, iam, f"after the sweep{self._of(consumer)}")
        self.log(
            f"sweep with zero grace{self._of(consumer)}: deactivated the previous key {previous_id}"
        )

    def _check(
        self,
        emulator: Emulator,
        consumer: Consumer,
        sm: SecretsManagerClient,
        iam: IAMClient,
        when: str,
    ) -> None:
        """The invariants: AWSCURRENT authenticates as the user; at most 2 keys; every
        Active key is recorded in the secret; no AWSPENDING left; no handler failure."""
        self.checks += 1
        found = check_invariants(emulator, consumer, sm, iam)
        self.violations.extend(f"{when}: {violation}" for violation in found)

    def _report(
        self,
        emulator: Emulator,
        consumers: list[Consumer],
        sm: SecretsManagerClient,
        iam: IAMClient,
        workers: list[AppWorker],
        process_workers: list[ProcessWorker],
    ) -> dict[str, Any]:
        first = consumers[0]
        seconds = [result.seconds for result in self.rotations]
        tokens = {result.token for result in self.rotations}
        per_rotation: Counter[str] = Counter()
        for invocation in emulator.invocations:
            if invocation.token in tokens:
                per_rotation.update(invocation.api_calls)
        rotations = len(self.rotations)
        app_calls = sum(worker.calls for worker in workers)
        failures = [failure for worker in workers for failure in worker.failures]
        secret_reads = sum(worker.secret_reads for worker in workers)
        per_consumer = [
            self._consumer_report(emulator, consumer, sm, workers) for consumer in consumers
        ]
        functions = sorted({arn for entry in per_consumer for arn in entry["functions_invoked"]})
        shared = sorted({c.function_arn for c in consumers if c.shared_function})
        shared_arn = shared[0] if len(shared) == 1 else None
        snapshot = operations.take_snapshot(sm, iam, first.secret_arn, read_policies=False)
        keys_at_end = [
            {
                "access_key_id": row.access_key_id,
                "status": row.status,
                "role": row.role,
                "current": row.role == "current",
            }
            for row in key_rows(snapshot)
        ]
        report: dict[str, Any] = {
            "consumers": len(consumers),
            "rotation_functions": functions,
            "shared_function": {
                "arn": shared_arn,
                # Consumers all of whose invocations ran on it (from the emulator's record).
                "consumers_served": sum(
                    entry["functions_invoked"] == [shared_arn] for entry in per_consumer
                ),
                "invocations": sum(
                    1
                    for invocation in emulator.invocations
                    if invocation.function_arn == shared_arn
                ),
            },
            "keys_changed": sum(entry["key_changed"] for entry in per_consumer),
            "per_consumer": per_consumer,
            "rotations": rotations,
            "rotations_requested": self.config.rotations,
            "rotations_with_process_workers": self.process_rotations,
            "rotation_seconds": percentiles(seconds),
            "api_calls_per_rotation": {
                "total": round(sum(per_rotation.values()) / max(rotations, 1), 2),
                "by_operation": {
                    operation: round(count / max(rotations, 1), 2)
                    for operation, count in sorted(per_rotation.items())
                },
            },
            "sweep": self.sweeps.get(first.name, {}),
            "revoke": self.revokes.get(first.name, {}),
            "app_calls": app_calls,
            "app_failures": len(failures),
            "app_failure_samples": sorted(Counter(failures).items())[:10],
            "app_calls_recovered_by_retry": sum(worker.recovered for worker in workers),
            "secret_reads": secret_reads,
            "secret_reads_per_app_call": round(secret_reads / max(app_calls, 1), 5),
            "workers": len(workers),
            "refresh_seconds": self.config.refresh_seconds,
            "auth_retry": self.config.auth_retry,
            "handler_failures": emulator.handler_failures,
            "invariant_checks": self.checks,
            "invariant_violations": self.violations,
            "keys_at_end": keys_at_end,
            "emulator_only_allowance": {
                "policy": EMULATOR_ONLY_POLICY,
                "attached_to": sorted(
                    {where for consumer in consumers for where in consumer.emulator_only_policies}
                ),
                "why": "moto matches IAM and Secrets Manager permissions against '*' only, so"
                " the component's ARN-scoped statements are repeated on '*' in the emulator;"
                " the documents themselves are exactly components.iam_policies' output",
            },
            "credential_process_workers": self._process_report(process_workers),
            "duration_seconds": round(time.monotonic() - self.started, 2),
        }
        report["passed"] = (
            not failures
            and not report["credential_process_workers"]["app_failures"]
            and not self.violations
            and not emulator.handler_failures
            and report["keys_changed"] == len(consumers)
        )
        return report

    def _consumer_report(
        self,
        emulator: Emulator,
        consumer: Consumer,
        sm: SecretsManagerClient,
        workers: list[AppWorker],
    ) -> dict[str, Any]:
        """One consumer's figures, each read back from the emulator or counted by a worker:
        the functions that ran for its secret, the rotations they finished, its keys."""
        secret_ids = {consumer.secret_arn, ConsumerNames(consumer.name).secret}
        invoked = [i for i in emulator.invocations if i.secret_id in secret_ids]
        functions = sorted({invocation.function_arn for invocation in invoked})
        if functions != [consumer.function_arn]:
            self.violations.append(
                f"{consumer.name}: its secret was rotated by {functions}, not by its rotation"
                f" function {consumer.function_arn}"
            )
        _, current, _ = operations.read_version(sm, consumer.secret_arn, stage=CURRENT)
        current_key_id = current.access_key_id if current else None
        first_key_id = self.first_keys.get(consumer.name)
        finished = sum(1 for i in invoked if i.step == "finishSecret" and not i.failed)
        if finished != self.rotations_of[consumer.name]:
            self.violations.append(
                f"{consumer.name}: {self.rotations_of[consumer.name]} rotations completed but"
                f" the function finished {finished}"
            )
        mine = [worker for worker in workers if worker.consumer is consumer]
        return {
            "name": consumer.name,
            "secret_arn": consumer.secret_arn,
            "function_arn": consumer.function_arn,
            "shared_function": consumer.shared_function,
            "functions_invoked": functions,
            "invocations": len(invoked),
            "rotations": self.rotations_of[consumer.name],
            # Rotations the function completed for this secret (finishSecret that succeeded).
            "rotations_finished_by_function": finished,
            "first_key_id": first_key_id,
            "current_key_id": current_key_id,
            "key_changed": current_key_id is not None and current_key_id != first_key_id,
            "app_workers": len(mine),
            "app_calls": sum(worker.calls for worker in mine),
            "app_failures": sum(len(worker.failures) for worker in mine),
            "sweep": self.sweeps.get(consumer.name, {}),
            "revoke": self.revokes.get(consumer.name, {}),
        }

    def _process_report(self, workers: list[ProcessWorker]) -> dict[str, Any]:
        failures = [failure for worker in workers for failure in worker.failures]
        profile = self.profile or {}
        return {
            "workers": len(workers),
            "app_calls": sum(worker.calls for worker in workers),
            "app_failures": len(failures),
            "app_failure_samples": sorted(Counter(failures).items())[:10],
            "refresh_seconds": self.config.process_refresh_seconds,
            # Distinct keys the workers signed with: one per rotation they lived through.
            "keys_used": len({key for worker in workers for key in worker.key_ids}),
            "locked_out_after_revoke": profile.get("locked_out_after_revoke"),
            "lockout_message": profile.get("lockout_message"),
            "reseeded_after_revoke": profile.get("reseeded"),
        }


def check_invariants(
    emulator: Emulator, consumer: Consumer, sm: SecretsManagerClient, iam: IAMClient
) -> list[str]:
    """Violations of the rotation invariants right now (empty when all hold): the sandbox's
    (``credrot.sandbox.aws.state_violations``), and no failed handler invocation."""

    def authenticates_as(value: Mapping[str, Any]) -> str:
        key = AccessKeyPair(value["AccessKeyId"], value["SecretAccessKey"])
        try:
            arn: str = emulator.client("sts", key).get_caller_identity()["Arn"]
        except Exception as error:  # noqa: BLE001 - reported as a violation
            return f"an error ({type(error).__name__})"
        return arn

    state = read_snapshot(sm, iam, consumer.secret_arn, consumer.user_name, {})
    current = read_value(sm, consumer.secret_arn, stage=CURRENT)
    violations = [
        message
        for _, message in state_violations(
            state, current, authenticates_as, consumer.user_arn, rotation_in_progress=False
        )
    ]
    failed = [f"{i.step} ({i.error})" for i in emulator.invocations if i.failed]
    if failed:
        violations.append(f"rotation handler failures: {'; '.join(failed)}")
    return violations


def consumer_name(index: int) -> str:
    """The drill's consumers: drill-app, then drill-app-2, drill-app-3..."""
    return CONSUMER_NAME if index == 0 else f"{CONSUMER_NAME}-{index + 1}"


def _consumers_text(consumers: list[Consumer]) -> str:
    if len(consumers) == 1:
        consumer = consumers[0]
        return f"user {consumer.user_name}, secret {consumer.secret_arn}"
    return f"{len(consumers)} consumers ({consumers[0].name} to {consumers[-1].name})"


def run_drill(config: DrillConfig | None = None, progress: TextIO | None = None) -> dict[str, Any]:
    """Run the drill; return its report (``report["passed"]`` is the verdict)."""
    return _Drill(config or DrillConfig(), progress).run()


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95 and max of ``values`` (linear interpolation), rounded to milliseconds."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    if len(values) == 1:
        cuts = [values[0]] * 99
    else:
        cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": round(cuts[49], 3),
        "p95": round(cuts[94], 3),
        "max": round(max(values), 3),
    }


def format_report(report: dict[str, Any]) -> str:
    """The human-readable drill report."""
    seconds = report["rotation_seconds"]
    per_rotation = report["api_calls_per_rotation"]
    by_operation = ", ".join(
        f"{operation} {count:g}" for operation, count in per_rotation["by_operation"].items()
    )
    with_process = report["rotations_with_process_workers"]
    count = report["consumers"]
    extra = report["rotations"] - count * report["rotations_requested"] - with_process
    shared = report["shared_function"]
    functions = [_function_name(arn) for arn in report["rotation_functions"]]
    if shared["arn"] is not None and shared["consumers_served"] == count:
        served = (
            f"{'all' if count > 1 else ''} rotated by one shared function"
            f" {_function_name(shared['arn'])} ({shared['invocations']} invocations)"
        ).lstrip()
    else:
        served = f"rotated by {len(functions)} functions: {', '.join(functions)}"
    per_consumer = report["per_consumer"]
    finished = sorted(entry["rotations_finished_by_function"] for entry in per_consumer)
    lines = [
        "Drill report",
        f"  Consumers          {count}, {served}",
        f"  Rotations          {report['rotations']} ("
        + (
            f"{report['rotations_requested']}"
            if count == 1
            else f"{count} x {report['rotations_requested']}"
        )
        + (f" + {with_process} with process workers" if with_process else "")
        + f" + {extra} by revoke), rotation handler failures {report['handler_failures']}",
        f"  Per consumer       {_span(finished)} rotations finished by the function, key"
        f" changed {report['keys_changed']}/{count}",
        f"  Rotation time      p50 {seconds['p50']:.3f} s, p95 {seconds['p95']:.3f} s,"
        f" max {seconds['max']:.3f} s",
        f"  AWS calls/rotation {per_rotation['total']:g} ({by_operation})",
        f"  Sweep (grace 0)    deactivated {report['sweep'].get('deactivated_key_id')},"
        f" {sum(report['sweep'].get('api_calls', {}).values())} AWS calls",
        f"  Revoke             deactivated {report['revoke'].get('deactivated_key_id')}, current"
        f" {report['revoke'].get('current_key_id')}",
        f"  App calls          {report['app_calls']} made by {report['workers']} workers,"
        f" {report['app_failures']} failed, {report['app_calls_recovered_by_retry']} recovered"
        " by refresh-and-retry",
        f"  Secret reads       {report['secret_reads']} GetSecretValue"
        f" ({report['secret_reads_per_app_call']:.4f} per app call; refresh window"
        f" {report['refresh_seconds']:g} s)",
        f"  Invariants         {report['invariant_checks']} checks, "
        + (
            f"{len(report['invariant_violations'])} violated"
            if report["invariant_violations"]
            else "all held"
        ),
        "  Keys at end" + (f" ({per_consumer[0]['name']})" if count > 1 else ""),
    ]
    if count > 1:
        sweep_line = next(i for i, line in enumerate(lines) if line.startswith("  Sweep"))
        for entry in reversed(per_consumer):
            lines.insert(
                sweep_line,
                f"    {entry['name']:<16} {entry['rotations']} rotations, {entry['app_calls']}"
                f" app calls by {entry['app_workers']} workers, {entry['app_failures']} failed;"
                f" key {entry['first_key_id']} -> {entry['current_key_id']}",
            )
    keys_at = next(i for i, line in enumerate(lines) if line.startswith("  Keys at end"))
    lines.extend(
        f"    {key['access_key_id']}  {key['status']:<8}  {key['role']}"
        for key in report["keys_at_end"]
    )
    process = report["credential_process_workers"]
    if process["workers"]:
        after_revoke = (
            "locked out after the revoke (as intended)"
            if process["locked_out_after_revoke"]
            else "NOT locked out after the revoke"
        )
        lines.insert(
            keys_at,
            f"  Process workers    {process['app_calls']} app calls made by"
            f" {process['workers']} credential_process workers, {process['app_failures']}"
            f" failed; {process['keys_used']} keys followed by self-read (refresh window"
            f" {process['refresh_seconds']:g} s); {after_revoke}, re-seeded by export: "
            + ("works" if process["reseeded_after_revoke"] else "FAILED"),
        )
    for failure, times in [*report["app_failure_samples"], *process["app_failure_samples"]]:
        lines.append(f"  FAILED app call    {failure} x{times}")
    lines.extend(f"  VIOLATION          {v}" for v in report["invariant_violations"])
    allowance = report["emulator_only_allowance"]
    attached = allowance["attached_to"]
    if len(attached) > 4:
        attached = [*attached[:3], f"and {len(attached) - 3} more"]
    lines.append(
        f"  Emulator-only      {allowance['policy']} on {', '.join(attached)}:"
        " moto checks IAM/Secrets Manager permissions against '*' only; the component's"
        " policy documents are used unchanged"
    )
    lines.append(
        f"  Result             {'PASS' if report['passed'] else 'FAIL'}"
        f" in {report['duration_seconds']:.1f} s"
    )
    return "\n".join(lines)


def _function_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def _span(values: list[int]) -> str:
    """ "3" or "3-5": the smallest and largest of ``values``."""
    if not values:
        return "0"
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high}"


def _process_progress(workers: list[ProcessWorker]) -> str:
    calls = sum(worker.calls for worker in workers)
    failed = sum(len(worker.failures) for worker in workers)
    return f"credential_process calls {calls}, failed {failed}"


def _progress(workers: list[AppWorker]) -> str:
    calls = sum(worker.calls for worker in workers)
    failed = sum(len(worker.failures) for worker in workers)
    recovered = sum(worker.recovered for worker in workers)
    reads = sum(worker.secret_reads for worker in workers)
    return f"app calls {calls}, failed {failed}, recovered {recovered}, secret reads {reads}"
