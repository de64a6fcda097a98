"""The in-process AWS sandbox: moto's ``mock_aws`` in which the real rotation handler runs step
by step, for the rotator's tests, the resilience tests and ``bench/faults.py``.

One home for what they all need:

- ``new_session()``: boto3 sessions sharing one botocore model loader (a client costs
  milliseconds, not 100 ms); ``sealed_aws()``: dummy credentials, no profile, no endpoint;
- ``recorded_invoke``/``register_recorded_function``: a rotation function registered in moto's
  Lambda whose invocations are recorded, not run, so that the caller drives each step through
  ``rotation_lambda.handler.lambda_handler`` itself and chooses what fails and when;
- the patches where moto differs from AWS in ways the protocol depends on (each names the
  difference): RotateSecret's "previous rotation isn't complete" rule, ListSecretVersionIds'
  CreatedDate (``with_real_version_dates``), and dates that are seconds apart as real events
  are (moto stamps with the wall clock, so everything a fast test does lands in one second);
- ``Rotating``: stage a rotation, run its steps, rotate;
- ``CallCounter`` (the handler's API calls, per label and in order) and ``FaultInjector``
  (a call failed, or its response lost, through botocore's own event system);
- the invariant checker (``Target.violations``, ``lifecycle_violations``).

``Sandbox(mode)`` is moto in-process plus a recorded rotation function in one of the two
deployment modes (``MODES``): ``"isolated"``, each consumer's function bound to its user and
secret by its environment (``contract.function_environment``), or ``"shared"``, one function
for every consumer (``contract.shared_function_environment``) that finds each secret's user
from the secret's name and tag. Every Target is deployed the same way in both (names, the
secret's user tag, the user's reverse binding and rotator tags, as the component sets them);
only the function's environment differs. ``boto3.DEFAULT_SESSION`` is reserved for the
handler (its clients come from it), so hooks registered on it see the handler's calls only;
the driver's own calls go through a separate session. The propagation wait and botocore's
retry backoff are made instant, and sleeps counted.

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

The threaded emulator the drill runs on (``credrot.sandbox.emulator``) runs the handler
through moto's server instead, with IAM authentication; it shares this module's sessions and
invariant checker (``current_key_violations``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import boto3
import botocore.loaders
import botocore.retries.standard
import botocore.session
import moto.awslambda.models
import moto.iam.models
import moto.secretsmanager.models
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws
from moto.core.models import botocore_stubber as _MOTO_STUBBER

from components import contract
from components.iam_policies import lambda_assume_role_policy
from credrot.app.secret import CURRENT, PENDING, PREVIOUS
from credrot.ops import operations
from rotation_lambda import clock, propagation
from rotation_lambda.handler import lambda_handler
from rotation_lambda.logs import LOGGER_NAME
from rotation_lambda.protocol import STEPS as _STEP_FUNCTIONS

if TYPE_CHECKING:
    from botocore.hooks import BaseEventHooks
    from types_boto3_iam import IAMClient
    from types_boto3_iam.literals import StatusTypeType
    from types_boto3_lambda import LambdaClient
    from types_boto3_lambda.literals import RuntimeType
    from types_boto3_secretsmanager import SecretsManagerClient

REGION = "us-east-1"
# The rotation steps in the order Secrets Manager invokes them (the Lambda's own table).
STEPS: tuple[str, ...] = tuple(_STEP_FUNCTIONS)
SWEEP = contract.RETIRE_PREVIOUS_KEY_ACTION
# The rotation steps' grace (the component's default); the sweep may be given another.
ROTATION_GRACE_HOURS = 24.0
PROPAGATION_TIMEOUT_SECONDS = 60
# The deployment modes a Sandbox runs the function in (see the module docstring).
MODES = ("isolated", "shared")
# The users' rotator tag value, as the sandbox's deployer sets it.
ROTATOR_ID = "rig"
# Grace values of the sweep: "zero" retires at once, "large" never within a run.
ZERO_GRACE_HOURS = 0.0
LARGE_GRACE_HOURS = 8_000.0
# What FaultInjector.arm injects (see there).
FAULT_KINDS = ("throttling", "server-error", "connection-error", "read-timeout")

# The one botocore model loader every sandbox session shares.
LOADER = botocore.loaders.create_loader()
_DRIVER_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2})
# Variables that could point botocore at real AWS or at another endpoint, or configure the
# rotation function from outside the sandbox.
_AWS_VARIABLES_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "IAM_USER_NAME",
    "IAM_USER_ARN",
    "PROPAGATION_TIMEOUT_SECONDS",
    "PREVIOUS_KEY_GRACE_HOURS",
    "LOG_LEVEL",
)


def new_session(
    region: str = REGION,
    *,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
) -> boto3.Session:
    """A boto3 session sharing one model loader (clients cost milliseconds, not 100 ms),
    with these credentials (default: the environment's)."""
    core = botocore.session.Session()
    core.register_component("data_loader", LOADER)
    return boto3.Session(
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        botocore_session=core,
        region_name=region,
    )


@contextlib.contextmanager
def patched_environ(variables: Mapping[str, str], cleared: Sequence[str] = ()) -> Iterator[None]:
    """Set ``variables`` and unset ``cleared`` in os.environ for the block, then restore."""
    saved = {name: os.environ.get(name) for name in [*variables, *cleared]}
    for name in cleared:
        os.environ.pop(name, None)
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def apply_aws_rotation_rule(secret: Any, token: str | None) -> None:
    """Before RotateSecret starts, apply AWS's rule on AWSPENDING to a moto secret.

    AWS refuses a new rotation while a version other than AWSCURRENT is still AWSPENDING
    ("A previous rotation isn't complete"), unless it is the same token being retried; and
    AWSPENDING on the AWSCURRENT version means the last rotation completed (AWS's own
    template leaves that state), so the label is simply dropped. moto 5.2.5 has the rule
    inverted and silently moves a stuck label (FIELD-NOTES).
    """
    from moto.secretsmanager.exceptions import InvalidRequestException

    for version_id, version in secret.versions.items():
        stages = version["version_stages"]
        if PENDING not in stages:
            continue
        if CURRENT in stages:
            stages.remove(PENDING)
        elif version_id != token:
            raise InvalidRequestException(
                "A previous rotation isn't complete. That rotation will be reattempted."
            )


def sealed_aws_environment() -> dict[str, str]:
    """Dummy credentials, one region, no config files, no metadata service, no endpoints."""
    return {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextlib.contextmanager
def sealed_aws() -> Iterator[None]:
    """Apply ``sealed_aws_environment()`` to os.environ for the block (also clearing
    profile, endpoint and rotation-function variables), then restore it."""
    cleared = [
        name
        for name in os.environ
        if name in _AWS_VARIABLES_TO_CLEAR or name.startswith("AWS_ENDPOINT_URL_")
    ]
    with patched_environ(sealed_aws_environment(), cleared):
        yield


def stack_function_environment(
    propagation_timeout_seconds: int, previous_key_grace_hours: float, *, log_level: str = "INFO"
) -> dict[str, str]:
    """The shared rotation function's environment for the product's user path and secret
    name prefix, as the component's shared rotator sets it."""
    return contract.shared_function_environment(
        user_path=contract.IAM_PATH,
        secret_name_prefix=contract.RESOURCE_NAME_PREFIX,
        propagation_timeout_seconds=propagation_timeout_seconds,
        previous_key_grace_hours=previous_key_grace_hours,
        log_level=log_level,
    )


# -- the recorded rotation function and the patches towards AWS ------------------------------


def recorded_invoke(invocations: list[dict[str, Any]]) -> Callable[..., bytes]:
    """A stand-in for moto's ``LambdaBackend.invoke`` that appends each event to
    ``invocations`` and runs nothing (the driver runs each step itself)."""

    def invoke(
        backend: Any, function_name: str, qualifier: Any = None, body: Any = None, **_: Any
    ) -> bytes:
        invocations.append(json.loads(body))
        return b""

    return invoke


def register_recorded_function(iam: IAMClient, lambda_client: LambdaClient) -> str:
    """Create the rotation function (role, placeholder code) in moto's Lambda; its ARN."""
    role_arn = iam.create_role(
        RoleName="rotation-function",
        AssumeRolePolicyDocument=json.dumps(lambda_assume_role_policy()),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("README.txt", "recorded, not run: the driver runs rotation_lambda\n")
    return lambda_client.create_function(
        FunctionName="rotation-function",
        Runtime=cast("RuntimeType", contract.RUNTIME),
        Role=role_arn,
        Handler=contract.HANDLER,
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]


def aws_rotate_secret(original: Callable[..., str]) -> Callable[..., str]:
    """moto's SecretsManagerBackend.rotate_secret with AWS's rule on AWSPENDING
    (``apply_aws_rotation_rule``)."""

    def rotate_secret(self: Any, secret_id: str, **kwargs: Any) -> str:
        if self._is_valid_identifier(secret_id):
            apply_aws_rotation_rule(self.secrets[secret_id], kwargs.get("client_request_token"))
        return original(self, secret_id, **kwargs)

    return rotate_secret


def with_real_version_dates(original: Callable[..., str]) -> Callable[..., str]:
    """moto's SecretsManagerBackend.list_secret_version_ids reporting each version's creation
    date, as AWS does (moto 5.2.5 reports "now" for all)."""

    def list_secret_version_ids(self: Any, secret_id: str) -> str:
        listing = json.loads(original(self, secret_id))
        stored = self.secrets[secret_id].versions
        for version in listing["Versions"]:
            version["CreatedDate"] = stored[version["VersionId"]]["createdate"]
        return json.dumps(listing)

    return list_secret_version_ids


class Rotating:
    """Stage a rotation, run its steps, rotate: what every driver of the handler does.
    Subclasses say how a rotation is staged and how one step is run."""

    def stage_rotation(self) -> str:
        """RotateSecret as AWS does it: a new AWSPENDING version without a value; the token."""
        raise NotImplementedError

    def run_step(self, step: str, token: str) -> None:
        """Invoke the handler for one step of the rotation ``token``."""
        raise NotImplementedError

    def run_steps(self, token: str, steps: tuple[str, ...] = STEPS) -> None:
        """Invoke the handler for each of ``steps`` in order (a failure stops the rotation)."""
        for step in steps:
            self.run_step(step, token)

    def rotate(self) -> str:
        """A whole rotation; returns its token."""
        token = self.stage_rotation()
        self.run_steps(token)
        return token


def stage_rotation(
    sm: SecretsManagerClient, secret_id: str, function_arn: str, invocations: list[dict[str, Any]]
) -> str:
    """RotateSecret with the recorded function (``recorded_invoke`` appending to
    ``invocations``): AWS stages AWSPENDING without a value and invokes the four steps, which
    are only recorded. Returns the token."""
    before = len(invocations)
    token = sm.rotate_secret(
        SecretId=secret_id,
        RotationLambdaARN=function_arn,
        RotationRules={"AutomaticallyAfterDays": 30},
    )["VersionId"]
    steps = [event["Step"] for event in invocations[before:]]
    if steps != list(STEPS):
        raise AssertionError(f"RotateSecret invoked {steps}, not {list(STEPS)}")
    return token


# -- the handler's clock and output --------------------------------------------------------


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

    iam: IAMClient
    sm: SecretsManagerClient

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
            self.function_arn = register_recorded_function(self.iam, driver.client("lambda"))
            self.fresh_handler_session()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    # -- the handler's side ---------------------------------------------------------------

    def fresh_handler_session(self) -> BaseEventHooks:
        """A new boto3.DEFAULT_SESSION for the handler (hooks from earlier cases are gone);
        returns its event system, for call counters and fault injectors."""
        session = new_session()
        self._watch_minted(session)
        boto3.DEFAULT_SESSION = session
        return session.events

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

        def sleep(seconds: float) -> None:
            sandbox.sleeps.append(seconds)
            sandbox._fake_monotonic += seconds

        self._patch(backend, "rotate_secret", aws_rotate_secret(backend.rotate_secret))
        self._patch(
            backend,
            "list_secret_version_ids",
            with_real_version_dates(backend.list_secret_version_ids),
        )
        self._patch(
            moto.awslambda.models.LambdaBackend, "invoke", recorded_invoke(self.invocations)
        )
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


def no_backoff(self: Any, context: Any) -> float:
    """botocore's retry backoff made instant (ExponentialBackoff.delay_amount)."""
    return 0.0


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


class Target(Rotating):
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
            Path=contract.IAM_PATH,
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
            environment = stack_function_environment(
                PROPAGATION_TIMEOUT_SECONDS, ROTATION_GRACE_HOURS, log_level="DEBUG"
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
        return stage_rotation(
            self.sandbox.sm, self.secret_arn, self.sandbox.function_arn, self.sandbox.invocations
        )

    def run_step(self, step: str, token: str) -> None:
        """Invoke the handler for one step of the rotation ``token``."""
        self.invoke({"Step": step, "SecretId": self.secret_arn, "ClientRequestToken": token})

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

    def set_key_status_by_hand(self, key_id: str, status: StatusTypeType) -> None:
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
        return read_value(self.sandbox.sm, self.secret_arn, stage=stage, version_id=version_id)

    def snapshot(self) -> Snapshot:
        """Keys and every version (deprecated ones included) with the key each records."""
        return read_snapshot(
            self.sandbox.sm, self.sandbox.iam, self.secret_arn, self.user_name, self._recorded
        )

    def authenticates_as(self, value: Mapping[str, Any]) -> str:
        """The ARN STS reports for the key in ``value`` (moto checks no secret: compare it)."""
        sts = self.sandbox._driver.client(
            "sts",
            aws_access_key_id=value["AccessKeyId"],
            aws_secret_access_key=value["SecretAccessKey"],
            config=_DRIVER_CONFIG,
        )
        return sts.get_caller_identity()["Arn"]

    def violations(
        self,
        *,
        rotation_in_progress: bool,
        just_rotated: bool = False,
        keys_made_by_hand: frozenset[str] = frozenset(),
        state: Snapshot | None = None,
    ) -> list[tuple[str, str]]:
        """The invariants (module docstring) that do not hold, as (name, message) pairs:
        ``state_violations``, no-secret-in-output, and those of ``lifecycle_violations``
        found in any invocation so far. ``state``: a snapshot taken since the last change
        (default: a new one)."""
        found: list[tuple[str, str]] = list(self.lifecycle_found)
        found += state_violations(
            state or self.snapshot(),
            self.value(stage=CURRENT),
            self.authenticates_as,
            self.user_arn,
            rotation_in_progress=rotation_in_progress,
            just_rotated=just_rotated,
            keys_made_by_hand=keys_made_by_hand,
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


# -- reading the state and checking the invariants (module docstring, 1-4) ------------------


def read_value(
    sm: SecretsManagerClient,
    secret_id: str,
    *,
    stage: str | None = None,
    version_id: str | None = None,
) -> dict[str, Any] | None:
    """A version's parsed value: None if it has none (or it is not a JSON object, which
    records no key); always names stage or version (moto's default version lags, FIELD-NOTES)."""
    params = {"SecretId": secret_id}
    if stage:
        params["VersionStage"] = stage
    if version_id:
        params["VersionId"] = version_id
    try:
        response = sm.get_secret_value(**params)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise
    try:
        value = json.loads(response.get("SecretString", ""))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read_snapshot(
    sm: SecretsManagerClient,
    iam: IAMClient,
    secret_id: str,
    user_name: str,
    recorded: dict[str, str | None],
) -> Snapshot:
    """The user's keys and every version of the secret (deprecated ones included) with the
    key each records. ``recorded`` caches the key of each valued version: a version's value
    never changes once put (AWS refuses another value for the same token)."""
    listed = sm.list_secret_version_ids(SecretId=secret_id, IncludeDeprecated=True)["Versions"]
    versions = {}
    for item in listed:
        version_id = item["VersionId"]
        if version_id not in recorded:
            value = read_value(sm, secret_id, version_id=version_id)
            if value is not None:
                recorded[version_id] = value.get("AccessKeyId")
        versions[version_id] = Version(
            stages=tuple(sorted(item.get("VersionStages", []))),
            has_value=version_id in recorded,
            key_id=recorded.get(version_id),
        )
    keys = iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]
    return Snapshot(keys={key["AccessKeyId"]: key["Status"] for key in keys}, versions=versions)


def state_violations(
    state: Snapshot,
    current: Mapping[str, Any] | None,
    authenticates_as: Callable[[Mapping[str, Any]], str],
    user_arn: str,
    *,
    rotation_in_progress: bool,
    just_rotated: bool = False,
    keys_made_by_hand: frozenset[str] = frozenset(),
) -> list[tuple[str, str]]:
    """Invariants 1-4 (module docstring) that do not hold in ``state``, as (name, message).

    ``current``: AWSCURRENT's value; ``authenticates_as``: the ARN STS reports for a value's
    key. ``keys_made_by_hand``: keys an operator created outside the rotation (exempt from
    "recorded"). ``just_rotated``: a rotation has just completed (stricter check 3).
    Names: current-authenticates, at-most-two-keys, active-keys-recorded, no-pending-left.
    """
    found: list[tuple[str, str]] = []
    if not current or "AccessKeyId" not in current:
        found.append(("current-authenticates", "AWSCURRENT holds no access key"))
    else:
        key_id = current["AccessKeyId"]
        arn = authenticates_as(current)
        if arn != user_arn:
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
    return found


# -- observing and disturbing the handler's calls (botocore's own event system) ------------


def operation_of(event_name: str) -> str:
    """ "<service-id>.<Operation>" (e.g. "secrets-manager.GetSecretValue") of a botocore
    event name such as "before-call.secrets-manager.GetSecretValue"."""
    return event_name.split(".", 1)[1]


class CallCounter:
    """Counts the API calls made through an event system by "service-id.Operation" (with
    ``action_names``, by the IAM action each needs, "secretsmanager:GetSecretValue"):
    ``calls`` per ``label`` (set it to the step running), ``log`` in order."""

    def __init__(self, events: BaseEventHooks, *, action_names: bool = False) -> None:
        self.label = ""
        self.calls: dict[str, Counter[str]] = {}
        self.log: list[tuple[str, str]] = []
        self._action_names = action_names
        events.register("before-call.*.*", self._count)

    def _count(self, event_name: str, model: Any, **_: Any) -> None:
        if self._action_names:
            operation = f"{model.service_model.service_name}:{model.name}"
        else:
            operation = operation_of(event_name)
        self.calls.setdefault(self.label, Counter())[operation] += 1
        self.log.append((self.label, operation))

    def reset(self) -> None:
        """Forget every call so far."""
        self.calls.clear()
        self.log.clear()

    def total(self) -> int:
        return sum(sum(counter.values()) for counter in self.calls.values())


@dataclass
class _Fault:
    operation: str
    call_number: int  # of that operation, counted by the injector since its creation
    kind: str  # "fail", "lose", or one of FAULT_KINDS
    code: str = ""
    status: int = 0
    attempts: int | None = None  # how many attempts it answers (None: every one)


class FaultInjector:
    """Makes one call of one operation ("service-id.Operation") fail, through botocore's own
    event system. Occurrences count that operation's calls from the moment of arming.

    - ``fail``: AWS does nothing and the call raises at once, as when botocore has given up.
    - ``lose_responses``: AWS performs the call but botocore sees an error for ``attempts``
      attempts, so botocore's retry logic runs.
    - ``arm(operation, kind)``: every attempt botocore makes fails with one of
      ``FAULT_KINDS`` until ``disarm``: ``throttling`` (Throttling, HTTP 400) and
      ``server-error`` (InternalServiceError, HTTP 500) answered before AWS acts;
      ``connection-error``: the request never reaches AWS; ``read-timeout``: AFTER AWS
      performed the call, the response is lost.

    ``before-call`` (once per API call) counts calls and picks the fault for this one; faults
    are injected on ``before-send`` (once per attempt). botocore calls every ``before-send``
    handler, moto's included, even after one returned a response: where AWS must do
    nothing, the first handler answers and switches moto's stubber off for that attempt (the
    last handler switches it back on); a read timeout is raised by the last handler, after
    moto has performed the call. ``injected``: the operation of every fault injected since
    the last ``arm``.
    """

    def __init__(self, events: BaseEventHooks) -> None:
        self.injected: list[str] = []
        self._calls: Counter[str] = Counter()
        self._faults: list[_Fault] = []
        self._this_call: _Fault | None = None
        self._moto_silenced = False
        events.register("before-call.*.*", self._before_call)
        # A handler that answers: botocore takes the first response any handler returns.
        events.register_first("before-send", cast(Any, self._before_send_first))
        events.register_last("before-send", self._before_send_last)

    @property
    def attempts(self) -> int:
        """Attempts the faults answered since the last ``arm`` (botocore's retries included)."""
        return len(self.injected)

    def fail(self, operation: str, *, code: str, status: int, occurrence: int = 1) -> None:
        """Fail the ``occurrence``-th call of ``operation`` from now."""
        self._add(operation, occurrence, "fail", code, status)

    def lose_responses(
        self, operation: str, *, code: str, status: int, attempts: int, occurrence: int = 1
    ) -> None:
        """Let the call happen but answer its first ``attempts`` attempts with an error."""
        self._add(operation, occurrence, "lose", code, status, attempts)

    def arm(self, operation: str, kind: str, occurrence: int = 1) -> None:
        """Fail every attempt of the ``occurrence``-th call of ``operation`` from now with
        ``kind`` (one of ``FAULT_KINDS``) until disarmed."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind {kind!r}: use one of {', '.join(FAULT_KINDS)}")
        code, status = {"throttling": ("Throttling", 400)}.get(kind, ("InternalServiceError", 500))
        self.injected.clear()
        self._add(operation, occurrence, kind, code, status)

    def disarm(self) -> None:
        """Forget every fault not injected yet or still injecting."""
        self._faults.clear()
        self._this_call = None

    def _add(
        self,
        operation: str,
        occurrence: int,
        kind: str,
        code: str,
        status: int,
        attempts: int | None = None,
    ) -> None:
        call_number = self._calls[operation] + occurrence
        self._faults.append(_Fault(operation, call_number, kind, code, status, attempts))

    def _before_call(self, event_name: str, model: Any, **_: Any) -> None:
        operation = operation_of(event_name)
        self._calls[operation] += 1
        self._this_call = next(
            (
                fault
                for fault in self._faults
                if fault.operation == operation and fault.call_number == self._calls[operation]
            ),
            None,
        )
        fault = self._this_call
        if fault is not None and fault.kind == "fail":
            self.injected.append(operation)
            self._faults.remove(fault)
            self._this_call = None
            answer: Any = {
                "Error": {"Code": fault.code, "Message": f"injected {fault.code}"},
                "ResponseMetadata": {"HTTPStatusCode": fault.status},
            }
            raise ClientError(answer, model.name)

    def _before_send_first(self, request: Any, **_: Any) -> AWSResponse | None:
        fault = self._this_call
        if fault is None or fault.kind == "read-timeout" or fault.attempts == 0:
            return None
        self.injected.append(fault.operation)
        if fault.attempts is not None:
            fault.attempts -= 1
        if fault.kind == "connection-error":
            raise EndpointConnectionError(endpoint_url=request.url)
        if fault.kind != "lose":
            self._moto_silenced, _MOTO_STUBBER.enabled = _MOTO_STUBBER.enabled, False
        return error_response(request, fault.code, fault.status)

    def _before_send_last(self, request: Any, **_: Any) -> None:
        if self._moto_silenced:
            _MOTO_STUBBER.enabled, self._moto_silenced = True, False
        fault = self._this_call
        if fault is not None and fault.kind == "read-timeout":
            self.injected.append(fault.operation)
            raise ReadTimeoutError(endpoint_url=request.url)


def error_response(request: Any, code: str, status: int) -> AWSResponse:
    """An AWS error response for ``request``, in its protocol (JSON, or query XML)."""
    if "json" in str(request.headers.get("Content-Type", "")):
        body = json.dumps({"__type": code, "message": f"injected {code}"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "fault"}
    else:
        body = (
            f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code>"
            f"<Message>injected {code}</Message></Error><RequestId>fault</RequestId>"
            "</ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml", "x-amzn-RequestId": "fault"}
    return AWSResponse(request.url, status, cast(Any, headers), _RawBody(body))


class _RawBody:
    """The raw stream botocore reads an error body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body
