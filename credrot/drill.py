"""The drill: zero-downtime rotation rehearsed end to end on the embedded emulator.

It provisions a consumer as the Pulumi component does (``credrot.provision``), turns IAM
authentication on, starts app workers that keep calling S3 GetObject and STS
GetCallerIdentity through ``credrot.client`` sessions, and meanwhile performs N rotations
(RotateSecret, running the real rotation Lambda), a RetirePreviousKey sweep with zero grace,
and a revoke. Invariants are checked after each step and at the end; the drill passes only
if no app call failed and every invariant held.

The workers' refresh window (2 s) is longer than the time between rotations, so workers
regularly hold a key that a rotation deletes, a sweep or a revoke deactivates: only the
client's refresh-and-retry on a rejected key keeps their calls from failing.
"""

from __future__ import annotations

import functools
import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from credrot import operations
from credrot.client import session
from credrot.emulator import AccessKeyPair, Emulator
from credrot.health import CURRENT, PENDING, key_rows
from credrot.provision import EMULATOR_ONLY_POLICY, Consumer, provision_consumer

CONSUMER_NAME = "drill-app"
WARMUP_TIMEOUT = 10.0
ROTATION_TIMEOUT = 30.0


@dataclass(frozen=True)
class DrillConfig:
    """How hard to push: rotations, app workers, their refresh window, the pacing."""

    rotations: int = 5
    workers: int = 4
    refresh_seconds: float = 2.0
    pause_seconds: float = 0.5
    auth_retry: bool = True


class AppWorker(threading.Thread):
    """An app instance: its own credrot session, calling AWS until told to stop."""

    def __init__(
        self,
        index: int,
        emulator: Emulator,
        consumer: Consumer,
        config: DrillConfig,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"app-worker-{index}", daemon=True)
        self._consumer = consumer
        self._stop_event = stop
        self._lock = threading.Lock()
        self.calls = 0
        self.failures: list[str] = []
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
            self._stop_event.wait(0.01)

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
        self.sweep_tokens: list[str] = []
        self.sweep: dict[str, Any] = {}
        self.revoke: dict[str, Any] = {}

    def log(self, message: str) -> None:
        if self.progress is not None:
            elapsed = time.monotonic() - self.started
            self.progress.write(f"drill [{elapsed:5.1f}s] {message}\n")
            self.progress.flush()

    def run(self) -> dict[str, Any]:
        with Emulator() as emulator:
            self.log(f"emulator on {emulator.endpoint_url}")
            consumer = provision_consumer(emulator, CONSUMER_NAME, propagation_timeout_seconds=10)
            emulator.enable_iam_authentication()
            self.log(
                f"provisioned user {consumer.user_name}, secret {consumer.secret_arn} and"
                f" rotation function {consumer.function_name}; IAM authentication on"
            )
            with emulator.environ(consumer.reader):
                return self._exercise(emulator, consumer)

    def _exercise(self, emulator: Emulator, consumer: Consumer) -> dict[str, Any]:
        config = self.config
        sm = emulator.client("secretsmanager")
        iam = emulator.client("iam")
        stop = threading.Event()
        workers = [AppWorker(i, emulator, consumer, config, stop) for i in range(config.workers)]
        for worker in workers:
            worker.start()
        try:
            self._wait_for_warm_workers(workers)
            self.log(
                f"{config.workers} app workers calling s3:GetObject and sts:GetCallerIdentity"
                f" (refresh window {config.refresh_seconds:g} s,"
                f" retry on rejected key {'on' if config.auth_retry else 'OFF'})"
            )
            for number in range(1, config.rotations + 1):
                result = operations.rotate(sm, consumer.secret_arn, timeout=ROTATION_TIMEOUT)
                self.rotations.append(result)
                self._check(emulator, consumer, sm, iam, f"after rotation {number}")
                self.log(
                    f"rotation {number}/{config.rotations}: {result.seconds:.2f} s, current key"
                    f" {result.current_key_id} | {_progress(workers)}"
                )
                time.sleep(config.pause_seconds)
            self._sweep(emulator, consumer, sm, iam)
            time.sleep(config.pause_seconds)
            revoked = operations.revoke(sm, iam, consumer.secret_arn, timeout=ROTATION_TIMEOUT)
            self.rotations.append(revoked.rotation)
            self.revoke = {
                "current_key_id": revoked.rotation.current_key_id,
                "deactivated_key_id": revoked.deactivated_key_id,
            }
            self._check(emulator, consumer, sm, iam, "after revoke")
            self.log(
                f"revoke: current key {revoked.rotation.current_key_id}, deactivated"
                f" {revoked.deactivated_key_id} | {_progress(workers)}"
            )
            # Let every worker's window expire at least once on the final key.
            time.sleep(config.refresh_seconds + 0.5)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=10)
        self._check(emulator, consumer, sm, iam, "at the end")
        self.log(f"workers stopped | {_progress(workers)}")
        return self._report(emulator, consumer, sm, iam, workers)

    def _wait_for_warm_workers(self, workers: list[AppWorker]) -> None:
        deadline = time.monotonic() + WARMUP_TIMEOUT
        while any(worker.successes < 2 for worker in workers):
            if time.monotonic() > deadline:
                self.violations.append("app workers could not make a first successful call")
                return
            time.sleep(0.02)

    def _sweep(self, emulator: Emulator, consumer: Consumer, sm: Any, iam: Any) -> None:
        """RetirePreviousKey through Lambda's Invoke API, as the schedule does, with zero grace."""
        _, previous, _ = operations.read_version(sm, consumer.secret_arn, stage="AWSPREVIOUS")
        calls_before = len(emulator.invocations)
        with emulator.function_environment(consumer.function_name, PREVIOUS_KEY_GRACE_HOURS="0"):
            response = emulator.client("lambda").invoke(
                FunctionName=consumer.function_name,
                Payload=json.dumps(
                    {"Action": "RetirePreviousKey", "SecretId": consumer.secret_arn}
                ),
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
        self.sweep = {
            "ok": not response.get("FunctionError"),
            "deactivated_key_id": previous_id,
            "api_calls": dict(sorted(calls.items())),
        }
        self._check(emulator, consumer, sm, iam, "after the sweep")
        self.log(f"sweep with zero grace: deactivated the previous key {previous_id}")

    def _check(self, emulator: Emulator, consumer: Consumer, sm: Any, iam: Any, when: str) -> None:
        """The invariants: AWSCURRENT authenticates as the user; at most 2 keys; every
        Active key is recorded in the secret; no AWSPENDING left; no handler failure."""
        self.checks += 1
        found = check_invariants(emulator, consumer, sm, iam)
        self.violations.extend(f"{when}: {violation}" for violation in found)

    def _report(
        self,
        emulator: Emulator,
        consumer: Consumer,
        sm: Any,
        iam: Any,
        workers: list[AppWorker],
    ) -> dict[str, Any]:
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
        snapshot = operations.take_snapshot(sm, iam, consumer.secret_arn)
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
            "rotations": rotations,
            "rotations_requested": self.config.rotations,
            "rotation_seconds": percentiles(seconds),
            "api_calls_per_rotation": {
                "total": round(sum(per_rotation.values()) / max(rotations, 1), 2),
                "by_operation": {
                    operation: round(count / max(rotations, 1), 2)
                    for operation, count in sorted(per_rotation.items())
                },
            },
            "sweep": self.sweep,
            "revoke": self.revoke,
            "app_calls": app_calls,
            "app_failures": len(failures),
            "app_failure_samples": sorted(Counter(failures).items())[:10],
            "app_calls_recovered_by_retry": sum(worker.recovered for worker in workers),
            "secret_reads": secret_reads,
            "secret_reads_per_app_call": round(secret_reads / max(app_calls, 1), 5),
            "workers": self.config.workers,
            "refresh_seconds": self.config.refresh_seconds,
            "auth_retry": self.config.auth_retry,
            "handler_failures": emulator.handler_failures,
            "invariant_checks": self.checks,
            "invariant_violations": self.violations,
            "keys_at_end": keys_at_end,
            "emulator_only_allowance": {
                "policy": EMULATOR_ONLY_POLICY,
                "attached_to": list(consumer.emulator_only_policies),
                "why": "moto matches IAM and Secrets Manager permissions against '*' only, so"
                " the component's ARN-scoped statements are repeated on '*' in the emulator;"
                " the documents themselves are exactly components.iam_policies' output",
            },
            "duration_seconds": round(time.monotonic() - self.started, 2),
        }
        report["passed"] = not failures and not self.violations and not emulator.handler_failures
        return report


def check_invariants(emulator: Emulator, consumer: Consumer, sm: Any, iam: Any) -> list[str]:
    """Violations of the rotation invariants right now (empty when all hold)."""
    violations: list[str] = []
    snapshot = operations.take_snapshot(sm, iam, consumer.secret_arn)
    _, current, malformed = operations.read_version(sm, consumer.secret_arn, stage=CURRENT)
    if current is None or not current.has_key:
        violations.append(f"AWSCURRENT holds no key ({malformed or 'bootstrap value'})")
    else:
        assert current.access_key_id is not None and current.secret_access_key is not None
        sts = emulator.client(
            "sts", AccessKeyPair(current.access_key_id, current.secret_access_key)
        )
        try:
            arn = sts.get_caller_identity()["Arn"]
        except Exception as error:  # noqa: BLE001 - reported as a violation
            arn = f"an error ({type(error).__name__})"
        if arn != consumer.user_arn:
            violations.append(
                f"the AWSCURRENT key {current.access_key_id} authenticates as {arn}, not"
                f" {consumer.user_arn}"
            )
    keys = snapshot.user_keys or ()
    if len(keys) > 2:
        violations.append(f"the user has {len(keys)} keys")
    for row in key_rows(snapshot):
        if row.role == "unknown" and row.status == "Active":
            violations.append(f"Active key {row.access_key_id} is not recorded in the secret")
    pending = [v.version_id for v in snapshot.versions if PENDING in v.stages]
    if pending:
        violations.append(f"AWSPENDING left on version(s) {', '.join(pending)}")
    failed = [f"{i.step} ({i.error})" for i in emulator.invocations if i.failed]
    if failed:
        violations.append(f"rotation handler failures: {'; '.join(failed)}")
    return violations


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
    extra = report["rotations"] - report["rotations_requested"]
    lines = [
        "Drill report",
        f"  Rotations          {report['rotations']} ({report['rotations_requested']} + {extra}"
        f" by revoke), rotation handler failures {report['handler_failures']}",
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
        "  Keys at end",
    ]
    lines.extend(
        f"    {key['access_key_id']}  {key['status']:<8}  {key['role']}"
        for key in report["keys_at_end"]
    )
    for failure, count in report["app_failure_samples"]:
        lines.append(f"  FAILED app call    {failure} x{count}")
    lines.extend(f"  VIOLATION          {v}" for v in report["invariant_violations"])
    allowance = report["emulator_only_allowance"]
    lines.append(
        f"  Emulator-only      {allowance['policy']} on {', '.join(allowance['attached_to'])}:"
        " moto checks IAM/Secrets Manager permissions against '*' only; the component's"
        " policy documents are used unchanged"
    )
    lines.append(
        f"  Result             {'PASS' if report['passed'] else 'FAIL'}"
        f" in {report['duration_seconds']:.1f} s"
    )
    return "\n".join(lines)


def _progress(workers: list[AppWorker]) -> str:
    calls = sum(worker.calls for worker in workers)
    failed = sum(len(worker.failures) for worker in workers)
    recovered = sum(worker.recovered for worker in workers)
    reads = sum(worker.secret_reads for worker in workers)
    return f"app calls {calls}, failed {failed}, recovered {recovered}, secret reads {reads}"
