"""What keeps `pulumi up` from undoing rotations, and every key out of Pulumi state.

The program manages no secret version: the function's first-key step writes the bootstrap
value and the first key, and rotations only ever add versions and move labels, none of which
is an input of any resource here. So after any number of rotations, a refresh followed by an
up finds the same desired state and changes nothing, with no ignore_changes anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from components.contract import USER_SECRET_TAG, provision_event

SECRET_ARN = (
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:credrot-support-bot-secret-AbCdEf"
)


def test_the_program_manages_no_secret_version(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()

    assert engine.of_type("aws:secretsmanager/secretVersion:SecretVersion") == []


def test_the_first_key_step_invokes_the_rotation_function_once_on_creation(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()

    first_key = engine.one("aws:lambda/invocation:Invocation", "credrot-support-bot-first-key")
    function = engine.one("aws:lambda/function:Function", "credrot-support-bot-rotator")
    policy = engine.one("aws:iam/rolePolicy:RolePolicy", "credrot-support-bot-rotation-policy")
    assert first_key.inputs["functionName"] == "credrot-support-bot-rotator"
    assert json.loads(first_key.inputs["input"]) == provision_event(SECRET_ARN)
    assert first_key.inputs["lifecycleScope"] == "CREATE_ONLY"
    assert policy.urn in first_key.explicit_dependencies
    assert function.urn in first_key.dependencies


def test_rotation_is_enabled_after_the_first_key_and_never_rotates_on_a_rule_change(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()

    rotation = engine.one(
        "aws:secretsmanager/secretRotation:SecretRotation", "credrot-support-bot-rotation"
    )
    first_key = engine.one("aws:lambda/invocation:Invocation", "credrot-support-bot-first-key")
    assert rotation.inputs["rotateImmediately"] is False
    assert first_key.urn in rotation.explicit_dependencies


def test_no_resource_needs_ignore_changes(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()

    assert [r.name for r in engine.registered() if r.ignore_changes] == []


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


def test_the_user_is_bound_to_its_one_secret_and_the_function_to_the_same(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()

    user = engine.one("aws:iam/user:User", "credrot-support-bot-user")
    function = engine.one("aws:lambda/function:Function", "credrot-support-bot-rotator")
    assert user.inputs["tags"][USER_SECRET_TAG] == SECRET_ARN
    assert function.inputs["environment"]["variables"]["SECRET_ARN"] == SECRET_ARN


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
