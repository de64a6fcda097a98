"""What keeps `pulumi up` from undoing rotations, and the key out of Pulumi state."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from components.rotated_access_key import BOOTSTRAP_STAGE

SECRET_ARN = (
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:credrot-support-bot-secret-AbCdEf"
)


def test_the_bootstrap_version_names_the_user_and_holds_no_key(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    (bootstrap,) = engine.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    is_secret, value = bootstrap.secret("secretString")
    assert is_secret
    assert json.loads(value) == {"UserName": "credrot-support-bot-user"}
    assert bootstrap.inputs["secretId"] == SECRET_ARN


def test_the_bootstrap_version_keeps_a_custom_label_besides_awscurrent(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    bootstrap = engine.one(
        "aws:secretsmanager/secretVersion:SecretVersion", "credrot-support-bot-bootstrap"
    )
    assert BOOTSTRAP_STAGE == "BOOTSTRAP"
    assert bootstrap.inputs["versionStages"] == ["AWSCURRENT", BOOTSTRAP_STAGE]


def test_rotations_moving_labels_and_values_are_ignored_by_pulumi(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    bootstrap = engine.one(
        "aws:secretsmanager/secretVersion:SecretVersion", "credrot-support-bot-bootstrap"
    )
    assert bootstrap.ignore_changes == ("secretString", "versionStages")
    others = [r.name for r in engine.registered() if r.ignore_changes and r.name != bootstrap.name]
    assert others == []


def test_pulumi_never_creates_or_sees_an_access_key(
    engine: Any, deploy: Callable[..., dict[str, Any]]
) -> None:
    deploy()
    assert engine.of_type("aws:iam/accessKey:AccessKey") == []
    for resource in engine.registered():
        assert "SecretAccessKey" not in json.dumps(resource.inputs, default=str), resource.name


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
