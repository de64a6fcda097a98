"""A moto sandbox in which the real rotation handler runs step by step, and the invariants.

Shared by ``bench/faults.py`` (the fault-injection matrix) and ``tests/resilience`` (its fast
subset and the stateful property test), so both check exactly the same things.

``Sandbox(mode)`` is moto's in-process ``mock_aws`` plus:
- a rotation function registered in moto's Lambda whose invocations are recorded, not run,
  in one of the two deployment modes (``MODES``): ``"isolated"``, each consumer's function
  bound to its user and secret by its environment (``contract.function_environment``), or
  ``"shared"``, one function for every consumer (``contract.shared_function_environment``)
  that finds each secret's user from the secret's name and tag; every Target is deployed
  the same way in both (names, the secret's user tag, the user's reverse binding and
  rotator tags, as the component sets them), only the function's environment differs.
  RotateSecret stages AWSPENDING as AWS does, and ``Target`` then drives each step through
  ``rotation_lambda.handler.lambda_handler`` itself, so a test chooses what fails and when;
- ``boto3.DEFAULT_SESSION`` reserved for the handler (its clients come from it), so hooks
  registered on it (``sandbox.handler_events``) see the handler's calls only; the driver's
  own calls go through a separate session;
- where moto differs from AWS in ways the protocol depends on, AWS's behaviour (each patch
  below names the difference): RotateSecret's "previous rotation isn't complete" rule,
  ListSecretVersionIds' CreatedDate, and dates that are seconds apart as real events are
  (moto stamps with the wall clock, so everything a fast test does lands in one second);
- the propagation wait and botocore's retry backoff made instant, and counted.

Invariants (``Target.violations``), checked after every case or action:
1. AWSCURRENT authenticates as the user: STS with the AWSCURRENT key returns the user's exact
   ARN, and IAM lists that key as Active (moto accepts Inactive keys, so both are checked);
2. the user has at most 2 access keys;
3. every Active key is recorded in the secret (any version); right after a successful
   rotation, only in AWSCURRENT or AWSPREVIOUS. Keys an operator made by hand are exempt;
4. no version is left AWSPENDING when no rotation is in progress;
5. no SecretAccessKey ever minted (recorded from every CreateAccessKey response by an
   after-call hook) appears in the rotation_lambda logger's output, stdout/stderr written
   while the handler ran, or the messages of the exceptions it raised.

And across every invocation of the handler (``Target.lifecycle_violations``, from snapshots
taken just before and just after it, reported by ``violations`` too):
6. no unproven deletion: a key that was Active goes Inactive or away only if it was not the
   current key, and some version of the secret recorded it (keys minted during the action
   excepted);
7. grace measured from the finish: an Active AWSPREVIOUS key goes only once the grace has
   passed since its successor became AWSCURRENT, as the driver itself saw it happen (on the
   handler's clock), not as the function recorded it;
8. the sweep always leaves a working key: it retires nothing unless AWSCURRENT's key is
   Active and stays so (with 1, checked after every action).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace, TracebackType
from typing import Any

import boto3
import botocore.loaders
import botocore.retries.standard
import botocore.session
import moto.awslambda.models
import moto.iam.models
import moto.secretsmanager.models
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from bench.common import sealed_aws
from components import contract
from components.iam_policies import lambda_assume_role_policy
from credrot.ops import operations
from credrot.sandbox.emulator import apply_aws_rotation_rule, patched_environ
from rotation_lambda import clock, propagation
from rotation_lambda.handler import lambda_handler

REGION = "us-east-1"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
SWEEP = "RetirePreviousKey"
CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
# The rotation steps' grace (the component's default); the sweep may be given another.
ROTATION_GRACE_HOURS = 24.0
PROPAGATION_TIMEOUT_SECONDS = 60
USER_PATH = contract.IAM_PATH
# The deployment modes a Sandbox runs the function in (see the module docstring).
MODES = ("isolated", "shared")
# The users' rotator tag value, as the sandbox's deployer sets it.
ROTATOR_ID = "rig"
LOGGER_NAME = "rotation_lambda"
# Grace values of the sweep: "zero" retires at once, "large" never within a run.
ZERO_GRACE_HOURS = 0.0
LARGE_GRACE_HOURS = 8_000.0

_LOADER = botocore.loaders.create_loader()
_DRIVER_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2})


def new_session() -> boto3.Session:
    """A boto3 session sharing one model loader (clients cost milliseconds, not 100 ms)."""
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=REGION)


class MotoClock:
    """The time moto stamps on keys and versions: a day behind real time, moved by ``tick``.

    A day behind, so the handler's own clock (real) sees every version as already old enough
    for a zero grace; ``LARGE_GRACE_HOURS`` is far more than a day.
    """

    def __init__(self) -> None:
        self.now = float(int(time.time()) - 86_400)

    def time(self) -> float:
        return self.now

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC).replace(tzinfo=None)

    def tick(self, seconds: float = 1.0) -> None:
        """Advance: each driver action is a separate event, a second after the last."""
        self.now += seconds


class Output:
    """Everything the handler said: log records, stdout/stderr, exception messages."""

    def __init__(self) -> None:
        self.chunks: list[str] = []

    def text(self) -> str:
        return "\n".join(self.chunks)


class _CaptureHandler(logging.Handler):
    def __init__(self, output: Output) -> None:
        super().__init__(level=logging.DEBUG)
        self._output = output

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self._output.chunks.append(text)


class Sandbox:
    """moto in-process, patched towards AWS, with a recorded rotation function (see module)
    running in ``mode``: "isolated" (default) or "shared"."""

    def __init__(self, mode: str = "isolated") -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: use one of {', '.join(MODES)}")
        self.mode = mode
        self.clock = MotoClock()
        self.output = Output()
        self.minted_secrets: set[str] = set()
        self.sleeps: list[float] = []
        # The function's wall clock (rotation_lambda.clock.now): moves only with ``advance``.
        self.handler_now = datetime.now(UTC).replace(microsecond=0)
        self.backoff_delays = 0
        self.invocations: list[dict[str, Any]] = []
        self._patches: list[tuple[Any, str, Any]] = []
        self._stack = contextlib.ExitStack()
        self._names = 0
        self._fake_monotonic = 0.0
        self._scanned_chunks = 0
        self._scanned_secrets: set[str] = set()
        self._leaks: set[str] = set()
        self.function_arn = ""

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        try:
            self._stack.enter_context(sealed_aws())
            self._stack.enter_context(mock_aws())
            self._install_patches()
            self._stack.callback(self._remove_patches)
            capture = _CaptureHandler(self.output)
            handler_logger = logging.getLogger(LOGGER_NAME)
            handler_logger.addHandler(capture)
            self._stack.callback(handler_logger.removeHandler, capture)
            saved_default = boto3.DEFAULT_SESSION
            self._stack.callback(setattr, boto3, "DEFAULT_SESSION", saved_default)
            driver = new_session()
            self._watch_minted(driver)
            self.iam = driver.client("iam", config=_DRIVER_CONFIG)
            self.sm = driver.client("secretsmanager", config=_DRIVER_CONFIG)
            self._driver = driver
            self.function_arn = self._register_function()
            self.fresh_handler_session()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    # -- the handler's side ---------------------------------------------------------------

    def fresh_handler_session(self) -> Any:
        """A new boto3.DEFAULT_SESSION for the handler (hooks from earlier cases are gone);
        returns its event system, for call counters and fault injectors."""
        session = new_session()
        self._watch_minted(session)
        boto3.DEFAULT_SESSION = session
        return session.events

    @property
    def handler_events(self) -> Any:
        """The event system of the handler's session (``boto3.DEFAULT_SESSION.events``)."""
        return boto3.DEFAULT_SESSION.events

    def advance(self, hours: float) -> None:
        """Let time pass for the function (grace periods are hours long)."""
        self.handler_now += timedelta(hours=hours)

    def new_target(self, prefix: str = "app") -> Target:
        """A fresh consumer (IAM user + bootstrap secret) with a unique name."""
        self._names += 1
        return Target(self, f"{prefix}{self._names}")

    def leaked_secrets(self) -> int:
        """How many minted secrets appear in the handler's output so far (never which: that
        would print them). Incremental: new output is searched for every secret, earlier
        output only for secrets minted since the last call."""
        chunks = self.output.chunks
        new_text = "\n".join(chunks[self._scanned_chunks :])
        old_text = "\n".join(chunks[: self._scanned_chunks])
        new_secrets = self.minted_secrets - self._scanned_secrets
        for secret in self.minted_secrets:
            if secret in new_text or (secret in new_secrets and secret in old_text):
                self._leaks.add(secret)
        self._scanned_chunks = len(chunks)
        self._scanned_secrets = set(self.minted_secrets)
        return len(self._leaks)

    def reset_output(self) -> None:
        """Forget the output so far (leaks already found stay counted)."""
        self.leaked_secrets()
        self.output.chunks.clear()
        self._scanned_chunks = 0

    # -- patches --------------------------------------------------------------------------

    def _watch_minted(self, session: boto3.Session) -> None:
        def record(parsed: dict[str, Any] | None = None, **_: Any) -> None:
            secret = ((parsed or {}).get("AccessKey") or {}).get("SecretAccessKey")
            if secret:
                self.minted_secrets.add(secret)

        session.events.register("after-call.iam.CreateAccessKey", record)

    def _install_patches(self) -> None:
        sandbox = self
        backend = moto.secretsmanager.models.SecretsManagerBackend
        original_list = backend.list_secret_version_ids

        def list_secret_version_ids(self: Any, secret_id: str) -> str:
            # AWS reports each version's creation date; moto 5.2.5 reports "now" for all.
            listing = json.loads(original_list(self, secret_id))
            stored = self.secrets[secret_id].versions
            for version in listing["Versions"]:
                version["CreatedDate"] = stored[version["VersionId"]]["createdate"]
            return json.dumps(listing)

        def invoke(
            self: Any, function_name: str, qualifier: Any = None, body: Any = None, **_: Any
        ) -> bytes:
            # Recorded, not run: the driver runs each step itself (see Target.run_step).
            sandbox.invocations.append(json.loads(body))
            return b""

        def sleep(seconds: float) -> None:
            sandbox.sleeps.append(seconds)
            sandbox._fake_monotonic += seconds

        def no_backoff(self: Any, context: Any) -> float:
            sandbox.backoff_delays += 1
            return 0.0

        self._patch(backend, "rotate_secret", aws_rotate_secret(backend.rotate_secret))
        self._patch(backend, "list_secret_version_ids", list_secret_version_ids)
        self._patch(moto.awslambda.models.LambdaBackend, "invoke", invoke)
        self._patch(moto.iam.models, "utcnow", self.clock.utcnow)
        self._patch(moto.secretsmanager.models, "time", SimpleNamespace(time=self.clock.time))
        self._patch(clock, "now", lambda: sandbox.handler_now)
        self._patch(propagation, "sleep", sleep)
        self._patch(propagation, "monotonic", lambda: sandbox._fake_monotonic)
        self._patch(botocore.retries.standard.ExponentialBackoff, "delay_amount", no_backoff)

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        self._patches.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def _remove_patches(self) -> None:
        for owner, name, original in reversed(self._patches):
            setattr(owner, name, original)
        self._patches.clear()

    def _register_function(self) -> str:
        role_arn = self.iam.create_role(
            RoleName="rotation-function",
            AssumeRolePolicyDocument=json.dumps(lambda_assume_role_policy()),
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("README.txt", "recorded, not run: the driver runs rotation_lambda\n")
        arn: str = self._driver.client("lambda").create_function(
            FunctionName="rotation-function",
            Runtime="python3.13",
            Role=role_arn,
            Handler="rotation_lambda.handler.lambda_handler",
            Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]
        return arn


def aws_rotate_secret(original: Callable[..., str]) -> Callable[..., str]:
    """moto's SecretsManagerBackend.rotate_secret with AWS's rule on AWSPENDING (the
    emulator's own, ``credrot.sandbox.emulator.apply_aws_rotation_rule``), for the in-process
    sandbox."""

    def rotate_secret(self: Any, secret_id: str, **kwargs: Any) -> str:
        if self._is_valid_identifier(secret_id):
            apply_aws_rotation_rule(self.secrets[secret_id], kwargs.get("client_request_token"))
        return original(self, secret_id, **kwargs)

    return rotate_secret


@dataclass(frozen=True)
class Version:
    """One secret version as the invariants see it (never its secret part)."""

    stages: tuple[str, ...]
    has_value: bool
    key_id: str | None


@dataclass(frozen=True)
class Snapshot:
    """The observable state: the user's keys (id -> status) and the secret's versions."""

    keys: Mapping[str, str]
    versions: Mapping[str, Version]

    def key_in(self, stage: str) -> str | None:
        """The key id recorded by the version carrying ``stage``."""
        for version in self.versions.values():
            if stage in version.stages:
                return version.key_id
        return None

    def version_with(self, stage: str) -> str | None:
        for version_id, version in self.versions.items():
            if stage in version.stages:
                return version_id
        return None


class Target:
    """One consumer: an IAM user and its secret (bootstrap value), as the component deploys."""

    def __init__(self, sandbox: Sandbox, name: str) -> None:
        self.sandbox = sandbox
        # A version's value never changes once put (AWS refuses another value for the same
        # token): the key each valued version records is read once.
        self._recorded: dict[str, str | None] = {}
        names = contract.ConsumerNames(name)
        self.user_name = names.user
        self.secret_arn: str = sandbox.sm.create_secret(
            Name=names.secret,
            Tags=[
                {"Key": contract.CONSUMER_TAG, "Value": name},
                {"Key": contract.SECRET_USER_TAG, "Value": self.user_name},
            ],
        )["ARN"]
        self.user_arn: str = sandbox.iam.create_user(
            UserName=self.user_name,
            Path=USER_PATH,
            Tags=[
                {"Key": contract.CONSUMER_TAG, "Value": name},
                {"Key": contract.USER_SECRET_TAG, "Value": self.secret_arn},
                {"Key": contract.ROTATOR_TAG, "Value": ROTATOR_ID},
            ],
        )["User"]["Arn"]
        sandbox.sm.put_secret_value(
            SecretId=self.secret_arn,
            SecretString=json.dumps({"UserName": self.user_name}),
            VersionStages=[CURRENT],
        )
        # When each version became AWSCURRENT, as the driver saw it (see lifecycle_violations).
        self.current_since: dict[str, datetime] = {}
        self.lifecycle_found: list[tuple[str, str]] = []

    # -- driving --------------------------------------------------------------------------

    def environ(self, **overrides: str) -> dict[str, str]:
        """The function's environment as the component sets it in the sandbox's mode
        (LOG_LEVEL raised to DEBUG so that every line the handler could ever write is
        checked for secrets)."""
        environment: dict[str, str]
        if self.sandbox.mode == "shared":
            environment = contract.shared_function_environment(
                user_path=contract.IAM_PATH,
                secret_name_prefix=contract.RESOURCE_NAME_PREFIX,
                propagation_timeout_seconds=PROPAGATION_TIMEOUT_SECONDS,
                previous_key_grace_hours=ROTATION_GRACE_HOURS,
                log_level="DEBUG",
            )
        else:
            environment = contract.function_environment(
                user_name=self.user_name,
                user_arn=self.user_arn,
                secret_arn=self.secret_arn,
                propagation_timeout_seconds=PROPAGATION_TIMEOUT_SECONDS,
                previous_key_grace_hours=ROTATION_GRACE_HOURS,
                log_level="DEBUG",
            )
        return {**environment, **overrides}

    def invoke(self, event: dict[str, Any], **environ: str) -> None:
        """Run the handler once with the function's environment; capture what it says."""
        self.sandbox.clock.tick()
        output = self.sandbox.output
        stdout, stderr = io.StringIO(), io.StringIO()
        before = self.snapshot()
        grace_hours = float(self.environ(**environ)["PREVIOUS_KEY_GRACE_HOURS"])
        with patched_environ(self.environ(**environ)):
            try:
                with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                    lambda_handler(event, None)
            except Exception as error:
                output.chunks.append(f"{type(error).__name__}: {error}")
                raise
            finally:
                output.chunks.extend(
                    text for text in (stdout.getvalue(), stderr.getvalue()) if text
                )
                self.lifecycle_found += self.lifecycle_violations(
                    before, self.snapshot(), grace_hours=grace_hours
                )
                self._watch_current()

    def _watch_current(self) -> None:
        """Note when AWSCURRENT moved to a version the driver has not seen current yet."""
        stages = self.sandbox.sm.describe_secret(SecretId=self.secret_arn)["VersionIdsToStages"]
        current = next((v for v, labels in stages.items() if CURRENT in labels), None)
        if current is not None and current not in self.current_since:
            self.current_since[current] = self.sandbox.handler_now

    def stage_rotation(self) -> str:
        """RotateSecret as AWS does it: a new AWSPENDING version without a value; the token."""
        self.sandbox.clock.tick()
        before = len(self.sandbox.invocations)
        token: str = self.sandbox.sm.rotate_secret(
            SecretId=self.secret_arn,
            RotationLambdaARN=self.sandbox.function_arn,
            RotationRules={"AutomaticallyAfterDays": 30},
        )["VersionId"]
        steps = [event["Step"] for event in self.sandbox.invocations[before:]]
        assert steps == list(STEPS), steps
        return token

    def run_step(self, step: str, token: str) -> None:
        """Invoke the handler for one step of the rotation ``token``."""
        self.invoke({"Step": step, "SecretId": self.secret_arn, "ClientRequestToken": token})

    def run_steps(self, token: str, steps: tuple[str, ...] = STEPS) -> None:
        """Invoke the handler for each of ``steps`` in order (a failure stops the rotation)."""
        for step in steps:
            self.run_step(step, token)

    def rotate(self) -> str:
        """A whole rotation; returns its token."""
        token = self.stage_rotation()
        self.run_steps(token)
        return token

    def sweep(self, grace_hours: float = ZERO_GRACE_HOURS) -> None:
        """The scheduled RetirePreviousKey action with the given grace."""
        self.invoke(
            {"Action": SWEEP, "SecretId": self.secret_arn},
            PREVIOUS_KEY_GRACE_HOURS=f"{grace_hours:g}",
        )

    def let_grace_pass(self) -> None:
        """Move the function's clock past the rotation steps' grace."""
        self.sandbox.advance(ROTATION_GRACE_HOURS + 0.01)

    def unstick(self) -> operations.UnstickResult | None:
        """credrot's unstick (forced: nothing else is running here)."""
        self.sandbox.clock.tick()
        return operations.unstick(self.sandbox.sm, self.secret_arn, force=True)

    def create_key_by_hand(self, *, active: bool = True) -> str:
        """A key an operator made outside the rotation (Inactive if ``active`` is False)."""
        self.sandbox.clock.tick()
        key_id: str = self.sandbox.iam.create_access_key(UserName=self.user_name)["AccessKey"][
            "AccessKeyId"
        ]
        if not active:
            self.set_key_status_by_hand(key_id, "Inactive")
        return key_id

    def set_key_status_by_hand(self, key_id: str, status: str) -> None:
        self.sandbox.clock.tick()
        self.sandbox.iam.update_access_key(
            UserName=self.user_name, AccessKeyId=key_id, Status=status
        )

    def delete_key_by_hand(self, key_id: str) -> None:
        self.sandbox.clock.tick()
        self.sandbox.iam.delete_access_key(UserName=self.user_name, AccessKeyId=key_id)

    # -- observing ------------------------------------------------------------------------

    def access_keys(self) -> dict[str, str]:
        """The user's access keys: id -> Active/Inactive."""
        listed = self.sandbox.iam.list_access_keys(UserName=self.user_name)["AccessKeyMetadata"]
        return {item["AccessKeyId"]: item["Status"] for item in listed}

    def value(
        self, *, stage: str | None = None, version_id: str | None = None
    ) -> dict[str, Any] | None:
        """A version's parsed value (None if it has none); always names stage or version."""
        params = {"SecretId": self.secret_arn}
        if stage:
            params["VersionStage"] = stage
        if version_id:
            params["VersionId"] = version_id
        try:
            response = self.sandbox.sm.get_secret_value(**params)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        value: dict[str, Any] = json.loads(response["SecretString"])
        return value

    def snapshot(self) -> Snapshot:
        """Keys and every version (deprecated ones included) with the key each records."""
        listed = self.sandbox.sm.list_secret_version_ids(
            SecretId=self.secret_arn, IncludeDeprecated=True
        )["Versions"]
        versions = {}
        for item in listed:
            version_id = item["VersionId"]
            if version_id not in self._recorded:
                value = self.value(version_id=version_id)
                if value is not None:
                    self._recorded[version_id] = value.get("AccessKeyId")
            versions[version_id] = Version(
                stages=tuple(sorted(item.get("VersionStages", []))),
                has_value=version_id in self._recorded,
                key_id=self._recorded.get(version_id),
            )
        return Snapshot(keys=self.access_keys(), versions=versions)

    def authenticates_as(self, value: Mapping[str, Any]) -> str:
        """The ARN STS reports for the key in ``value`` (moto checks no secret: compare it)."""
        sts = self.sandbox._driver.client(
            "sts",
            aws_access_key_id=value["AccessKeyId"],
            aws_secret_access_key=value["SecretAccessKey"],
            config=_DRIVER_CONFIG,
        )
        return str(sts.get_caller_identity()["Arn"])

    def violations(
        self,
        *,
        rotation_in_progress: bool,
        just_rotated: bool = False,
        keys_made_by_hand: frozenset[str] = frozenset(),
        state: Snapshot | None = None,
    ) -> list[tuple[str, str]]:
        """The invariants (module docstring) that do not hold, as (name, message) pairs.

        ``keys_made_by_hand``: keys an operator created outside the rotation (exempt from
        "recorded"). ``just_rotated``: a rotation has just completed (stricter check 3).
        ``state``: a snapshot taken since the last change (default: a new one).
        Names: current-authenticates, at-most-two-keys, active-keys-recorded,
        no-pending-left, no-secret-in-output, and those of ``lifecycle_violations`` found in
        any invocation so far.
        """
        found: list[tuple[str, str]] = list(self.lifecycle_found)
        state = state or self.snapshot()
        current = self.value(stage=CURRENT)
        if not current or "AccessKeyId" not in current:
            found.append(("current-authenticates", "AWSCURRENT holds no access key"))
        else:
            key_id = current["AccessKeyId"]
            arn = self.authenticates_as(current)
            if arn != self.user_arn:
                found.append(("current-authenticates", f"AWSCURRENT key {key_id} is {arn}"))
            status = state.keys.get(key_id, "deleted")
            if status != "Active":
                found.append(("current-authenticates", f"AWSCURRENT key {key_id} is {status}"))
        if len(state.keys) > 2:
            found.append(("at-most-two-keys", f"the user has {len(state.keys)} access keys"))
        active = {key_id for key_id, status in state.keys.items() if status == "Active"}
        recorded = {v.key_id for v in state.versions.values() if v.key_id}
        unrecorded = active - recorded - keys_made_by_hand
        if unrecorded:
            found.append(
                ("active-keys-recorded", f"Active key(s) {sorted(unrecorded)} recorded nowhere")
            )
        if just_rotated:
            extra = active - {state.key_in(CURRENT), state.key_in(PREVIOUS)} - keys_made_by_hand
            if extra - unrecorded:
                found.append(
                    (
                        "active-keys-recorded",
                        f"after the rotation, Active key(s) {sorted(extra - unrecorded)} are"
                        " neither AWSCURRENT nor AWSPREVIOUS",
                    )
                )
        if not rotation_in_progress:
            pending = sorted(vid for vid, v in state.versions.items() if PENDING in v.stages)
            if pending:
                found.append(
                    ("no-pending-left", f"AWSPENDING left on {pending} with no rotation running")
                )
        leaked = self.sandbox.leaked_secrets()
        if leaked:
            found.append(
                ("no-secret-in-output", f"{leaked} minted secret(s) appear in the handler's output")
            )
        return found

    def lifecycle_violations(
        self,
        before: Snapshot,
        after: Snapshot,
        *,
        grace_hours: float = ROTATION_GRACE_HOURS,
        keys_made_by_hand: frozenset[str] = frozenset(),
    ) -> list[tuple[str, str]]:
        """Invariants 6-8 across one action (module docstring), as (name, message) pairs.

        ``grace_hours``: the grace the action ran with. Names: no-unproven-deletion,
        grace-from-finish, sweep-leaves-a-working-key.
        """
        found: list[tuple[str, str]] = []
        current, previous = before.key_in(CURRENT), before.key_in(PREVIOUS)
        recorded = {v.key_id for v in before.versions.values() if v.key_id}
        since = self.current_since.get(before.version_with(CURRENT) or "")
        grace = timedelta(hours=grace_hours)
        retired = [
            (key_id, after.keys.get(key_id, "deleted"))
            for key_id, status in before.keys.items()
            if status == "Active" and after.keys.get(key_id) != "Active"
        ]
        for key_id, now in retired:
            if key_id == current:
                found.append(("no-unproven-deletion", f"the current key {key_id} went {now}"))
            elif key_id in keys_made_by_hand or key_id not in recorded:
                found.append(("no-unproven-deletion", f"{key_id}, recorded nowhere, went {now}"))
            elif key_id == previous and (since is None or self.sandbox.handler_now - since < grace):
                found.append(
                    (
                        "grace-from-finish",
                        f"the previous key {key_id} went {now} before {grace_hours:g} h had"
                        f" passed since its successor became current ({since})",
                    )
                )
        if retired and after.keys.get(after.key_in(CURRENT) or "") != "Active":
            found.append(
                (
                    "sweep-leaves-a-working-key",
                    "keys were retired and AWSCURRENT's key is not Active",
                )
            )
        return found
