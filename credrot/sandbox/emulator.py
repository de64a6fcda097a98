"""An embedded AWS emulator that runs the real rotation Lambda: for the drill, tests and benches.

``Emulator`` starts moto's ThreadedMotoServer on 127.0.0.1 (a free port) in this process
and patches moto where it differs from AWS in ways rotation depends on:

- Secrets Manager's RotateSecret invokes the real ``rotation_lambda`` handler for each step
  (moto cannot run a Lambda without Docker), with the function's environment variables and
  credentials of the function's role, like Lambda does. A step that raises fails the
  rotation as on AWS: the later steps do not run, AWSCURRENT stays where it was and
  AWSPENDING stays on the new version. Lambda's Invoke API runs the same handler.
- RotateSecret refuses to start while another version is AWSPENDING ("A previous rotation
  isn't complete"), as AWS does; moto would silently drop the label.
- RotateSecret with RotateImmediately=false runs Secrets Manager's configuration test as
  AWS does: a new AWSPENDING version with no value, testSecret only, then that version
  goes. moto copies the current value into it, and fails on a secret with no version yet.
- With ``reject_inactive_keys`` (default), IAM authentication rejects Inactive keys like AWS
  does; moto only rejects deleted keys.
- What the handler logs (its ``rotation_lambda`` logger), and the error of a failed
  invocation, goes to CloudWatch Logs in Lambda's default group ``/aws/lambda/<function>``,
  where ``credrot rotate`` looks for a failing rotation's cause.
- IAM authentication evaluates ``IpAddress``/``NotIpAddress`` conditions on ``aws:SourceIp``
  against the caller's address (always 127.0.0.1 here, ``CALLER_CIDR``); moto ignores them.
  A statement whose source-IP condition does not hold does not apply, as on AWS. Likewise
  for the two other keys the product's policies test, which moto ignores too:
  ``aws:SourceVpce`` is absent (nothing reaches the emulator through a VPC endpoint), and
  ``aws:TokenIssueTime`` is present only for requests signed with a session token (moto
  would otherwise apply the consumer's Deny of temporary credentials to its long-term key).

IAM authentication is off after ``start()`` so that set-up can create anything; call
``enable_iam_authentication()`` once set-up is done. The emulator's operator identity
(``emulator.operator``, an IAM user with every permission) keeps working afterwards.

moto keeps one global state per process: only one Emulator may run at a time, and
``start()``/``stop()`` reset that state. While a handler runs, os.environ and
``boto3.DEFAULT_SESSION`` are the Lambda's (as in Lambda's runtime): code running meanwhile
in other threads must use explicit clients (``emulator.client``), not ``boto3.client``.
Set-up helpers that create a consumer like the Pulumi component does live in
``credrot.sandbox.provision``.

Typical use::

    with Emulator() as emulator:
        consumer = provision_consumer(emulator, "app")
        emulator.enable_iam_authentication()
        with emulator.environ():         # AWS_ENDPOINT_URL etc. for code under test
            ...
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config

from credrot.app.secret import CURRENT, PENDING
from credrot.sandbox.aws import (
    STEPS,
    CallCounter,
    apply_aws_rotation_rule,
    new_session,
    patched_environ,
)

if TYPE_CHECKING:
    from types_boto3_logs import CloudWatchLogsClient

__all__ = [
    "ACCOUNT_ID",
    "CALLER_CIDR",
    "DEFAULT_REGION",
    "AccessKeyPair",
    "Emulator",
    "Invocation",
    "LambdaHandler",
]

ACCOUNT_ID = "123456789012"  # moto's single account
# Every request reaches the emulator from this address: aws:SourceIp conditions see it.
CALLER_CIDR = "127.0.0.1/32"
DEFAULT_REGION = "us-east-1"
OPERATOR_USER = "emulator-operator"
FUNCTION_LOGGER = "rotation_lambda"
LOG_STREAM = "emulator"

LambdaHandler = Callable[[Any, Any], Any]

_active_lock = threading.Lock()
_active: Emulator | None = None
# The address of the request being authorized, per server thread (aws:SourceIp).
_caller = threading.local()
_SOURCE_IP_OPERATORS = {"IpAddress": True, "NotIpAddress": False}

# Variables that could point botocore anywhere but the emulator.
_ENDPOINT_OVERRIDES_PREFIX = "AWS_ENDPOINT_URL_"
_CLEARED_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


@dataclass(frozen=True)
class AccessKeyPair:
    """Credentials of an emulator identity; repr shows the key id only."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def client_kwargs(self) -> dict[str, str | None]:
        """Keyword arguments for boto3.client()/Session()."""
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }


@dataclass
class Invocation:
    """One run of the Lambda handler: its event ids, duration, outcome and AWS calls."""

    function_arn: str
    step: str
    secret_id: str | None
    token: str | None
    seconds: float = 0.0
    error: str | None = None
    api_calls: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> bool:
        """True when the handler raised (or a fault was injected)."""
        return self.error is not None


class InjectedFault(RuntimeError):
    """Raised instead of running a step that a test asked to fail (``fail_step``)."""


class _LambdaContext:
    """The few attributes of Lambda's context object a handler may read."""

    def __init__(self, function_name: str, function_arn: str, request_id: str) -> None:
        self.function_name = function_name
        self.invoked_function_arn = function_arn
        self.aws_request_id = request_id
        self.memory_limit_in_mb = 128
        self._deadline = time.monotonic() + 300

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _WarmContainer:
    """A function's role credentials and boto3 session (whose calls ``calls`` counts),
    reused across invocations."""

    def __init__(self, role_arn: str, credentials: AccessKeyPair, session: boto3.Session) -> None:
        self.role_arn = role_arn
        self.credentials = credentials
        self.session = session
        self.calls = CallCounter(session.events, action_names=True)


class Emulator:
    """moto's ThreadedMotoServer in this process, wired to run the real rotation handler."""

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        handler: LambdaHandler | None = None,
        reject_inactive_keys: bool = True,
    ) -> None:
        self.region = region
        self.reject_inactive_keys = reject_inactive_keys
        self._handler = handler
        self._server: Any = None
        self._endpoint_url: str | None = None
        self._operator: AccessKeyPair | None = None
        self._patches: list[tuple[Any, str, Any]] = []
        self._saved_auth: tuple[float, int] | None = None
        self._invoke_lock = threading.RLock()
        self._invocations: list[Invocation] = []
        self._faults: list[tuple[str, Exception | None]] = []
        self._failed_tokens: set[str] = set()
        self._containers: dict[str, _WarmContainer] = {}
        self._werkzeug_level: int | None = None
        self._sessions: dict[AccessKeyPair, boto3.Session] = {}
        self._sessions_lock = threading.Lock()
        self._log_groups: set[str] = set()
        self._files: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start the server on a free port, patch moto, create the operator identity."""
        global _active
        with _active_lock:
            if _active is not None:
                raise RuntimeError(
                    "an Emulator is already running in this process (moto's state is global);"
                    " stop it first"
                )
            _active = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.server import ThreadedMotoServer

        if self._handler is None:
            self._handler = _import_rotation_handler()
        werkzeug = logging.getLogger("werkzeug")
        self._werkzeug_level = werkzeug.level
        werkzeug.setLevel(logging.WARNING)  # one INFO line per request otherwise
        self._saved_auth = (
            settings.INITIAL_NO_AUTH_ACTION_COUNT,
            ActionAuthenticatorMixin.request_count,
        )
        self.disable_iam_authentication()
        _reset_moto()
        self._install_patches()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._endpoint_url = f"http://{host}:{port}"
        self._operator = self._create_operator()

    def stop(self) -> None:
        """Stop the server, undo the patches and reset moto's state (safe to call twice)."""
        global _active
        if self._server is not None:
            self._server.stop()
            self._server = None
        for owner, name, original in reversed(self._patches):
            setattr(owner, name, original)
        self._patches.clear()
        if self._saved_auth is not None:
            from moto import settings
            from moto.core.authorization import ActionAuthenticatorMixin

            settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = (
                self._saved_auth
            )
            self._saved_auth = None
            _reset_moto()
        if self._werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
            self._werkzeug_level = None
        self._containers.clear()
        self._sessions.clear()
        self._log_groups.clear()
        if self._files is not None:
            self._files.cleanup()
            self._files = None
        with _active_lock:
            if _active is self:
                _active = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- access ---------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """http://127.0.0.1:<port>"""
        if self._endpoint_url is None:
            raise RuntimeError("the emulator is not started: call start() first")
        return self._endpoint_url

    @property
    def operator(self) -> AccessKeyPair:
        """An IAM user allowed everything (exists only in the emulator)."""
        if self._operator is None:
            raise RuntimeError("the emulator is not started: call start() first")
        return self._operator

    def client(self, service: str, credentials: AccessKeyPair | None = None) -> Any:
        """A new boto3 client for the emulator, signed with ``credentials`` (default:
        operator). Safe to call from any thread. Typed by the caller's annotation
        (``iam: IAMClient = emulator.client("iam")``)."""
        creds = credentials or self.operator
        with self._sessions_lock:
            # One cached session per identity: creating clients reuses its loaded models.
            cached = self._sessions.get(creds)
            if cached is None:
                cached = self._sessions[creds] = self.session(creds)
            # Any service: the caller knows which client it asked for.
            return cached.client(
                cast(Any, service),
                endpoint_url=self.endpoint_url,
                config=Config(retries={"mode": "standard", "max_attempts": 2}),
            )

    def session(self, credentials: AccessKeyPair | None = None) -> boto3.Session:
        """A boto3 Session with ``credentials`` (default: operator) in the emulator's region.

        Its clients reach the emulator only when given ``endpoint_url`` or inside
        ``environ()``; prefer ``client()``.
        """
        creds = credentials or self.operator
        return new_session(self.region, **creds.client_kwargs())

    def env(self, credentials: AccessKeyPair | None = None) -> dict[str, str]:
        """Variables that point boto3 (and the credrot CLI) at the emulator."""
        creds = credentials or self.operator
        variables = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": creds.access_key_id,
            "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
            # Not ~/.aws: a profile must not redirect anything to real AWS. Empty files of
            # the emulator's own, never /dev/null: `credrot export` run in this environment
            # writes a profile into AWS_CONFIG_FILE.
            "AWS_CONFIG_FILE": str(self._aws_files() / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self._aws_files() / "credentials"),
        }
        if creds.session_token:
            variables["AWS_SESSION_TOKEN"] = creds.session_token
        return variables

    def _aws_files(self) -> Path:
        """A private directory holding the environment's (initially empty) AWS files."""
        if self._files is None:
            self._files = tempfile.TemporaryDirectory(prefix="credrot-emulator-")
            for name in ("config", "credentials"):
                (Path(self._files.name) / name).touch(mode=0o600)
        return Path(self._files.name)

    @contextmanager
    def environ(self, credentials: AccessKeyPair | None = None) -> Iterator[dict[str, str]]:
        """Apply ``env()`` to os.environ (clearing profile and per-service endpoint
        variables) for the duration of the block, then restore it."""
        variables = self.env(credentials)
        cleared = [
            name
            for name in os.environ
            if name.startswith(_ENDPOINT_OVERRIDES_PREFIX) or name in _CLEARED_VARIABLES
        ]
        with patched_environ(variables, cleared):
            yield variables

    # -- IAM authentication ---------------------------------------------------------------

    def enable_iam_authentication(self) -> None:
        """From now on every request must be signed by a live key (and Active, see
        ``reject_inactive_keys``) whose policies allow the action."""
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        ActionAuthenticatorMixin.request_count = 0

    def disable_iam_authentication(self) -> None:
        """Accept any credentials again (moto's default)."""
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
        ActionAuthenticatorMixin.request_count = 0

    # -- the rotation Lambda --------------------------------------------------------------

    @property
    def invocations(self) -> list[Invocation]:
        """Every handler invocation so far (a copy), oldest first."""
        with self._invoke_lock:
            return list(self._invocations)

    @property
    def handler_failures(self) -> int:
        """How many invocations failed (the handler raised or a fault was injected)."""
        return sum(1 for invocation in self.invocations if invocation.failed)

    def fail_step(self, step: str, times: int = 1, error: Exception | None = None) -> None:
        """Make the next ``times`` invocations of ``step`` (a rotation step, or an Action such
        as "RetirePreviousKey") fail without running the handler, like a crashed or timed-out
        Lambda. The rotation then stays pending, as on AWS."""
        with self._invoke_lock:
            self._faults.extend([(step, error)] * times)

    def enable_rotation(self, secret_id: str, function_arn: str, days: int) -> None:
        """Enable rotation with ``function_arn`` every ``days`` days WITHOUT rotating now, as
        the component's SecretRotation does: RotateSecret with RotateImmediately=false, whose
        configuration test (testSecret) runs the real handler. Raises RuntimeError naming the
        handler's error if that test fails."""
        token = self.client("secretsmanager").rotate_secret(
            SecretId=secret_id,
            RotationLambdaARN=function_arn,
            RotationRules={"AutomaticallyAfterDays": days},
            RotateImmediately=False,
        )["VersionId"]
        failed = [
            invocation.error
            for invocation in self.invocations
            if invocation.token == token and invocation.failed
        ]
        if failed:
            raise RuntimeError(
                f"the configuration test of {secret_id}'s rotation failed: {failed[-1]}"
            )

    @contextmanager
    def function_environment(self, function_name: str, **overrides: str) -> Iterator[None]:
        """Override some of a function's environment variables for the block.

        Done on moto's record directly: moto's Lambda GET/PUT configuration APIs fail
        signature checks under IAM authentication (Invoke works).
        """
        from moto.awslambda.models import lambda_backends

        function = lambda_backends[ACCOUNT_ID][self.region].get_function(function_name)
        saved = dict(function.environment_vars or {})
        function.environment_vars = {**saved, **overrides}
        try:
            yield
        finally:
            function.environment_vars = saved

    def _invoke(
        self,
        function_name: str,
        qualifier: str | None,
        body: Any,
        response_headers: dict[str, Any],
        get_function: Callable[[str, str | None], Any],
    ) -> bytes:
        function = get_function(function_name, qualifier)
        event = json.loads(body) if isinstance(body, str | bytes) and body else (body or {})
        invocation = Invocation(
            function_arn=function.function_arn,
            step=str(event.get("Step") or event.get("Action") or "unknown"),
            secret_id=event.get("SecretId"),
            token=event.get("ClientRequestToken"),
        )
        if invocation.token in self._failed_tokens and invocation.step in STEPS:
            # AWS stops a rotation at its first failed step: the later ones never run.
            return _error_payload(
                response_headers, "Skipped", f"an earlier step of {invocation.token} failed"
            )
        started = time.perf_counter()
        result: Any = None
        with self._invoke_lock:
            captured = _LogCapture()
            function_logger = logging.getLogger(FUNCTION_LOGGER)
            function_logger.addHandler(captured)
            try:
                self._take_fault(invocation)
                with self._lambda_environment(function) as calls:
                    invocation.api_calls = calls
                    assert self._handler is not None
                    context = _LambdaContext(
                        function.function_name,
                        function.function_arn,
                        f"emulator-{len(self._invocations) + 1}",
                    )
                    result = self._handler(event, context)
            except Exception as error:  # noqa: BLE001 - a failed Lambda, reported to the caller
                invocation.error = f"{type(error).__name__}: {error}"
                if invocation.token and invocation.step in STEPS:
                    self._failed_tokens.add(invocation.token)
                captured.lines.append((int(time.time() * 1000), f"[ERROR] {invocation.error}"))
            finally:
                function_logger.removeHandler(captured)
            invocation.seconds = time.perf_counter() - started
            self._invocations.append(invocation)
            self._write_function_logs(function.function_name, captured.lines)
        if invocation.error is not None:
            error_type, _, message = invocation.error.partition(": ")
            return _error_payload(response_headers, error_type, message)
        encoded = json.dumps(result, default=str).encode("utf-8")
        response_headers["Content-Length"] = str(len(encoded))
        return encoded

    def _write_function_logs(self, function_name: str, lines: list[tuple[int, str]]) -> None:
        """Append ``lines`` to the function's log group, as Lambda's runtime would."""
        if not lines:
            return
        group = f"/aws/lambda/{function_name}"
        logs: CloudWatchLogsClient = self.client("logs")
        if group not in self._log_groups:
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName=LOG_STREAM)
            self._log_groups.add(group)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=LOG_STREAM,
            logEvents=[{"timestamp": moment, "message": text} for moment, text in lines],
        )

    def _take_fault(self, invocation: Invocation) -> None:
        for index, (step, error) in enumerate(self._faults):
            if step == invocation.step:
                del self._faults[index]
                raise error or InjectedFault(f"injected failure of {step}")

    @contextmanager
    def _lambda_environment(self, function: Any) -> Iterator[Counter[str]]:
        """Lambda's runtime for one invocation: the function's variables, its role's
        credentials in the environment and in boto3's default session (whose calls are
        counted), all restored afterwards."""
        container = self._container(function)
        creds = container.credentials
        variables = {
            **{str(k): str(v) for k, v in (function.environment_vars or {}).items()},
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_ACCESS_KEY_ID": creds.access_key_id,
            "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
        }
        if creds.session_token:
            variables["AWS_SESSION_TOKEN"] = creds.session_token
        saved_default = boto3.DEFAULT_SESSION
        container.calls.reset()
        try:
            with patched_environ(variables, ["AWS_PROFILE"]):
                boto3.DEFAULT_SESSION = container.session
                yield container.calls.calls.setdefault("", Counter())
        finally:
            boto3.DEFAULT_SESSION = saved_default

    def _container(self, function: Any) -> _WarmContainer:
        container = self._containers.get(function.function_arn)
        if container is not None and container.role_arn == function.role:
            return container
        from moto.sts.models import sts_backends

        sts: Any = sts_backends[ACCOUNT_ID]["aws"]
        assumed = sts.assume_role(
            region_name=self.region,
            role_session_name=function.function_name[:64],
            role_arn=function.role,
            policy=None,
            duration=43200,
            external_id=None,
        )
        credentials = AccessKeyPair(
            assumed.access_key_id, assumed.secret_access_key, assumed.session_token
        )
        session = new_session(self.region, **credentials.client_kwargs())
        container = _WarmContainer(function.role, credentials, session)
        self._containers[function.function_arn] = container
        return container

    # -- moto patches ---------------------------------------------------------------------

    def _install_patches(self) -> None:
        from moto.awslambda.models import LambdaBackend
        from moto.secretsmanager.models import SecretsManagerBackend

        emulator = self

        def invoke(
            backend: Any,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            return emulator._invoke(
                function_name, qualifier, body, response_headers, backend.get_function
            )

        original_rotate = SecretsManagerBackend.rotate_secret

        def rotate_secret(backend: Any, secret_id: str, **kwargs: Any) -> str:
            secret = backend.secrets[secret_id] if backend._is_valid_identifier(secret_id) else None
            if secret is not None and not kwargs.get("rotate_immediately", True):
                return emulator._configuration_test(backend, secret, **kwargs)
            default_before = None
            if secret is not None:
                token = kwargs.get("client_request_token")
                apply_aws_rotation_rule(secret, token)
                default_before = secret.default_version_id
                with emulator._invoke_lock:
                    emulator._failed_tokens.discard(token)
            result: str = original_rotate(backend, secret_id, **kwargs)
            with emulator._invoke_lock:
                failed = json.loads(result).get("VersionId") in emulator._failed_tokens
            if secret is not None and failed:
                # moto makes the new version the default even when a step failed.
                secret.set_default_version_id(default_before)
            return result

        original_update_stage = SecretsManagerBackend.update_secret_version_stage

        def update_secret_version_stage(
            backend: Any,
            secret_id: str,
            version_stage: str,
            remove_from_version_id: Any = None,
            move_to_version_id: Any = None,
        ) -> Any:
            result = original_update_stage(
                backend, secret_id, version_stage, remove_from_version_id, move_to_version_id
            )
            moved_to = move_to_version_id
            if version_stage == CURRENT and moved_to:
                # AWS answers GetSecretValue without a stage from AWSCURRENT; moto keeps its
                # old default version after a label move (FIELD-NOTES).
                backend.secrets[secret_id].set_default_version_id(moved_to)
            return result

        self._patch(LambdaBackend, "invoke", invoke)
        self._patch(SecretsManagerBackend, "rotate_secret", rotate_secret)
        self._patch(
            SecretsManagerBackend, "update_secret_version_stage", update_secret_version_stage
        )
        self._patch_source_ip_conditions()
        if self.reject_inactive_keys:
            self._patch_inactive_key_rejection()

    def _configuration_test(
        self,
        backend: Any,
        secret: Any,
        client_request_token: str | None = None,
        rotation_lambda_arn: str | None = None,
        rotation_rules: dict[str, Any] | None = None,
        **_: Any,
    ) -> str:
        """RotateSecret with RotateImmediately=false as AWS does it (FIELD-NOTES): rotation
        is configured, a new AWSPENDING version WITHOUT a value is staged, only testSecret
        runs, and the version is removed afterwards. moto copies the current value into that
        version (so testSecret would test a key that is not pending) and fails outright on a
        secret with no version yet, which is how the component leaves a new secret."""
        from moto.awslambda.utils import get_backend

        token = client_request_token or str(uuid.uuid4())
        apply_aws_rotation_rule(secret, token)
        if rotation_lambda_arn:
            secret.rotation_lambda_arn = rotation_lambda_arn
        days = (rotation_rules or {}).get("AutomaticallyAfterDays")
        if days:
            secret.auto_rotate_after_days = int(days)
            secret.next_rotation_date = int(time.time()) + int(days) * 86400
        secret.rotation_requested = True
        secret.rotation_enabled = secret.auto_rotate_after_days > 0
        secret.versions[token] = {
            "createdate": int(time.time()),
            "version_id": token,
            "version_stages": [PENDING],
        }
        try:
            get_backend(backend.account_id, backend.region_name).invoke(
                secret.rotation_lambda_arn,
                qualifier=None,
                body=json.dumps(
                    {"Step": "testSecret", "SecretId": secret.name, "ClientRequestToken": token}
                ),
                headers={},
                response_headers={},
            )
        finally:
            secret.versions.pop(token, None)
        return json.dumps({"ARN": secret.arn, "Name": secret.name, "VersionId": token})

    def _patch_source_ip_conditions(self) -> None:
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.iam.access_control import IAMPolicyStatement, PermissionResult

        original_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action
        original_permitted = IAMPolicyStatement.is_action_permitted

        def authorize(response: Any, iam_request_cls: type, resource: str = "*") -> None:
            request = getattr(response, "normalized_request", None)
            _caller.source_ip = getattr(request, "remote_addr", None)
            _caller.temporary = "X-Amz-Security-Token" in response.headers
            try:
                original_authorize(response, iam_request_cls, resource)
            finally:
                _caller.source_ip = None
                _caller.temporary = False

        def is_action_permitted(statement: Any, *args: Any, **kwargs: Any) -> Any:
            source_ip = getattr(_caller, "source_ip", None)
            condition = statement._statement.get("Condition")
            if source_ip and not source_ip_condition_holds(condition, source_ip):
                return PermissionResult.NEUTRAL
            if not absent_keys_condition_holds(condition, getattr(_caller, "temporary", False)):
                return PermissionResult.NEUTRAL
            return original_permitted(statement, *args, **kwargs)

        self._patch(ActionAuthenticatorMixin, "_authenticate_and_authorize_action", authorize)
        self._patch(IAMPolicyStatement, "is_action_permitted", is_action_permitted)

    def _patch_inactive_key_rejection(self) -> None:
        from moto.iam import access_control

        original_init = access_control.IAMUserAccessKey.__init__

        def init(
            key: Any, account_id: str, partition: str, access_key_id: str, headers: Any
        ) -> None:
            original_init(key, account_id, partition, access_key_id, headers)
            user = key.backend.get_user(key._owner_user_name)
            for access_key in user.access_keys:
                if access_key.access_key_id == access_key_id and access_key.status != "Active":
                    raise access_control.CreateAccessKeyFailure(reason="InvalidId")

        self._patch(access_control.IAMUserAccessKey, "__init__", init)

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        self._patches.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def _create_operator(self) -> AccessKeyPair:
        iam = boto3.client(
            "iam",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="emulator-setup",
            aws_secret_access_key="emulator-setup",  # noqa: S106 - IAM auth is off here
        )
        iam.create_user(UserName=OPERATOR_USER)
        iam.put_user_policy(
            UserName=OPERATOR_USER,
            PolicyName="EmulatorOperatorAdmin",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName=OPERATOR_USER)["AccessKey"]
        return AccessKeyPair(key["AccessKeyId"], key["SecretAccessKey"])


def source_ip_condition_holds(condition: Any, source_ip: str) -> bool:
    """Whether the ``aws:SourceIp`` parts of a statement's Condition hold for ``source_ip``
    (True when there are none). Values are CIDRs or addresses, one or a list."""
    if not isinstance(condition, dict):
        return True
    address = ipaddress.ip_address(source_ip)
    for operator, inside in _SOURCE_IP_OPERATORS.items():
        values = condition.get(operator, {}).get("aws:SourceIp")
        if values is None:
            continue
        networks = [values] if isinstance(values, str) else list(values)
        matched = any(
            address in ipaddress.ip_network(network, strict=False) for network in networks
        )
        if matched != inside:
            return False
    return True


def absent_keys_condition_holds(condition: Any, temporary: bool) -> bool:
    """Whether the ``aws:SourceVpce`` and ``aws:TokenIssueTime`` parts of a statement's
    Condition hold (True when there are none), as AWS evaluates them for a request to the
    emulator: ``aws:SourceVpce`` is never present, ``aws:TokenIssueTime`` only when the
    request is signed with ``temporary`` credentials. A missing key satisfies only ``Null``
    "true", the negated string operators and the ``...IfExists`` forms."""
    if not isinstance(condition, dict):
        return True
    for operator, values in condition.items():
        if not isinstance(values, dict):
            continue
        for key, expected in values.items():
            present = {"aws:sourcevpce": False, "aws:tokenissuetime": temporary}.get(key.lower())
            if present is None:
                continue
            if operator == "Null":
                if str(expected).lower() == "true" and present:
                    return False
                if str(expected).lower() == "false" and not present:
                    return False
            elif not present and not (
                operator.startswith("StringNot") or operator.endswith("IfExists")
            ):
                return False
    return True


class _LogCapture(logging.Handler):
    """The function's log records during one invocation, as (epoch ms, text) lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(
            (int(record.created * 1000), f"[{record.levelname}] {record.getMessage()}")
        )


def _import_rotation_handler() -> LambdaHandler:
    # rotation_lambda/ is packaged as the Lambda's code: importing it must not leave a
    # __pycache__ there, even when PYTHONDONTWRITEBYTECODE is unset (credrot drill).
    previous = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        from rotation_lambda.handler import lambda_handler
    finally:
        sys.dont_write_bytecode = previous
    return lambda_handler


def _error_payload(response_headers: dict[str, Any], error_type: str, message: str) -> bytes:
    response_headers["x-amz-function-error"] = "Unhandled"
    encoded = json.dumps({"errorType": error_type, "errorMessage": message}).encode("utf-8")
    response_headers["Content-Length"] = str(len(encoded))
    return encoded


def _reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
