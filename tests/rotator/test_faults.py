"""AWS failures on every call of every step: the step fails, nothing leaks, a retry recovers.

The scenario is a rotation whose previous key is still Active but past its grace, so
createSecret needs every piece of evidence it can read cheaply (AWSPREVIOUS) and deletes a key
to make room.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from credrot.sandbox.aws import STEPS
from rotation_lambda.clients import CLIENT_CONFIG

# The lifecycle invariants hold in both of the function's modes (see conftest's `mode`).
BOTH_MODES = True

# (step, "service-id.Operation", n-th call of that operation within the step)
CALLS = [
    ("createSecret", "secrets-manager.DescribeSecret", 1),
    ("createSecret", "secrets-manager.GetSecretValue", 1),  # AWSPENDING (absent)
    ("createSecret", "secrets-manager.GetSecretValue", 2),  # AWSCURRENT
    ("createSecret", "iam.ListUserTags", 1),
    ("createSecret", "iam.ListAccessKeys", 1),
    ("createSecret", "secrets-manager.GetSecretValue", 3),  # AWSPREVIOUS
    ("createSecret", "iam.DeleteAccessKey", 1),
    ("createSecret", "iam.CreateAccessKey", 1),
    ("createSecret", "secrets-manager.PutSecretValue", 1),
    ("setSecret", "secrets-manager.DescribeSecret", 1),
    ("testSecret", "secrets-manager.DescribeSecret", 1),
    ("testSecret", "secrets-manager.GetSecretValue", 1),
    ("testSecret", "sts.GetCallerIdentity", 1),
    ("finishSecret", "secrets-manager.DescribeSecret", 1),
    ("finishSecret", "secrets-manager.UpdateSecretVersionStage", 1),  # move AWSCURRENT
    ("finishSecret", "secrets-manager.UpdateSecretVersionStage", 2),  # record the finish time
    ("finishSecret", "secrets-manager.UpdateSecretVersionStage", 3),  # drop the old one's
    ("finishSecret", "secrets-manager.UpdateSecretVersionStage", 4),  # remove AWSPENDING
]
ERRORS = {
    # kind: {service-id: (code, HTTP status)}
    "throttling": {
        "secrets-manager": ("ThrottlingException", 400),
        "iam": ("Throttling", 400),
        "sts": ("Throttling", 400),
    },
    "server-error": {
        "secrets-manager": ("InternalServiceError", 500),
        "iam": ("ServiceFailure", 500),
        "sts": ("InternalFailure", 500),
    },
}


@pytest.fixture
def previous_key_still_active(deployment):
    deployment.rotate_fully()
    deployment.rotate_fully()
    deployment.let_grace_pass()
    return deployment


def test_the_fault_matrix_covers_every_call_of_the_rotation(
    previous_key_still_active, call_counter
):
    deployment = previous_key_still_active
    token = deployment.stage_rotation()
    for step in STEPS:
        call_counter.label = step
        deployment.run(step, token)

    made = {
        (step, operation, n)
        for step, counter in call_counter.calls.items()
        for operation, count in counter.items()
        for n in range(1, count + 1)
    }
    assert made == set(CALLS)


@pytest.mark.parametrize("kind", sorted(ERRORS))
@pytest.mark.parametrize(("step", "operation", "occurrence"), CALLS, ids=lambda v: str(v))
def test_a_failed_call_fails_its_step_leaks_nothing_and_a_retried_rotation_recovers(
    previous_key_still_active, faults, step, operation, occurrence, kind
):
    deployment = previous_key_still_active
    code, status = ERRORS[kind][operation.split(".")[0]]
    token = deployment.stage_rotation()
    deployment.run_steps(token, STEPS[: STEPS.index(step)])
    faults.fail(operation, code=code, status=status, occurrence=occurrence)

    with pytest.raises(ClientError) as error:
        deployment.run(step, token)

    assert error.value.response["Error"]["Code"] == code
    assert faults.injected == [operation]
    deployment.assert_nothing_leaked()
    # Secrets Manager retries the whole rotation with the same token.
    deployment.run_steps(token)
    assert deployment.version_with("AWSCURRENT") == token
    deployment.assert_healthy()


def test_clients_retry_throttling_and_server_errors_a_bounded_number_of_times():
    retries = CLIENT_CONFIG.retries
    assert retries["mode"] == "standard"
    # botocore rewrites "max_attempts" (retries) into "total_max_attempts" on first use.
    assert retries.get("total_max_attempts", retries.get("max_attempts", 0) + 1) == 4
    assert (CLIENT_CONFIG.connect_timeout, CLIENT_CONFIG.read_timeout) == (5, 10)


def test_transient_errors_are_absorbed_by_botocore_retries(deployment, faults, fake_clock):
    token = deployment.stage_rotation()
    faults.lose_responses(
        "secrets-manager.DescribeSecret", code="ThrottlingException", status=400, attempts=3
    )
    faults.lose_responses("sts.GetCallerIdentity", code="InternalFailure", status=500, attempts=3)

    deployment.run_steps(token)

    assert faults.injected.count("secrets-manager.DescribeSecret") == 3
    assert faults.injected.count("sts.GetCallerIdentity") == 3
    assert fake_clock.sleeps == []  # not mistaken for IAM propagation
    deployment.assert_healthy()
