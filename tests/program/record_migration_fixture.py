"""Record what a release's program registers, for the migration test (issue 13, item 5).

Usage, from the repository root (the release's tree unpacked with ``git archive``)::

    mkdir /tmp/release && git archive 5f8b18f | tar -x -C /tmp/release
    .venv/bin/python tests/program/record_migration_fixture.py /tmp/release \
        > tests/program/migration_5f8b18f.json

Runs that tree's ``__main__.py`` under Pulumi's mock engine with ``MIGRATION_CONFIG`` and
prints its ``user_names`` export and, for every user and secret, its URN and the inputs whose
change would replace it (name prefix, KMS key, IAM path, and the name as the engine stores it:
the given one, or the generated one, for which the mock's logical name stands in). The test
runs today's program with the same config, reading that export as its previous outputs, and
compares (tests/program/test_migration.py).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

PROJECT = "ai-credential-rotation"
STACK = "prod"
ACCOUNT = "123456789012"
KMS_KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MIGRATION_CONFIG: dict[str, Any] = {
    "consumers": [
        {"name": "support-bot", "readPaths": ["s3://acme-kb/support/"]},
        {
            "name": "sales-bot",
            "readPaths": ["s3://acme-kb/sales/"],
            "writePaths": ["s3://acme-out/sales/"],
            "rotationDays": 7,
        },
        {
            "name": "ext-bot",
            "readPaths": ["s3://acme-kb/ext/"],
            "selfRead": {"sourceCidrs": ["192.0.32.0/20"]},
            "rotationSchedule": "cron(0 3 ? * MON *)",
        },
    ],
    "kmsKeyArn": KMS_KEY_ARN,
    "alarmEmail": "oncall@example.com",
}
# The per-consumer reader policies app teams attached: kept with ownReaderPolicy, so the
# inputs an update would change are recorded too (the policy document is compared by what it
# grants, since it carries the mock's secret ARN).
READER_POLICY = "aws:iam/policy:Policy"
READER_INPUTS = ("description", "name", "namePrefix", "path", "tags")
# Inputs whose change replaces the resource (ForceNew in the provider).
REPLACE_INPUTS = {
    "aws:iam/user:User": ("name", "namePrefix", "path"),
    "aws:secretsmanager/secret:Secret": ("name", "namePrefix", "kmsKeyId"),
}


class _Mocks(Mocks):
    def __init__(self) -> None:
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.inputs[(args.typ, args.name)] = dict(args.inputs)
        name = args.inputs.get("name", args.name)
        arn = f"arn:aws:{args.typ.split(':')[1].split('/')[0]}:eu-west-1:{ACCOUNT}:{name}"
        return f"{name}-id", {**args.inputs, "name": name, "arn": arn}

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class _Monitor(MockMonitor):
    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self.urns: dict[tuple[str, str], str] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        self.urns[(request.type, request.name)] = response.urn
        return response


def effective_inputs(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The replace-relevant inputs as the engine stores them: a name left out is generated
    (the provider's Check puts it into the inputs), here the logical name stands in for it."""
    recorded = {key: inputs.get(key) for key in REPLACE_INPUTS[typ]}
    if recorded["name"] is None and recorded["namePrefix"] is None:
        recorded["name"] = name
    return recorded


def record(tree: Path) -> dict[str, Any]:
    """The user_names export, and the URN and replace-relevant inputs of every user and
    secret ``tree``'s program registers."""
    mocks = _Mocks()
    monitor = _Monitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(
        {
            f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value)
            for key, value in MIGRATION_CONFIG.items()
        }
    )
    sys.path.insert(0, str(tree))
    os.chdir(tree)

    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        runpy.run_path(str(tree / "__main__.py"))
        root = pulumi.runtime.get_root_resource()
        assert isinstance(root, pulumi.runtime.stack.Stack)
        return pulumi.Output.from_input(root.outputs["user_names"]).apply(
            lambda names: exports.update(user_names=names)
        )

    run()
    return {
        "exports": exports,
        "resources": {
            urn: effective_inputs(typ, name, mocks.inputs[(typ, name)])
            for (typ, name), urn in sorted(monitor.urns.items())
            if typ in REPLACE_INPUTS
        },
        "reader_policies": {
            urn: {key: mocks.inputs[(typ, name)].get(key) for key in READER_INPUTS}
            for (typ, name), urn in sorted(monitor.urns.items())
            if typ == READER_POLICY and name.endswith("-reader")
        },
    }


if __name__ == "__main__":
    print(json.dumps(record(Path(sys.argv[1]).resolve()), indent=2, sort_keys=True))
