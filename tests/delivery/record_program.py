"""Run the Pulumi program under the mock engine and print every resource it registers, as JSON.

Usage: ``python tests/delivery/record_program.py STACK CONFIG_JSON`` from the repository root,
with CONFIG_JSON a JSON object of ``ai-credential-rotation:*`` keys to values.

A separate process, so the program's global Pulumi state never leaks into other tests. The
monitor records what the policy engine would receive: each resource's type, name, URN, parent,
dependencies, and its inputs in the engine's wire form (the protobuf Struct, as JSON), plus
the name the provider would generate when the program leaves it out (``pulumi preview``
hands the policy pack the inputs after that step).
"""

from __future__ import annotations

import importlib
import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "ai-credential-rotation"
ACCOUNT = "123456789012"
REGION = "eu-west-1"


def _fake_arn(typ: str, physical_name: str, inputs: dict[str, Any]) -> str:
    iam_path = str(inputs.get("path") or "/")
    regional = f"{REGION}:{ACCOUNT}"
    arns = {
        "aws:iam/user:User": f"arn:aws:iam::{ACCOUNT}:user{iam_path}{physical_name}",
        "aws:iam/role:Role": f"arn:aws:iam::{ACCOUNT}:role{iam_path}{physical_name}",
        "aws:iam/policy:Policy": f"arn:aws:iam::{ACCOUNT}:policy{iam_path}{physical_name}",
        "aws:secretsmanager/secret:Secret": (
            f"arn:aws:secretsmanager:{regional}:secret:{physical_name}-AbCdEf"
        ),
        "aws:lambda/function:Function": f"arn:aws:lambda:{regional}:function:{physical_name}",
        "aws:cloudwatch/logGroup:LogGroup": f"arn:aws:logs:{regional}:log-group:{physical_name}",
        "aws:sns/topic:Topic": f"arn:aws:sns:{regional}:{physical_name}",
        "aws:cloudwatch/eventRule:EventRule": f"arn:aws:events:{regional}:rule/{physical_name}",
        "aws:cloudwatch/metricAlarm:MetricAlarm": (
            f"arn:aws:cloudwatch:{regional}:alarm:{physical_name}"
        ),
    }
    service = typ.split(":")[1].split("/")[0]
    return arns.get(typ, f"arn:aws:{service}:{regional}:{physical_name}")


def has_generated_name(typ: str) -> bool:
    """True if the provider names a resource of this type when the program does not."""
    package, module_path, class_name = typ.split(":")
    module_name = module_path.split("/")[0]
    module_name = {"lambda": "lambda_"}.get(module_name, module_name)  # a Python keyword
    if package != "aws":
        return False
    try:
        module = importlib.import_module(f"pulumi_aws.{module_name}")
    except ImportError:
        return False
    return isinstance(getattr(getattr(module, class_name, None), "name", None), property)


class ProviderLikeMocks(Mocks):
    """Outputs the way the AWS provider shapes them: generated names, ids and ARNs."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if "name" not in state and "namePrefix" not in state and has_generated_name(args.typ):
            # Pulumi's auto-naming: the logical name plus a random suffix.
            state["name"] = f"{args.name}-1a2b3c4"
        physical_name = str(state.get("name") or state.get("namePrefix") or args.name)
        state.setdefault("arn", _fake_arn(args.typ, physical_name, state))
        resource_id = state["arn"] if args.typ.startswith("aws:secretsmanager/") else physical_name
        return resource_id, state

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        results: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
                "userId": "AIDAEXAMPLE",
                "id": ACCOUNT,
            },
            "aws:index/getRegion:getRegion": {"name": REGION, "region": REGION, "id": REGION},
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
            },
        }
        return results.get(args.token, {})


class RecordingMonitor(MockMonitor):
    """The mock monitor, keeping each registration as the policy engine would see it."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.records: list[dict[str, Any]] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        props = json_format.MessageToDict(request.object)
        generated = self.resources[response.urn].state.get("name")
        if request.custom and "name" not in props and "namePrefix" not in props and generated:
            props["name"] = generated
        self.records.append(
            {
                "type": request.type,
                "name": request.name,
                "urn": response.urn,
                "custom": request.custom,
                "parent": request.parent,
                "props": props,
                "dependencies": list(request.dependencies),
                "propertyDependencies": {
                    key: list(deps.urns) for key, deps in request.propertyDependencies.items()
                },
            }
        )
        return response


def record(stack: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    """Run ``__main__.py`` for ``stack`` with ``config`` and return the registrations."""
    monitor = RecordingMonitor(ProviderLikeMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, monitor=monitor)
    pulumi.runtime.set_all_config(
        {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in config.items()
        }
    )

    @pulumi.runtime.test
    def run_program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    run_program()
    return monitor.records


def main() -> None:
    """Entry point: print the registrations of one stack as a JSON list."""
    stack, config_json = sys.argv[1], sys.argv[2]
    sys.path.insert(0, str(ROOT))
    json.dump(record(stack, json.loads(config_json)), sys.stdout)


if __name__ == "__main__":
    main()
