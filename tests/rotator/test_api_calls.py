"""API calls per rotation, counted with botocore's before-call events (STS included)."""

from __future__ import annotations

from credrot.sandbox.aws import STEPS

# The same counts in both modes: the shared function reads its user from the tags that
# DescribeSecret (called anyway) returns, and checks the user's binding as isolated does.
BOTH_MODES = True


def count_rotation(deployment, call_counter):
    token = deployment.stage_rotation()
    for step in STEPS:
        call_counter.label = step
        deployment.run(step, token)
    return {step: dict(call_counter.calls[step]) for step in STEPS}


def test_a_steady_state_rotation_makes_seventeen_calls(deployment, call_counter):
    # Steady state: current key + previous key, the latter retired by the sweep.
    deployment.rotate_fully()
    deployment.rotate_fully()
    deployment.let_grace_pass()
    deployment.retire_previous_key()
    call_counter.calls.clear()

    calls = count_rotation(deployment, call_counter)

    assert calls == {
        "createSecret": {
            "secrets-manager.DescribeSecret": 1,
            "secrets-manager.GetSecretValue": 2,  # AWSPENDING (absent), AWSCURRENT
            "iam.ListUserTags": 1,  # the user is bound to this secret
            "iam.ListAccessKeys": 1,
            "iam.DeleteAccessKey": 1,  # the Inactive previous key: no need to read AWSPREVIOUS
            "iam.CreateAccessKey": 1,
            "secrets-manager.PutSecretValue": 1,
        },
        "setSecret": {"secrets-manager.DescribeSecret": 1},
        "testSecret": {
            "secrets-manager.DescribeSecret": 1,
            "secrets-manager.GetSecretValue": 1,
            "sts.GetCallerIdentity": 1,
        },
        "finishSecret": {
            "secrets-manager.DescribeSecret": 1,
            # move AWSCURRENT, record the finish time, drop the old one's, remove AWSPENDING
            "secrets-manager.UpdateSecretVersionStage": 4,
        },
    }
    assert call_counter.total() == 17
    deployment.assert_healthy()


def test_an_active_previous_key_costs_one_more_read_to_prove_it_is_not_current(
    deployment, call_counter
):
    deployment.rotate_fully()
    deployment.rotate_fully()
    deployment.let_grace_pass()
    call_counter.calls.clear()

    calls = count_rotation(deployment, call_counter)

    assert calls["createSecret"]["secrets-manager.GetSecretValue"] == 3
    assert "secrets-manager.ListSecretVersionIds" not in calls["createSecret"]
    assert call_counter.total() == 18


def test_the_first_rotation_deletes_nothing_and_reads_no_more_evidence(deployment, call_counter):
    calls = count_rotation(deployment, call_counter)

    assert calls["createSecret"] == {
        "secrets-manager.DescribeSecret": 1,
        "secrets-manager.GetSecretValue": 2,
        "iam.ListUserTags": 1,
        "iam.ListAccessKeys": 1,
        "iam.CreateAccessKey": 1,
        "secrets-manager.PutSecretValue": 1,
    }
    # finishSecret: no older finish time to drop.
    assert calls["finishSecret"]["secrets-manager.UpdateSecretVersionStage"] == 3
    assert call_counter.total() == 15


def test_the_sweep_makes_one_call_during_the_grace_period(deployment, call_counter):
    deployment.rotate_fully()
    deployment.rotate_fully()
    call_counter.calls.clear()

    deployment.retire_previous_key()

    assert call_counter.calls[""] == {"secrets-manager.DescribeSecret": 1}


def test_the_sweep_after_retirement_makes_three_calls_an_hour(deployment, call_counter):
    deployment.rotate_fully()
    deployment.rotate_fully()
    deployment.let_grace_pass()
    deployment.retire_previous_key()
    call_counter.calls.clear()

    deployment.retire_previous_key()

    assert call_counter.calls[""] == {
        "secrets-manager.DescribeSecret": 1,
        "secrets-manager.GetSecretValue": 1,
        "iam.ListAccessKeys": 1,
    }


def test_old_versions_are_read_newest_first_and_only_until_every_key_is_explained(
    deployment, call_counter
):
    deployment.rotate_fully()
    for _ in range(2):  # two abandoned rotations, the second one's key still exists
        abandoned = deployment.stage_rotation()
        deployment.run("createSecret", abandoned)
        deployment.sm.update_secret_version_stage(
            SecretId=deployment.secret_name,
            VersionStage="AWSPENDING",
            RemoveFromVersionId=abandoned,
        )
    call_counter.calls.clear()

    calls = count_rotation(deployment, call_counter)

    # AWSPENDING, AWSCURRENT, AWSPREVIOUS, then the newest abandoned version only.
    assert calls["createSecret"]["secrets-manager.GetSecretValue"] == 4
    assert calls["createSecret"]["secrets-manager.ListSecretVersionIds"] == 1
    deployment.assert_healthy()
