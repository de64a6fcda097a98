"""The fault matrix (credrot.sandbox.fault_matrix), its fast subset: every call site, one
fault kind each.

The subset (``quick_cases``) injects at every call site the handler makes in a rotation and
in the sweep, cycling through the four fault kinds, and follows each fault with every
recovery: the step retried, the rotation retried with the same token, ``unstick`` and a
fresh token. ``python bench/faults.py`` runs every kind at every site.
"""

from __future__ import annotations

import pytest

from credrot.sandbox.aws import FAULT_KINDS, STEPS, SWEEP, FaultInjector, Sandbox
from credrot.sandbox.fault_matrix import (
    RECOVERIES,
    CallSite,
    Case,
    build_cases,
    discover_call_sites,
    prepared_target,
    quick_cases,
    run_case,
    run_matrix,
)

CREATE_KEY = CallSite("createSecret", "iam.CreateAccessKey", 1)
# botocore standard mode with the handler's CLIENT_CONFIG: 1 attempt + 3 retries.
EXPECTED_ATTEMPTS = 4


@pytest.fixture(scope="module")
def call_sites(sandbox: Sandbox) -> list[CallSite]:
    return discover_call_sites(sandbox)


def test_discovery_finds_the_calls_of_every_step_and_of_the_sweep(
    call_sites: list[CallSite],
) -> None:
    found = {(site.phase, site.operation) for site in call_sites}

    assert {site.phase for site in call_sites} == {*STEPS, SWEEP}
    for step in STEPS:
        assert (step, "secrets-manager.DescribeSecret") in found  # the guard
    assert {
        ("createSecret", "iam.ListAccessKeys"),
        ("createSecret", "iam.DeleteAccessKey"),
        ("createSecret", "iam.CreateAccessKey"),
        ("createSecret", "secrets-manager.PutSecretValue"),
        ("testSecret", "sts.GetCallerIdentity"),
        ("finishSecret", "secrets-manager.UpdateSecretVersionStage"),
        (SWEEP, "iam.UpdateAccessKey"),
    } <= found
    assert CallSite("createSecret", "secrets-manager.GetSecretValue", 3) in call_sites


def test_the_full_matrix_injects_at_least_forty_faults(call_sites: list[CallSite]) -> None:
    cases = build_cases(call_sites)

    assert len(cases) >= 40
    assert {case.kind for case in cases} == set(FAULT_KINDS)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_call_site_given_this_fault_kind_survives_every_recovery(
    sandbox: Sandbox, call_sites: list[CallSite], kind: str
) -> None:
    cases = [case for case in quick_cases(call_sites) if case.kind == kind]
    assert cases

    results = run_matrix(cases, sandbox)

    failed = [f"{result.case}: {result.problems()}" for result in results if not result.survived]
    assert not failed, "\n".join(failed)
    assert {result.attempts for result in results} == {EXPECTED_ATTEMPTS}


def test_a_throttled_create_access_key_is_retried_by_botocore_and_creates_no_key(
    sandbox: Sandbox,
) -> None:
    injector = FaultInjector(sandbox.fresh_handler_session())
    target = prepared_target(sandbox)
    token = target.stage_rotation()
    injector.arm(CREATE_KEY.operation, "throttling")

    with pytest.raises(Exception, match="Throttling"):
        target.run_step("createSecret", token)

    assert injector.attempts == EXPECTED_ATTEMPTS
    assert len(target.access_keys()) == 1  # the previous key made room; nothing was created


def test_a_key_whose_create_access_key_response_was_lost_is_deleted_by_the_failing_step(
    sandbox: Sandbox,
) -> None:
    injector = FaultInjector(sandbox.fresh_handler_session())
    target = prepared_target(sandbox)
    keys_before = set(target.access_keys())
    token = target.stage_rotation()
    injector.arm(CREATE_KEY.operation, "read-timeout")
    with pytest.raises(Exception, match="Read timeout"):
        target.run_step("createSecret", token)
    injector.disarm()
    # IAM made a key nobody saw the secret of; the step deleted it before failing.
    assert set(target.access_keys()) < keys_before

    target.run_steps(token)  # Secrets Manager retries with the same token

    assert target.violations(rotation_in_progress=False, just_rotated=True) == []


def test_after_unstick_a_fresh_rotation_recovers_from_a_lost_create_access_key_response(
    sandbox: Sandbox,
) -> None:
    result = run_case(sandbox, Case(CREATE_KEY, "read-timeout", "unstick-fresh-token"))

    assert result.survived, result.problems()


def test_every_recovery_is_exercised_for_rotation_sites_and_one_for_the_sweep(
    call_sites: list[CallSite],
) -> None:
    cases = quick_cases(call_sites)

    for site in call_sites:
        recoveries = {case.recovery for case in cases if case.site == site}
        assert recoveries == ({"next-sweep"} if site.phase == SWEEP else set(RECOVERIES))
