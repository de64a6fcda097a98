"""What keeps `pulumi up` from undoing rotations, and every key out of Pulumi state.

The program manages no secret version: the function's first-key step writes the bootstrap
value and the first key, and rotations only ever add versions and move labels, none of which
is an input of any resource here. So after any number of rotations, a refresh followed by an
up finds the same desired state and changes nothing. The one ignore_changes is the user's name
(given by the program so that its secret can name it; never a reason to replace a user).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from components.contract import ROTATOR_TAG, SECRET_USER_TAG, USER_SECRET_TAG, provision_event

SECRET_ARN = (
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:credrot-support-bot-secret-AbCdEf"
)


def test_the_program_manages_no_secret_version(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()

    assert engine.of_type("aws:secretsmanager/secretVersion:SecretVersion") == []


@pytest.mark.parametrize(
    ("isolated", "function_name"),
    [(False, "credrot-_shared-rotator"), (True, "credrot-support-bot-rotator")],
)
def test_the_first_key_step_invokes_the_rotation_function_once_on_creation(
    engine: Any, deploy: Callable[..., dict[str, Any]], isolated: bool, function_name: str
) -> None:
    deploy(isolated_rotator=isolated)

    first_key = engine.one("aws:lambda/invocation:Invocation", "credrot-support-bot-first-key")
    function = engine.one("aws:lambda/function:Function", function_name)
    rotation = engine.rotation()
    assert first_key.inputs["functionName"] == function_name
    assert json.loads(first_key.inputs["input"]) == provision_event(SECRET_ARN)
    assert first_key.inputs["lifecycleScope"] == "CREATE_ONLY"
    # Once the rotation names the function: the shared role reaches the secret only then.
    assert first_key.explicit_dependencies == {rotation.urn}
    assert function.urn in first_key.dependencies


def test_rotation_is_enabled_before_the_first_key_and_never_rotates_on_a_rule_change(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()

    rotation = engine.rotation()
    first_key = engine.one("aws:lambda/invocation:Invocation", "credrot-support-bot-first-key")
    assert rotation.inputs["rotateImmediately"] is False
    assert first_key.urn not in rotation.dependencies


def test_only_the_users_name_is_ignored_on_change(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(isolated_rotator=True)

    assert [(r.name, r.ignore_changes) for r in engine.registered() if r.ignore_changes] == [
        ("credrot-support-bot-user", ("name",))
    ]


def test_the_desired_state_is_the_same_on_every_run(engine: Any) -> None:
    config = {"consumers": [{"name": "support-bot", "readPaths": ["s3://acme-kb/support/"]}]}

    def snapshot() -> list[tuple[str, str, str]]:
        return sorted(
            (r.type, r.name, json.dumps(r.inputs, sort_keys=True, default=_archive_path))
            for r in engine.registered()
        )

    engine.run_program(config)
    first = snapshot()
    engine.mocks.resources.clear()
    engine.monitor.requests.clear()
    engine.run_program(config)

    assert snapshot() == first


def test_the_user_and_its_secret_name_each_other_and_the_user_carries_the_rotator(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()

    user = engine.one("aws:iam/user:User", "credrot-support-bot-user")
    secret = engine.one("aws:secretsmanager/secret:Secret", "credrot-support-bot-secret")
    assert user.inputs["tags"][USER_SECRET_TAG] == SECRET_ARN
    assert user.inputs["tags"][ROTATOR_TAG] == "ai-credential-rotation/test"
    assert secret.inputs["tags"][SECRET_USER_TAG] == user.inputs["name"]


def test_an_isolated_function_is_bound_to_the_same_user_and_secret(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(isolated_rotator=True)

    user = engine.one("aws:iam/user:User", "credrot-support-bot-user")
    function = engine.one("aws:lambda/function:Function", "credrot-support-bot-rotator")
    variables = function.inputs["environment"]["variables"]
    assert variables["SECRET_ARN"] == SECRET_ARN
    assert variables["IAM_USER_NAME"] == user.inputs["name"]


def test_pulumi_never_creates_or_sees_an_access_key_or_a_secret_value(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    assert engine.of_type("aws:iam/accessKey:AccessKey") == []
    for resource in engine.registered():
        inputs = json.dumps(resource.inputs, default=str)
        assert "SecretAccessKey" not in inputs, resource.name
        assert "secretString" not in inputs, resource.name


def test_the_user_can_be_deleted_with_keys_pulumi_did_not_create(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    assert (
        engine.one("aws:iam/user:User", "credrot-support-bot-user").inputs["forceDestroy"] is True
    )


def test_the_secret_keeps_a_recovery_window(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy(recovery_window_days=14)
    secret = engine.one("aws:secretsmanager/secret:Secret", "credrot-support-bot-secret")
    assert secret.inputs["recoveryWindowInDays"] == 14
    assert "kmsKeyId" not in secret.inputs


def _archive_path(value: Any) -> str:
    # A FileArchive is compared by what it points at (its bytes are pinned by test_packaging).
    return str(getattr(value, "path", value))
