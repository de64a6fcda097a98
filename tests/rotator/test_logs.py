"""Logs: one JSON line per decision, and never any secret material."""

from __future__ import annotations

import json
import logging

import boto3
import pytest
from botocore.exceptions import ClientError

from rotation_lambda.errors import (
    KeyTestError,
    RotationError,
    SecretValueError,
    UnknownKeyError,
)
from rotation_lambda.logs import LOGGER_NAME


def decisions(caplog):
    """The function's log records, parsed (each must be one JSON object)."""
    lines = [record for record in caplog.records if record.name == LOGGER_NAME]
    return [json.loads(record.getMessage()) for record in lines]


def test_each_step_logs_its_decisions_as_json_lines(deployment, caplog):
    deployment.rotate_fully()
    deployment.rotate_fully()
    deployment.let_grace_pass()
    token = deployment.stage_rotation()
    caplog.clear()

    deployment.run_steps(token)

    logged = decisions(caplog)
    assert [f"{line['step']} {line['decision']} {line['outcome']}" for line in logged] == [
        "createSecret delete-key done",
        "createSecret create-key done",
        "setSecret nothing-to-set no-op",
        "testSecret test-key passed",
        "finishSecret promote-pending-version done",
        "finishSecret record-current-since done",
        "finishSecret remove-pending-label done",
    ]
    for line in logged:
        assert line["secret"] == deployment.secret_arn
        assert line["token"] == token
    assert logged[0]["reason"] == "previous"
    assert logged[1]["key_ids"] == [deployment.value()["AccessKeyId"]]


def test_a_failure_is_logged_with_its_cause_then_re_raised(deployment, faults, caplog):
    token = deployment.stage_rotation()
    faults.fail("iam.CreateAccessKey", code="LimitExceeded", status=409)

    with pytest.raises(ClientError):
        deployment.run("createSecret", token)

    (failure,) = decisions(caplog)
    assert failure == {
        "step": "createSecret",
        "secret": deployment.secret_name,
        "token": token,
        "decision": "fail",
        "outcome": "error",
        "error": "LimitExceeded",
        "message": "injected LimitExceeded",
    }
    assert caplog.records[-1].levelno == logging.ERROR


def test_log_level_comes_from_the_environment(deployment, caplog, monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "warning")

    deployment.rotate_fully()

    assert decisions(caplog) == []


def test_no_secret_access_key_ever_reaches_logs_output_or_errors(
    deployment, faults, auth_failures, caplog, capsys, monkeypatch
):
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    caplog.set_level(logging.INFO)
    errors: list[BaseException] = []
    minted: list[str] = []
    boto3.DEFAULT_SESSION.events.register(
        "after-call.iam.CreateAccessKey",
        lambda parsed, **_: minted.append(parsed["AccessKey"]["SecretAccessKey"]),
    )

    def attempt(action, *args):
        try:
            action(*args)
        except (RotationError, ClientError) as error:
            errors.append(error)

    deployment.rotate_fully()
    # A put failure with its cleanup.
    token = deployment.stage_rotation()
    faults.fail("secrets-manager.PutSecretValue", code="InternalServiceError", status=500)
    attempt(deployment.run, "createSecret", token)
    deployment.run_steps(token)
    # Propagation retries, then a dead key.
    deployment.let_grace_pass()
    token = deployment.stage_rotation()
    deployment.run("createSecret", token)
    auth_failures(2)
    deployment.run("testSecret", token)
    dead = deployment.value("AWSPENDING")
    deployment.iam.delete_access_key(UserName=deployment.user_name, AccessKeyId=dead["AccessKeyId"])
    attempt(deployment.run, "testSecret", token)
    # An unknown key, then a bad value.
    deployment.sm.update_secret_version_stage(
        SecretId=deployment.secret_name, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )
    current = deployment.value()
    stray = deployment.iam.create_access_key(UserName=deployment.user_name)["AccessKey"]
    attempt(deployment.run, "createSecret", deployment.stage_rotation())
    deployment.replace_current_value(SecretString="not json " + current["SecretAccessKey"])
    attempt(deployment.run, "createSecret", deployment.stage_rotation())

    assert [type(error) for error in errors] == [
        ClientError,
        KeyTestError,
        UnknownKeyError,
        SecretValueError,
    ]
    secrets = {*minted, stray["SecretAccessKey"]}
    assert len(minted) == 4
    assert {current["SecretAccessKey"], dead["SecretAccessKey"]} <= secrets
    captured = capsys.readouterr()
    everything = caplog.text + captured.out + captured.err
    everything += "".join(f"{error!s}{error!r}" for error in errors)
    assert decisions(caplog)  # the logs did capture the function's lines
    for secret in secrets:
        assert secret not in everything
