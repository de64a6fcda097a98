"""The GitHub workflows: valid for GitHub, and holding the pipeline's security properties.

GitHub's schema is checked offline with check-jsonschema's vendored copy, and zizmor audits
them offline (no finding of medium severity or above). Each property is a function returning
what is wrong with a parsed workflow, run on the real files (nothing) and on a copy broken on
purpose (the right complaint), so a check cannot pass by checking nothing.
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
ZIZMOR = Path(sys.executable).with_name("zizmor")
STACK_PREFIX = "${{ vars.PULUMI_ORG }}/ai-credential-rotation/"
# Each action at the full commit of a release, read from the action's own repository's tags
# (git rev-parse <tag>^{commit}); a tag can be moved, a commit cannot.
PINNED_ACTIONS = {
    "actions/checkout": ("11d5960a326750d5838078e36cf38b85af677262", "v4.4.0"),
    "actions/setup-python": ("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "aws-actions/configure-aws-credentials": (
        "7474bc4690e29a8392af63c5b98e7449536d5c3a",
        "v4.3.1",
    ),
    "pulumi/auth-actions": ("141415910c3beb54e03b48e9057c204c97b956f2", "v2.1.0"),
    "pulumi/actions": ("8582a9e8cc630786854029b4e09281acd6794b58", "v6.6.1"),
}
USES_LINE = re.compile(
    r"^\s*(?:- )?uses: (?P<action>[^@\s]+)@(?P<ref>\S+)(?: # (?P<version>\S+))?$"
)
TEAM_TOKEN = "urn:pulumi:token-type:access_token:team"

Workflow = dict[str, Any]
Check = Callable[[Workflow], list[str]]


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
            if role == "${{ matrix.preview-role }}":
                roles = [str(entry.get("preview-role")) for entry in _matrix(job)]
            else:
                roles = [role]
            for each in roles:
                if not re.fullmatch(r"\$\{\{ vars\.AWS_[A-Z_]+_ROLE_ARN \}\}", each):
                    problems.append(f"{name}: role-to-assume {each!r} is not a variable")
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
    """Every Pulumi command runs the policy pack, with a team token exchanged just before.

    No stored Pulumi token: each job trades its OIDC token for a short-lived token of a
    Pulumi team, which Pulumi Cloud grants that job's subject only.
    """
    problems = []
    if "PULUMI_ACCESS_TOKEN" in yaml.safe_dump(workflow):
        problems.append("mentions PULUMI_ACCESS_TOKEN (a stored token)")
    for name, job in jobs(workflow):
        for step in pulumi_steps(job):
            if step["with"].get("policyPacks") != "policy":
                problems.append(f"{name}: {step['with']['command']} without policyPacks: policy")
            steps = job["steps"]
            earlier = steps[: steps.index(step)]
            auth = [s for s in earlier if _action(s) == "pulumi/auth-actions"]
            if len(auth) != 1 or auth[0].get("with", {}).get("requested-token-type") != TEAM_TOKEN:
                problems.append(f"{name}: no team token exchanged before {step['with']['command']}")
    return problems


def deploys_install_the_runtime_lock(workflow: Workflow) -> list[str]:
    """Jobs that run Pulumi install the runtime and pack locks, hashes required, nothing else."""
    problems = []
    for name, job in jobs(workflow):
        if not pulumi_steps(job):
            continue
        script = "\n".join(str(s.get("run", "")) for s in job.get("steps", []))
        installs = [line for line in script.splitlines() if " install " in line]
        expected = {
            "requirements/bootstrap.lock",
            "requirements/runtime.lock",
            "policy/requirements.txt",
        }
        found = {line.rsplit(" -r ", 1)[-1].strip() for line in installs}
        if found != expected:
            problems.append(f"{name}: installs {sorted(found)}, not {sorted(expected)}")
        if any("--require-hashes" not in line for line in installs):
            problems.append(f"{name}: installs without --require-hashes")
        if any(tool in script for tool in ("make test", "dev.lock", "requirements.txt -")):
            problems.append(f"{name}: installs the test tools")
    return problems


def checkouts_keep_no_credentials(workflow: Workflow) -> list[str]:
    """No checkout leaves the job's GitHub token in .git/config for later steps to find."""
    return [
        f"{name}: checkout persists credentials"
        for name, job in jobs(workflow)
        for step in steps_using(job, "actions/checkout")
        if step.get("with", {}).get("persist-credentials") is not False
    ]


def actions_pinned(workflow: Workflow) -> list[str]:
    """Only known actions, each at the full commit SHA of a release."""
    problems = []
    for name, job in jobs(workflow):
        for step in job.get("steps", []):
            if "uses" not in step:
                continue
            action, _, ref = str(step["uses"]).partition("@")
            if PINNED_ACTIONS.get(action, ("",))[0] != ref:
                problems.append(f"{name}: uses {step['uses']}")
    return problems


def pins_name_their_version(text: str) -> list[str]:
    """In the file's text (YAML drops comments): each SHA carries its release as a comment."""
    problems = []
    for line in text.splitlines():
        match = USES_LINE.match(line)
        if not match:
            continue
        expected = PINNED_ACTIONS.get(match["action"])
        if expected is None or (match["ref"], match["version"]) != expected:
            problems.append(f"{line.strip()!r} is not {match['action']}@<sha> # <its version>")
    return problems


def _action(step: dict[str, Any]) -> str:
    return str(step.get("uses", "")).split("@")[0]


def _matrix(job: dict[str, Any]) -> list[dict[str, Any]]:
    matrix = job.get("strategy", {}).get("matrix", {})
    return list(matrix.get("include", []))


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
        entries = _matrix(job)
        if [entry.get("stack") for entry in entries] != ["dev", "prod"]:
            problems.append(f"{name}: does not preview both dev and prod")
        if stack_of(step) != "${{ matrix.stack }}":
            problems.append(f"{name}: stack-name does not follow the matrix")
        role = steps_using(job, "aws-actions/configure-aws-credentials")
        roles = [
            "${{ vars.AWS_" + str(entry.get("stack")).upper() + "_PREVIEW_ROLE_ARN }}"
            for entry in entries
        ]
        if (
            any(s["with"].get("role-to-assume") != "${{ matrix.preview-role }}" for s in role)
            or [entry.get("preview-role") for entry in entries] != roles
        ):
            problems.append(f"{name}: a pull request must assume the read-only preview role")
        auth = steps_using(job, "pulumi/auth-actions")
        if [s.get("with", {}).get("scope") for s in auth] != [
            "team:${{ vars.PULUMI_PREVIEW_TEAM }}"
        ]:
            problems.append(f"{name}: a pull request must take the read-only preview team token")
        if "environment" in job:
            problems.append(f"{name}: an environment would give a pull request its subject")
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
        auth = steps_using(job, "pulumi/auth-actions")
        if [s.get("with", {}).get("scope") for s in auth] != [
            "team:${{ vars.PULUMI_DEPLOY_TEAM }}"
        ]:
            problems.append(f"{name}: does not take its environment's deploy team token")
        environment = job.get("environment")
        environment = environment.get("name") if isinstance(environment, dict) else environment
        # Each stack's role, team and variables belong to its environment, whose OIDC subject
        # (environment:<stack>) is the only one they trust; prod's also requires approval.
        if environment != stack:
            problems.append(f"{name}: runs in environment {environment!r}, not {stack!r}")
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
    deploys_install_the_runtime_lock,
    checkouts_keep_no_credentials,
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


# For each workflow file and check: the cases, by id, each an edit that breaks the file on
# purpose and the start of the complaint the check must make about it.
BROKEN_ON_PURPOSE: dict[tuple[str, Check], dict[str, tuple[Callable[[Workflow], None], str]]] = {
    ("deploy.yml", static_aws_keys): {
        "stored-aws-key": (
            lambda w: _aws_step(w, "dev")["with"].update(
                {"aws-access-key-id": "${{ secrets.AWS_ACCESS_KEY_ID }}"}
            ),
            "mentions aws-access-key-id",
        ),
    },
    ("deploy.yml", oidc_access): {
        "no-id-token": (
            lambda w: w["jobs"]["prod"]["permissions"].pop("id-token"),
            "prod: configures AWS without id-token: write",
        ),
    },
    ("deploy.yml", one_operation_per_stack): {
        "shared-concurrency-group": (
            lambda w: w["jobs"]["prod"]["concurrency"].update(group="pulumi"),
            "prod: concurrency",
        ),
    },
    ("pull-request.yml", one_operation_per_stack): {
        "cancel-in-progress": (
            lambda w: w["jobs"]["preview"]["concurrency"].update({"cancel-in-progress": True}),
            "preview: concurrency",
        ),
    },
    ("deploy.yml", main_deploys_dev_then_prod): {
        "prod-without-approval": (
            lambda w: w["jobs"]["prod"].pop("environment"),
            "prod: runs in environment None, not 'prod'",
        ),
        "dev-outside-its-environment": (
            lambda w: w["jobs"]["dev"].pop("environment"),
            "dev: runs in environment None, not 'dev'",
        ),
        "dev-in-the-prod-environment": (
            lambda w: w["jobs"]["dev"].update(environment="prod"),
            "dev: runs in environment 'prod', not 'dev'",
        ),
        "prod-before-dev": (
            lambda w: w["jobs"]["prod"].update(needs="test"),
            "prod: does not need dev",
        ),
    },
    ("deploy.yml", pulumi_runs_guarded): {
        "stored-pulumi-token": (
            lambda w: _pulumi_step(w, "prod").update(
                env={"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
            ),
            "mentions PULUMI_ACCESS_TOKEN",
        ),
        "no-pulumi-token-exchange": (
            lambda w: w["jobs"]["dev"]["steps"].remove(
                steps_using(w["jobs"]["dev"], "pulumi/auth-actions")[0]
            ),
            "dev: no team token exchanged before up",
        ),
        "up-without-policy-pack": (
            lambda w: _pulumi_step(w, "dev")["with"].pop("policyPacks"),
            "dev: up without policyPacks: policy",
        ),
    },
    ("pull-request.yml", pull_request_previews): {
        "preview-with-deploy-team": (
            lambda w: steps_using(w["jobs"]["preview"], "pulumi/auth-actions")[0]["with"].update(
                scope="team:${{ vars.PULUMI_DEPLOY_TEAM }}"
            ),
            "preview: a pull request must take the read-only preview team token",
        ),
        "preview-in-prod-environment": (
            lambda w: w["jobs"]["preview"].update(environment="prod"),
            "preview: an environment would give a pull request its subject",
        ),
        "preview-not-commented": (
            lambda w: _pulumi_step(w, "preview")["with"].update({"comment-on-pr": False}),
            "preview: does not comment the preview on the pull request",
        ),
        "preview-with-deploy-role": (
            lambda w: _aws_step(w, "preview")["with"].update(
                {"role-to-assume": "${{ vars.AWS_DEPLOY_ROLE_ARN }}"}
            ),
            "preview: a pull request must assume the read-only preview role",
        ),
        "preview-on-forks": (
            lambda w: w["jobs"]["preview"].pop("if"),
            "preview: would run, and fail, for a fork's pull request",
        ),
    },
    ("deploy.yml", deploys_install_the_runtime_lock): {
        "deploy-installs-dev-tools": (
            lambda w: w["jobs"]["prod"]["steps"][2].update(
                run="python -m pip install -r requirements.txt"
            ),
            "prod: installs ['requirements.txt']",
        ),
        "install-without-hashes": (
            lambda w: w["jobs"]["dev"]["steps"][2].update(
                run=w["jobs"]["dev"]["steps"][2]["run"].replace(" --require-hashes", "")
            ),
            "dev: installs without --require-hashes",
        ),
    },
    ("deploy.yml", checkouts_keep_no_credentials): {
        "persisted-credentials": (
            lambda w: w["jobs"]["test"]["steps"][0].pop("with"),
            "test: checkout persists credentials",
        ),
    },
    ("deploy.yml", actions_pinned): {
        "action-on-a-tag": (
            lambda w: w["jobs"]["dev"]["steps"][0].update(uses="actions/checkout@v4"),
            "dev: uses actions/checkout@v4",
        ),
        "action-on-an-unknown-commit": (
            lambda w: w["jobs"]["dev"]["steps"][0].update(
                uses="actions/checkout@0000000000000000000000000000000000000000"
            ),
            "dev: uses actions/checkout@0000000000000000000000000000000000000000",
        ),
    },
    ("deploy.yml", least_privilege): {
        "write-all": (
            lambda w: w.update(permissions="write-all"),
            "workflow permissions are 'write-all'",
        ),
    },
}
BREAKS = [
    pytest.param(file, check, edit, complaint, id=case)
    for (file, check), cases in BROKEN_ON_PURPOSE.items()
    for case, (edit, complaint) in cases.items()
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


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_each_pinned_action_names_its_release(path: Path) -> None:
    assert pins_name_their_version(path.read_text()) == []


def test_a_pin_without_its_release_or_with_another_is_caught() -> None:
    sha = PINNED_ACTIONS["actions/checkout"][0]

    assert pins_name_their_version(f"      - uses: actions/checkout@{sha}\n")
    assert pins_name_their_version(f"      - uses: actions/checkout@{sha} # v9.9.9\n")
    assert pins_name_their_version(f"      - uses: actions/checkout@{sha} # v4.4.0\n") == []


def zizmor(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (the venv's own executable, fixed arguments)
        [str(ZIZMOR), "--offline", "--no-progress", "--min-severity", "medium", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=None,
    )


def test_zizmor_finds_nothing_of_medium_severity_or_above() -> None:
    result = zizmor(WORKFLOW_DIR)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_zizmor_flags_a_workflow_on_a_moving_tag_with_persisted_credentials(
    tmp_path: Path,
) -> None:
    text = (WORKFLOW_DIR / "deploy.yml").read_text()
    sha, version = PINNED_ACTIONS["actions/checkout"]
    broken = text.replace(f"actions/checkout@{sha} # {version}", "actions/checkout@v4", 1)
    broken = broken.replace("persist-credentials: false", "fetch-depth: 1", 1)
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "deploy.yml").write_text(broken)

    result = zizmor(workflows)

    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout
    assert "artipacked" in result.stdout


def test_the_pulumi_cli_matches_the_sdk_pin() -> None:
    runtime = (ROOT / "requirements" / "runtime.in").read_text()
    sdk = re.search(r"^pulumi==(\S+)$", runtime, re.M)
    assert sdk is not None
    for path in WORKFLOWS:
        for _, job in jobs(load(path)):
            for step in steps_using(job, "pulumi/actions"):
                assert step["with"].get("pulumi-version") == sdk[1], path.name
