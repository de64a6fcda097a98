"""Fixtures of the delivery tests: the program's resources, as the policy engine sees them.

``program_stacks`` runs the real ``__main__.py`` under Pulumi's mock engine (in a child
process, see record_program.py) for a minimal configuration, a full one (every optional
resource) and each ``Pulumi.<stack>.yaml`` of the repository. ``harness`` turns
those registrations into pulumi_policy's own ``ResourceValidationArgs``/``StackValidationArgs``
exactly the way its analyzer does (wire properties, deserialised, behind the proxy that
raises on unknown values), runs a validation and collects what it reports.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

ROOT = Path(__file__).resolve().parents[2]
# The config namespace and URN project: the name Pulumi.yaml gives the project.
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
UNKNOWN = UNKNOWN_STRING_VALUE  # what the engine sends for a value not known in preview

# Hand-written configurations: the smallest one, and one with every optional resource.
MINIMAL_CONFIG: dict[str, Any] = {
    f"{PROJECT}:consumers": [
        {"name": "support-bot", "readPaths": ["s3://ai-data-example/support/"]},
    ],
}
FULL_CONFIG: dict[str, Any] = {
    f"{PROJECT}:consumers": [
        {
            "name": "support-bot",
            "readPaths": ["s3://ai-data-example/support/"],
            "writePaths": ["s3://ai-data-example/support-out/"],
            "rotationDays": 90,
        },
        {
            "name": "batch-scorer",
            "readPaths": ["s3://ai-data-example/scoring/"],
            "rotationSchedule": "cron(0 4 ? * MON *)",
            "extraPolicyArns": ["arn:aws:iam::123456789012:policy/team/scorer-extra"],
            "selfRead": {
                "sourceCidrs": ["192.0.32.0/20"],
                "sourceVpces": ["vpce-0a1b2c3d4e5f67890"],
                "restrictDataAccess": True,
            },
        },
    ],
    f"{PROJECT}:alarmEmail": "oncall@example.com",
    f"{PROJECT}:kmsKeyArn": (
        "arn:aws:kms:eu-west-1:123456789012:key/0b3a1f0e-1111-2222-3333-444455556666"
    ),
    f"{PROJECT}:permissionsBoundaryArn": "arn:aws:iam::123456789012:policy/boundaries/ai-apps",
}


# What an operator writes over Pulumi.prod.yaml's placeholders (components.config refuses
# the file while one is left); bucket placeholders take the organisation's prefix.
PROD_PLACEHOLDER_VALUES = {
    "REPLACE_ME (on-call e-mail address)": "ai-platform-oncall@acme-ai.dev",
    "REPLACE_ME (arn:aws:iam::<account>:policy/<path>/<name>)": (
        "arn:aws:iam::123456789012:policy/boundaries/ai-credential-rotation"
    ),
    "REPLACE_ME (public egress CIDR)": "52.94.76.10/32",
}


def fill_placeholders(value: Any) -> Any:
    """A stack file's config with every REPLACE_ME placeholder filled in."""
    if isinstance(value, dict):
        return {key: fill_placeholders(item) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_placeholders(item) for item in value]
    if isinstance(value, str) and "REPLACE_ME" in value:
        return PROD_PLACEHOLDER_VALUES.get(value, value.replace("REPLACE_ME", "acme-ai-prod"))
    return value


def stack_file_config(path: Path) -> dict[str, Any]:
    """The config section of a stack file, as written."""
    return dict((yaml.safe_load(path.read_text()) or {}).get("config", {}))


def _stack_file_configs() -> dict[str, tuple[str, dict[str, Any]]]:
    """The configuration of every stack file in the repository (Pulumi.<stack>.yaml), filled."""
    configs = {}
    for path in sorted(ROOT.glob("Pulumi.*.yaml")):
        stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        configs[path.name] = (stack, fill_placeholders(stack_file_config(path)))
    return configs


PROGRAM_CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "minimal": ("dev", MINIMAL_CONFIG),
    "full": ("prod", FULL_CONFIG),
    **_stack_file_configs(),
}


@dataclass(frozen=True)
class Registered:
    """One resource registration, as the engine hands it to a policy pack."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    parent: str = ""
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    def with_props(self, **changes: Any) -> Registered:
        """A copy with some properties replaced (None removes the property)."""
        props = copy.deepcopy(self.props)
        for key, value in changes.items():
            if value is None:
                props.pop(key, None)
            else:
                props[key] = value
        return replace(self, props=props)


def _options(parent: str) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=parent or None,
    )


def _engine_props(props: dict[str, Any]) -> Any:
    return unknown_checking_proxy(deserialize_properties(copy.deepcopy(props)))


Violations = list[tuple[str, str | None]]


class PolicyHarness:
    """Builds registrations and calls validation functions the way pulumi_policy's analyzer does."""

    unknown = UNKNOWN

    @staticmethod
    def registered(
        type_: str, name: str, props: dict[str, Any], **deps: list[Registered]
    ) -> Registered:
        """A hand-built registration; ``deps`` maps a property to the resources it depends on."""
        return Registered(
            type=type_,
            name=name,
            urn=f"urn:pulumi:dev::{PROJECT}::{type_}::{name}",
            props=props,
            property_dependencies={key: [dep.urn for dep in found] for key, found in deps.items()},
        )

    @staticmethod
    def resource_args(resource: Registered) -> ResourceValidationArgs:
        """The ResourceValidationArgs the analyzer builds for one resource."""
        return ResourceValidationArgs(
            resource.type,
            _engine_props(resource.props),
            resource.urn,
            resource.name,
            _options(resource.parent),
            None,
        )

    @staticmethod
    def stack_args(resources: Iterable[Registered]) -> StackValidationArgs:
        """The StackValidationArgs the analyzer builds, parents and dependencies linked."""
        resources = list(resources)
        policy_resources = {
            r.urn: PolicyResource(
                r.type,
                _engine_props(r.props),
                r.urn,
                r.name,
                _options(r.parent),
                None,
                None,
                [],
                {},
            )
            for r in resources
        }
        for r in resources:
            linked = policy_resources[r.urn]
            linked.parent = policy_resources.get(r.parent)
            for key, urns in r.property_dependencies.items():
                linked.property_dependencies[key] = [
                    policy_resources[urn] for urn in urns if urn in policy_resources
                ]
        return StackValidationArgs(list(policy_resources.values()))

    def resource_violations(
        self, validate: Callable[..., None], resources: Iterable[Registered]
    ) -> Violations:
        """What a resource validation reports, over each resource in turn."""
        found: Violations = []
        for resource in resources:
            validate(
                self.resource_args(resource),
                lambda message, _urn, urn=resource.urn: found.append((message, urn)),
            )
        return found

    def stack_violations(
        self, validate: Callable[..., None], resources: Iterable[Registered]
    ) -> Violations:
        """What a stack validation reports over the given resources."""
        found: Violations = []
        validate(self.stack_args(resources), lambda message, urn: found.append((message, urn)))
        return found


@pytest.fixture(scope="session")
def harness() -> PolicyHarness:
    """Runs validation functions as pulumi_policy's analyzer would."""
    return PolicyHarness()


def _record(stack: str, config: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 (our own script, fixed arguments)
        [
            sys.executable,
            str(Path(__file__).with_name("record_program.py")),
            stack,
            json.dumps(config),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _registrations(label: str, process: subprocess.Popen[str]) -> list[Registered]:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, f"the program failed under mocks ({label}):\n{stderr}"
    return [
        Registered(
            type=record["type"],
            name=record["name"],
            urn=record["urn"],
            props=record["props"],
            parent=record["parent"],
            property_dependencies=record["propertyDependencies"],
        )
        for record in json.loads(stdout)
        if record["custom"]
    ]


def _require_program() -> None:
    if not (ROOT / "__main__.py").exists():
        pytest.skip("__main__.py does not exist yet: the program-based cases cannot run")


@pytest.fixture(scope="session")
def program_stacks() -> dict[str, list[Registered]]:
    """The real program's resources for each of PROGRAM_CONFIGS, recorded in parallel."""
    _require_program()
    runs = {label: _record(stack, config) for label, (stack, config) in PROGRAM_CONFIGS.items()}
    return {label: _registrations(label, process) for label, process in runs.items()}


@pytest.fixture(scope="session")
def record_program() -> Callable[[dict[str, Any]], list[Registered]]:
    """Records the real program's resources for a configuration of the dev stack."""
    _require_program()
    return lambda config: _registrations("custom", _record("dev", config))


@pytest.fixture(params=list(PROGRAM_CONFIGS))
def program(request: pytest.FixtureRequest, program_stacks: dict[str, list[Registered]]) -> Any:
    """The program's resources for one configuration: minimal, full, each stack file."""
    return program_stacks[request.param]


@pytest.fixture(scope="session")
def prod_stack_file() -> tuple[dict[str, Any], dict[str, Any]]:
    """Pulumi.prod.yaml's config as written, and with its placeholders filled in."""
    written = stack_file_config(ROOT / "Pulumi.prod.yaml")
    return written, fill_placeholders(written)
