"""The GitHub workflows: valid for GitHub, and holding the pipeline's security properties.

GitHub's schema is checked offline with check-jsonschema's vendored copy. Each property is a
function returning what is wrong with a parsed workflow, run on the real files (nothing) and
on a copy broken on purpose (the right complaint), so a check cannot pass by checking nothing.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
STACK_PREFIX = "${{ vars.PULUMI_ORG }}/ai-credential-rotation/"
PINNED_ACTIONS = {
    "actions/checkout": "v4",
    "actions/setup-python": "v5",
    "aws-actions/configure-aws-credentials": "v4",
    "pulumi/actions": "v6",
}

Workflow = dict[str, Any]


def load(path: Path) -> Workflow:
    document: Workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in document:
        document["on"] = document.pop(True)
    return document


def jobs(workflow: Workflow) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from workflow.get("jobs", {}).items()


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).split("@")[0] == action]


def pulumi_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in steps_using(job, "pulumi/actions") if s.get("with", {}).get("command")]


def permission(workflow: Workflow, job: dict[str, Any], scope: str) -> str | None:
    granted = job.get("permissions", workflow.get("permissions", {}))
    return granted.get(scope) if isinstance(granted, dict) else granted


def stack_of(step: dict[str, Any]) -> str:
    return str(step["with"].get("stack-name", "")).removeprefix(STACK_PREFIX)


# --- Properties: each returns what is wrong ---------------------------------------------------


def static_aws_keys(workflow: Workflow) -> list[str]:
    """AWS is reached through OIDC only: no access key may appear anywhere."""
    text = yaml.safe_dump(workflow).lower()
    return [
        f"mentions {word}"
        for word in ("aws-access-key-id", "aws-secret-access-key", "aws_access_key_id")
        if word in text
    ]


def oidc_access(workflow: Workflow) -> list[str]:
    """Every job that configures AWS may mint an OIDC token and assumes a role from vars."""
    problems = []
    for name, job in jobs(workflow):
        for step in steps_using(job, "aws-actions/configure-aws-credentials"):
            if permission(workflow, job, "id-token") != "write":
                problems.append(f"{name}: configures AWS without id-token: write")
            role = str(step.get("with", {}).get("role-to-assume", ""))
            if not re.fullmatch(r"\$\{\{ vars\.AWS_[A-Z_]+_ROLE_ARN \}\}", role):
                problems.append(f"{name}: role-to-assume {role!r} is not a repository variable")
        if pulumi_steps(job) and not steps_using(job, "aws-actions/configure-aws-credentials"):
            problems.append(f"{name}: runs Pulumi without assuming an AWS role")
    return problems


def least_privilege(workflow: Workflow) -> list[str]:
    """The workflow grants only read access by default; jobs add what they need."""
    problems = []
    if workflow.get("permissions") != {"contents": "read"}:
        problems.append(f"workflow permissions are {workflow.get('permissions')!r}")
    for name, job in jobs(workflow):
        granted = job.get("permissions", {})
        extra = {k: v for k, v in granted.items() if k != "contents" and v != "none"}
        allowed = {"id-token": "write", "pull-requests": "write"}
        if any(allowed.get(scope) != level for scope, level in extra.items()):
            problems.append(f"{name}: permissions {granted!r} go beyond OIDC and PR comments")
        if granted.get("contents", "read") != "read":
            problems.append(f"{name}: contents permission is {granted['contents']!r}")
    return problems


def one_operation_per_stack(workflow: Workflow) -> list[str]:
    """Each Pulumi job holds its stack's concurrency group and never cancels a running one."""
    problems = []
    for name, job in jobs(workflow):
        for step in pulumi_steps(job):
            stack = stack_of(step)
            if not str(step["with"].get("stack-name", "")).startswith(STACK_PREFIX):
                problems.append(f"{name}: stack-name is not {STACK_PREFIX}<stack>")
            expected = {"group": f"pulumi-{stack}", "cancel-in-progress": False}
            if job.get("concurrency") != expected:
                problems.append(f"{name}: concurrency {job.get('concurrency')!r}, not {expected}")
    return problems


def pulumi_runs_guarded(workflow: Workflow) -> list[str]:
    """Every Pulumi command runs the policy pack, with the token from the repository secrets."""
    problems = []
    for name, job in jobs(workflow):
        for step in pulumi_steps(job):
            if step["with"].get("policyPacks") != "policy":
                problems.append(f"{name}: {step['with']['command']} without policyPacks: policy")
            token = step.get("env", {}).get("PULUMI_ACCESS_TOKEN")
            if token != "${{ secrets.PULUMI_ACCESS_TOKEN }}":
                problems.append(f"{name}: PULUMI_ACCESS_TOKEN is {token!r}")
    return problems


def actions_pinned(workflow: Workflow) -> list[str]:
    """Only known actions, pinned to their major version."""
    problems = []
    for name, job in jobs(workflow):
        for step in job.get("steps", []):
            if "uses" not in step:
                continue
            action, _, version = str(step["uses"]).partition("@")
            if PINNED_ACTIONS.get(action) != version:
                problems.append(f"{name}: uses {step['uses']}")
    return problems


def suite_runs_first(workflow: Workflow) -> list[str]:
    """A `test` job runs `make test` on Python 3.11, and every Pulumi job waits for it."""
    problems = []
    test = workflow.get("jobs", {}).get("test", {})
    if not any(step.get("run") == "make test" for step in test.get("steps", [])):
        problems.append("no test job running make test")
    pythons = [
        s.get("with", {}).get("python-version") for s in steps_using(test, "actions/setup-python")
    ]
    if pythons != ["3.11"]:
        problems.append(f"test job sets up Python {pythons!r}, not 3.11")
    for name, job in jobs(workflow):
        if pulumi_steps(job) and not _waits_for(workflow, name, "test"):
            problems.append(f"{name}: runs Pulumi without waiting for the tests")
    return problems


def _waits_for(workflow: Workflow, job_name: str, other: str) -> bool:
    needs = workflow["jobs"][job_name].get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    return other in needs or any(_waits_for(workflow, n, other) for n in needs)


def pull_request_previews(workflow: Workflow) -> list[str]:
    """On pull requests: a commented, read-only preview of dev and prod."""
    problems = []
    if set(workflow.get("on", {})) != {"pull_request"}:
        problems.append(f"triggers on {list(workflow.get('on', {}))}, not pull_request")
    previews = [(n, j, s) for n, j in jobs(workflow) for s in pulumi_steps(j)]
    if not previews:
        problems.append("no preview job")
    for name, job, step in previews:
        if job.get("if") != "github.event.pull_request.head.repo.full_name == github.repository":
            problems.append(f"{name}: would run, and fail, for a fork's pull request")
        if step["with"]["command"] != "preview":
            problems.append(f"{name}: runs {step['with']['command']} on a pull request")
        if step["with"].get("comment-on-pr") is not True:
            problems.append(f"{name}: does not comment the preview on the pull request")
        if permission(workflow, job, "pull-requests") != "write":
            problems.append(f"{name}: cannot comment (pull-requests: write missing)")
        if job.get("strategy", {}).get("matrix", {}).get("stack") != ["dev", "prod"]:
            problems.append(f"{name}: does not preview both dev and prod")
        if stack_of(step) != "${{ matrix.stack }}":
            problems.append(f"{name}: stack-name does not follow the matrix")
        role = steps_using(job, "aws-actions/configure-aws-credentials")
        if any(s["with"].get("role-to-assume") != "${{ vars.AWS_PREVIEW_ROLE_ARN }}" for s in role):
            problems.append(f"{name}: a pull request must assume the read-only preview role")
    return problems


def main_deploys_dev_then_prod(workflow: Workflow) -> list[str]:
    """On main: `up` dev, then `up` prod after dev, behind the prod environment's approval."""
    problems = []
    if workflow.get("on") != {"push": {"branches": ["main"]}}:
        problems.append(f"triggers on {workflow.get('on')!r}, not pushes to main")
    ups = {stack_of(s): (n, j, s) for n, j in jobs(workflow) for s in pulumi_steps(j)}
    if set(ups) != {"dev", "prod"}:
        return [*problems, f"deploys {sorted(ups)}, not dev and prod"]
    for stack, (name, job, step) in ups.items():
        if step["with"]["command"] != "up":
            problems.append(f"{name}: runs {step['with']['command']}, not up")
        role = steps_using(job, "aws-actions/configure-aws-credentials")
        if any(s["with"].get("role-to-assume") != "${{ vars.AWS_DEPLOY_ROLE_ARN }}" for s in role):
            problems.append(f"{name}: does not assume the deploy role")
        environment = job.get("environment")
        environment = environment.get("name") if isinstance(environment, dict) else environment
        if stack == "prod" and environment != "prod":
            problems.append(f"{name}: prod is not behind the prod environment's approval")
        # The deploy role trusts ref:refs/heads/main and environment:prod, nothing else.
        if stack == "dev" and environment is not None:
            problems.append(f"{name}: an environment changes the OIDC subject the role trusts")
    dev_job, prod_job = ups["dev"][0], ups["prod"][0]
    if not _waits_for(workflow, prod_job, dev_job):
        problems.append(f"{prod_job}: does not need {dev_job}")
    return problems


COMMON = [
    static_aws_keys,
    oidc_access,
    least_privilege,
    one_operation_per_stack,
    pulumi_runs_guarded,
    actions_pinned,
    suite_runs_first,
]
BY_FILE: dict[str, list[Callable[[Workflow], list[str]]]] = {
    "pull-request.yml": [*COMMON, pull_request_previews],
    "deploy.yml": [*COMMON, main_deploys_dev_then_prod],
}


def test_the_expected_workflows_exist() -> None:
    assert [path.name for path in WORKFLOWS] == sorted(BY_FILE)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_each_workflow_is_valid_for_github(path: Path) -> None:
    result = subprocess.run(  # noqa: S603 (the venv's own executable, fixed arguments)
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = load(WORKFLOW_DIR / "deploy.yml")
    broken["jobs"]["prod"]["concurrency"]["cancel-in-progress"] = "sometimes"
    del broken["jobs"]["dev"]["runs-on"]
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))

    result = subprocess.run(  # noqa: S603 (the venv's own executable, fixed arguments)
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "runs-on" in result.stdout


@pytest.mark.parametrize(
    ("file", "check"),
    [(file, check) for file, checks in BY_FILE.items() for check in checks],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_each_workflow_has_the_security_property(
    file: str, check: Callable[[Workflow], list[str]]
) -> None:
    assert check(load(WORKFLOW_DIR / file)) == []


def _broken(file: str, edit: Callable[[Workflow], None]) -> Workflow:
    workflow = copy.deepcopy(load(WORKFLOW_DIR / file))
    edit(workflow)
    return workflow


def _aws_step(w: Workflow, job: str) -> dict[str, Any]:
    return steps_using(w["jobs"][job], "aws-actions/configure-aws-credentials")[0]


def _pulumi_step(w: Workflow, job: str) -> dict[str, Any]:
    return pulumi_steps(w["jobs"][job])[0]


BREAKS = [
    pytest.param(
        "deploy.yml",
        static_aws_keys,
        lambda w: _aws_step(w, "dev")["with"].update(
            {"aws-access-key-id": "${{ secrets.AWS_ACCESS_KEY_ID }}"}
        ),
        "mentions aws-access-key-id",
        id="stored-aws-key",
    ),
    pytest.param(
        "deploy.yml",
        oidc_access,
        lambda w: w["jobs"]["prod"]["permissions"].pop("id-token"),
        "prod: configures AWS without id-token: write",
        id="no-id-token",
    ),
    pytest.param(
        "deploy.yml",
        one_operation_per_stack,
        lambda w: w["jobs"]["prod"]["concurrency"].update(group="pulumi"),
        "prod: concurrency",
        id="shared-concurrency-group",
    ),
    pytest.param(
        "pull-request.yml",
        one_operation_per_stack,
        lambda w: w["jobs"]["preview"]["concurrency"].update({"cancel-in-progress": True}),
        "preview: concurrency",
        id="cancel-in-progress",
    ),
    pytest.param(
        "deploy.yml",
        main_deploys_dev_then_prod,
        lambda w: w["jobs"]["prod"].pop("environment"),
        "prod: prod is not behind the prod environment's approval",
        id="prod-without-approval",
    ),
    pytest.param(
        "deploy.yml",
        main_deploys_dev_then_prod,
        lambda w: w["jobs"]["prod"].update(needs="test"),
        "prod: does not need dev",
        id="prod-before-dev",
    ),
    pytest.param(
        "pull-request.yml",
        pull_request_previews,
        lambda w: _pulumi_step(w, "preview")["with"].update({"comment-on-pr": False}),
        "preview: does not comment the preview on the pull request",
        id="preview-not-commented",
    ),
    pytest.param(
        "pull-request.yml",
        pull_request_previews,
        lambda w: _aws_step(w, "preview")["with"].update(
            {"role-to-assume": "${{ vars.AWS_DEPLOY_ROLE_ARN }}"}
        ),
        "preview: a pull request must assume the read-only preview role",
        id="preview-with-deploy-role",
    ),
    pytest.param(
        "pull-request.yml",
        pull_request_previews,
        lambda w: w["jobs"]["preview"].pop("if"),
        "preview: would run, and fail, for a fork's pull request",
        id="preview-on-forks",
    ),
    pytest.param(
        "deploy.yml",
        pulumi_runs_guarded,
        lambda w: _pulumi_step(w, "dev")["with"].pop("policyPacks"),
        "dev: up without policyPacks: policy",
        id="up-without-policy-pack",
    ),
    pytest.param(
        "deploy.yml",
        actions_pinned,
        lambda w: w["jobs"]["dev"]["steps"][0].update(uses="actions/checkout@main"),
        "dev: uses actions/checkout@main",
        id="unpinned-action",
    ),
    pytest.param(
        "deploy.yml",
        least_privilege,
        lambda w: w.update(permissions="write-all"),
        "workflow permissions are 'write-all'",
        id="write-all",
    ),
]


@pytest.mark.parametrize(("file", "check", "edit", "complaint"), BREAKS)
def test_a_workflow_broken_on_purpose_is_caught(
    file: str,
    check: Callable[[Workflow], list[str]],
    edit: Callable[[Workflow], None],
    complaint: str,
) -> None:
    problems = check(_broken(file, edit))

    assert any(problem.startswith(complaint) for problem in problems), problems


def test_the_pulumi_cli_matches_the_sdk_pin() -> None:
    sdk = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert sdk is not None
    for path in WORKFLOWS:
        for _, job in jobs(load(path)):
            for step in steps_using(job, "pulumi/actions"):
                assert step["with"].get("pulumi-version") == sdk[1], path.name
