"""The policy pack as Pulumi runs it: its entry point, its project file, its analyzer.

``pulumi preview --policy-pack policy`` runs ``policy/`` as a script in ``policy/.venv``; the
script's PolicyPack starts pulumi_policy's gRPC analyzer and sleeps forever. Here PolicyPack
is replaced by a recorder, and the analyzer it would serve is driven with the protobuf
requests the engine sends, built from the program's own registrations.
"""

from __future__ import annotations

import json
import re
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policy import guardrails

ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = ROOT / "policy"
CRON_CORPUS = json.loads((ROOT / "tests" / "cron_corpus.json").read_text())["cases"]


class RecordedPack:
    """Stands in for PolicyPack: keeps its arguments instead of serving them."""

    created: list[RecordedPack] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        RecordedPack.created.append(self)


@pytest.fixture(scope="module")
def pack() -> dict[str, Any]:
    """The PolicyPack arguments of policy/__main__.py, run the way Pulumi runs the folder."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(pulumi_policy, "PolicyPack", RecordedPack)
    monkeypatch.delitem(sys.modules, "guardrails", raising=False)
    RecordedPack.created.clear()
    try:
        runpy.run_path(str(POLICY_DIR), run_name="__main__")
    finally:
        monkeypatch.undo()
        sys.modules.pop("guardrails", None)
    assert len(RecordedPack.created) == 1
    return RecordedPack.created[0].kwargs


@pytest.fixture()
def analyzer(pack: dict[str, Any]) -> _PolicyAnalyzerServicer:
    """The analyzer PolicyPack would serve to the engine."""
    return _PolicyAnalyzerServicer(
        pack["name"], "0.1.0", pack["policies"], pack["enforcement_level"]
    )


def test_the_pack_is_named_and_mandatory(pack: dict[str, Any]) -> None:
    assert pack["name"] == "ai-credential-rotation-guardrails"
    assert pack["enforcement_level"] is pulumi_policy.EnforcementLevel.MANDATORY
    assert all(policy.enforcement_level is None for policy in pack["policies"])


def test_the_pack_holds_every_guardrail(pack: dict[str, Any]) -> None:
    assert [p.name for p in pack["policies"]] == [p.name for p in guardrails.POLICIES]


def test_the_project_file_runs_python_in_the_packs_own_virtualenv() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())

    assert project["runtime"] == {"name": "python", "options": {"virtualenv": ".venv"}}
    assert project["description"]
    # .gitignore's ".venv/" covers policy/.venv; ruff and mypy skip dot-folders.
    assert ".venv/" in (ROOT / ".gitignore").read_text().splitlines()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.\[\]-]+)==(\S+?)(?: \\)?", line.strip())
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def test_the_pack_pins_the_same_versions_as_the_program() -> None:
    wanted = _pins(POLICY_DIR / "requirements.in")
    locked = _pins(POLICY_DIR / "requirements.txt")
    tested = _pins(ROOT / "requirements" / "dev.lock")

    assert set(wanted) == {"pulumi", "pulumi-policy"}
    assert {name: locked.get(name) for name in wanted} == wanted
    # The pack's whole lock is the tested one: same version for every package.
    assert {name: tested.get(name) for name in locked} == locked


# --- The analyzer, over the wire --------------------------------------------------------------


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(props, struct_pb2.Struct())


def analyze(analyzer: _PolicyAnalyzerServicer, resources: list[Any]) -> list[Any]:
    """Every diagnostic of a preview: each resource's Analyze, then AnalyzeStack."""
    diagnostics: list[Any] = []
    for r in resources:
        request = proto.AnalyzeRequest(
            type=r.type, properties=_struct(r.props), urn=r.urn, name=r.name
        )
        diagnostics += analyzer.Analyze(request, None).diagnostics
    stack = proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type=r.type,
                properties=_struct(r.props),
                urn=r.urn,
                name=r.name,
                parent=r.parent,
                propertyDependencies={
                    key: proto.AnalyzerPropertyDependencies(urns=urns)
                    for key, urns in r.property_dependencies.items()
                },
            )
            for r in resources
        ]
    )
    diagnostics += analyzer.AnalyzeStack(stack, None).diagnostics
    return diagnostics


def test_the_analyzer_finds_nothing_in_the_program(
    analyzer: _PolicyAnalyzerServicer, program_stacks: dict[str, list[Any]]
) -> None:
    for resources in program_stacks.values():
        assert [d.message for d in analyze(analyzer, resources)] == []


def test_the_analyzer_blocks_each_break_with_a_mandatory_diagnostic(
    analyzer: _PolicyAnalyzerServicer, program_stacks: dict[str, list[Any]], harness: Any
) -> None:
    program = program_stacks["minimal"]
    broken = []
    for resource in program:
        if resource.type == guardrails.SECRET_ROTATION:
            resource = resource.with_props(rotationRules={"automaticallyAfterDays": 365.0})
        elif resource.type == guardrails.LAMBDA_PERMISSION:
            resource = resource.with_props(sourceArn=None)
        broken.append(resource)
    broken.append(harness.registered(guardrails.ACCESS_KEY, "key", {"user": "bot"}))

    diagnostics = analyze(analyzer, broken)

    assert sorted({d.policyName for d in diagnostics}) == [
        "no-iam-access-keys",
        "secrets-rotate-within-90-days",
        "secretsmanager-permissions-have-source-arn",
    ]
    assert {d.enforcementLevel for d in diagnostics} == {proto.MANDATORY}
    assert {d.policyPackName for d in diagnostics} == {"ai-credential-rotation-guardrails"}
    # Stack policies name the resource at fault; for a resource policy the engine knows it.
    assert all(d.urn for d in diagnostics if d.policyName == "secrets-rotate-within-90-days")


def test_an_unknown_value_during_preview_becomes_an_advisory_note(
    analyzer: _PolicyAnalyzerServicer, harness: Any
) -> None:
    policy = harness.registered("aws:iam/policy:Policy", "reader", {"policy": harness.unknown})

    diagnostics = analyze(analyzer, [policy])

    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("no-over-broad-policies", proto.ADVISORY)
    ]
    assert "can't be known during preview" in diagnostics[0].message


@pytest.mark.parametrize("case", CRON_CORPUS, ids=lambda case: case["expression"])
def test_the_analyzer_reads_every_cron_of_the_corpus_as_the_config_does(
    analyzer: _PolicyAnalyzerServicer,
    program_stacks: dict[str, list[Any]],
    case: dict[str, Any],
) -> None:
    # tests/program/test_schedule.py holds the config to the same corpus.
    rules = {"scheduleExpression": case["expression"]}
    program = [
        resource.with_props(rotationRules=rules)
        if resource.type == guardrails.SECRET_ROTATION
        else resource
        for resource in program_stacks["minimal"]
    ]

    messages = [
        d.message
        for d in analyze(analyzer, program)
        if d.policyName == "secrets-rotate-within-90-days"
    ]

    days = case["pack_days"]
    if days is None:
        assert messages
        assert all("cannot tell how often it rotates" in m for m in messages)
        assert all(case["config"] in m for m in messages)
        return
    assert guardrails.rotation_period_days(rules) == days
    if days > 90:
        assert messages
        assert all(f"can wait {days} days between two rotations" in m for m in messages)
    else:
        assert messages == []
