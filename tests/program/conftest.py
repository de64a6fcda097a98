"""Pulumi's official mock engine, recording what the program asks the engine to create.

``MockResourceArgs`` (what ``Mocks.new_resource`` sees) carries a resource's type, name,
inputs, provider and custom flag, but not its parent, its dependencies or its
``ignore_changes``. Those travel in the engine's RegisterResource request, so a
``MockMonitor`` subclass (handed to ``set_mocks(monitor=...)``) records them from the request
itself: the test sees exactly what the real engine would receive. The two records are joined
by (type, name), which the component keeps unique.

``set_mocks`` runs at import, before any test module imports the components, and again
before every test so each test sees only its own resources.
"""

from __future__ import annotations

import gc
import json
import runpy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc

PROJECT = "ai-credential-rotation"
STACK = "test"
ACCOUNT = "123456789012"
REGION = "us-east-1"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAIN = PROJECT_ROOT / "__main__.py"
COMPONENT_TYPE = "ai-credential-rotation:index:RotatedAccessKey"
EXPORTS = (
    "secret_arns",
    "reader_policy_arns",
    "user_names",
    "self_read_access",
    "rotation_function_names",
)

# Every consumer user's policy ends with this: temporary credentials derived from the key
# (sts:GetSessionToken) outlive its deactivation, so they are denied outright.
DENY_TEMPORARY_CREDENTIALS = {
    "Sid": "DenyTemporaryCredentials",
    "Effect": "Deny",
    "Action": "*",
    "Resource": "*",
    "Condition": {"Null": {"aws:TokenIssueTime": "false"}},
}


def consumer(name: str, **settings: Any) -> dict[str, Any]:
    """One consumer's config entry, with one read path (``settings`` added as given)."""
    return {"name": name, "readPaths": [f"s3://acme-{name}/input/"], **settings}


# Plausible ARNs for the types that have one; {name} is the physical name.
_ARNS = {
    "aws:iam/user:User": "arn:aws:iam::{account}:user{path}{name}",
    "aws:iam/role:Role": "arn:aws:iam::{account}:role{path}{name}",
    "aws:iam/policy:Policy": "arn:aws:iam::{account}:policy{path}{name}",
    "aws:secretsmanager/secret:Secret": (
        "arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf"
    ),
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
    "aws:lambda/function:Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "aws:cloudwatch/eventRule:EventRule": "arn:aws:events:{region}:{account}:rule/{name}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
    "aws:sns/topic:Topic": "arn:aws:sns:{region}:{account}:{name}",
}


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every MockResourceArgs and answers with plausible names, ids and ARNs."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []
        # What the program's reference to its own stack reads: the previous update's exports.
        self.previous_outputs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            return args.name, {"name": args.name, "outputs": self.previous_outputs}
        with self._lock:
            self.resources.append(args)
        # The provider would auto-name; under mocks the logical name stands in for it.
        name = args.inputs.get("name", args.name)
        outputs = {**args.inputs, "name": name}
        template = _ARNS.get(args.typ)
        if template is not None:
            outputs["arn"] = template.format(
                account=ACCOUNT, region=REGION, name=name, path=args.inputs.get("path", "/")
            )
        return f"{name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        with self._lock:
            self.calls.append(args)
        return {}, None


@dataclass(frozen=True)
class EngineRequest:
    """What MockResourceArgs lacks, read from the RegisterResource request itself."""

    urn: str
    type: str
    name: str
    parent: str
    dependencies: frozenset[str]
    property_dependencies: dict[str, frozenset[str]]
    ignore_changes: tuple[str, ...]
    # The registration's source position and stack trace, serialized as sent.
    source_position: bytes
    stack_trace: bytes


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor, also recording each registration's parent, deps and options."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.requests: list[EngineRequest] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        record = EngineRequest(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            dependencies=frozenset(request.dependencies),
            property_dependencies={
                key: frozenset(value.urns) for key, value in request.propertyDependencies.items()
            },
            ignore_changes=tuple(request.ignoreChanges),
            source_position=request.sourcePosition.SerializeToString(deterministic=True),
            stack_trace=request.stackTrace.SerializeToString(deterministic=True),
        )
        with self._lock:
            self.requests.append(record)
        return response


@dataclass(frozen=True)
class Registered:
    """One resource as registered: the mock's args joined with the engine request."""

    type: str
    name: str
    inputs: dict[str, Any]
    urn: str
    parent: str
    dependencies: frozenset[str]
    property_dependencies: dict[str, frozenset[str]]
    ignore_changes: tuple[str, ...]

    def policy(self, key: str = "policy") -> dict[str, Any]:
        """A policy document input, parsed from its JSON."""
        document: dict[str, Any] = json.loads(self.inputs[key])
        return document

    def secret(self, key: str) -> tuple[bool, Any]:
        """(was the input marked secret, its plain value), as the mock engine delivers it."""
        value = self.inputs[key]
        if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return True, value["value"]
        return False, value

    @property
    def explicit_dependencies(self) -> frozenset[str]:
        """depends_on: dependencies that no input property accounts for."""
        implicit: set[str] = set()
        for urns in self.property_dependencies.values():
            implicit |= urns
        return self.dependencies - implicit


@dataclass
class Engine:
    """A fresh mock engine for one test."""

    mocks: RecordingMocks
    monitor: RecordingMonitor
    _results: dict[str, Any] = field(default_factory=dict)

    def run(self, program: Callable[[], Any]) -> Any:
        """Run ``program`` under ``@pulumi.runtime.test`` and return what its Output resolves to.

        The decorator also waits for every outstanding registration, so the records are
        complete when this returns (or raises the program's exception).
        """

        @pulumi.runtime.test
        def deployment() -> pulumi.Output[Any]:
            return pulumi.Output.from_input(program()).apply(self._keep)

        self._results.clear()
        deployment()
        return self._results.get("value")

    def _keep(self, value: Any) -> Any:
        self._results["value"] = value
        return value

    def run_program(self, config: dict[str, Any]) -> dict[str, Any]:
        """Run __main__.py with ``config`` (un-namespaced keys); return its resolved exports."""
        pulumi.runtime.set_all_config(
            {
                f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value)
                for key, value in config.items()
            }
        )

        def program() -> pulumi.Output[dict[str, Any]]:
            runpy.run_path(str(MAIN))
            root = pulumi.runtime.get_root_resource()
            assert isinstance(root, pulumi.runtime.stack.Stack)
            return pulumi.Output.from_input({name: root.outputs[name] for name in EXPORTS})

        result: dict[str, Any] = self.run(program)
        return result

    @staticmethod
    def component_urn(name: str) -> str:
        """The URN of the RotatedAccessKey named ``name`` (a child of the root stack)."""
        return f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack${COMPONENT_TYPE}::{name}"

    def registered(self) -> list[Registered]:
        """Every resource registered so far (the root stack excluded)."""
        requests: dict[tuple[str, str], EngineRequest] = {}
        for request in self.monitor.requests:
            key = (request.type, request.name)
            assert key not in requests, f"two resources share type and name {key}"
            requests[key] = request
        joined = []
        for args in self.mocks.resources:
            request = requests[(args.typ, args.name)]
            joined.append(
                Registered(
                    type=args.typ,
                    name=args.name,
                    inputs=args.inputs,
                    urn=request.urn,
                    parent=request.parent,
                    dependencies=request.dependencies,
                    property_dependencies=request.property_dependencies,
                    ignore_changes=request.ignore_changes,
                )
            )
        return joined

    def of_type(self, resource_type: str) -> list[Registered]:
        """Registered resources of one type, in registration-independent (name) order."""
        return sorted(
            (r for r in self.registered() if r.type == resource_type), key=lambda r: r.name
        )

    def one(self, resource_type: str, name: str) -> Registered:
        """The resource of this type and logical name."""
        matches = [r for r in self.registered() if r.type == resource_type and r.name == name]
        assert len(matches) == 1, f"expected one {resource_type} named {name}, got {matches}"
        return matches[0]

    def rotation(self) -> Registered:
        """The support-bot consumer's SecretRotation, the resource most tests look at."""
        return self.one(
            "aws:secretsmanager/secretRotation:SecretRotation", "credrot-support-bot-rotation"
        )

    def role_policy(self, name: str) -> dict[str, Any]:
        """The document of the inline role policy ``name``."""
        return self.one("aws:iam/rolePolicy:RolePolicy", name).policy()


@pytest.fixture(autouse=True)
def _restore_runtime_tuning() -> Iterator[None]:
    """__main__.py tunes the whole process (components/runtime_tuning.py): a test that runs it
    must not leave this pytest process without garbage collection or with the SDK replaced."""
    gc_was_enabled = gc.isenabled()
    sdk_stack_trace = sdk_resource._get_stack_trace
    yield
    sdk_resource._get_stack_trace = sdk_stack_trace
    if gc_was_enabled:
        gc.enable()


def fresh_engine() -> Engine:
    """A fresh mock engine and empty config; the root stack's exports are cleared."""
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config({})
    # The root stack survives set_mocks: without this, one test's exports leak into the next.
    root = pulumi.runtime.get_root_resource()
    if isinstance(root, pulumi.runtime.stack.Stack):
        root.outputs.clear()
    return Engine(mocks, monitor)


@pytest.fixture
def engine() -> Engine:
    """A fresh mock engine for the test (``fresh_engine``)."""
    return fresh_engine()


# Before any test module imports the components (they must not see a real engine).
pulumi.runtime.set_mocks(RecordingMocks(), project=PROJECT, stack=STACK, preview=False)

from components.rotated_access_key import RotatedAccessKey, RotatedAccessKeyArgs  # noqa: E402
from components.shared_rotator import SharedRotator, SharedRotatorArgs  # noqa: E402

CONSUMER = "support-bot"
OUTPUTS = (
    "secret_arn",
    "user_name",
    "user_arn",
    "reader_policy_arn",
    "rotation_function_name",
    "alarm_topic_arn",
    "self_read_access",
)
READ_PATH = "s3://acme-knowledge-base/support/"
WRITE_PATH = "s3://acme-transcripts/support-bot/"


@pytest.fixture
def deploy(engine: Engine) -> Callable[..., dict[str, Any]]:
    """Deploy one RotatedAccessKey (args overridable) and return its resolved outputs."""

    def deploy_one(
        name: str = CONSUMER, rotator: dict[str, Any] | None = None, **overrides: Any
    ) -> dict[str, Any]:
        """One consumer and the stack's SharedRotator (``rotator``: its args' overrides)."""
        args = RotatedAccessKeyArgs(
            **{"read_paths": (READ_PATH,), "write_paths": (WRITE_PATH,), **overrides}
        )
        rotator_args = SharedRotatorArgs(
            **{
                "rotator_id": f"{PROJECT}/{STACK}",
                "isolated_consumers": (name,) if args.isolated_rotator else (),
                **(rotator or {}),
            }
        )

        def program() -> dict[str, Any]:
            shared = SharedRotator("shared-rotator", rotator_args)
            key = RotatedAccessKey(name, args, shared)
            return {output: getattr(key, output) for output in OUTPUTS}

        outputs: dict[str, Any] = engine.run(program)
        return outputs

    return deploy_one
