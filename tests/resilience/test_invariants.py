"""The invariant checks of credrot.sandbox.aws catch what they claim to: a checker that never fails
would make the fault matrix and the state machine prove nothing."""

from __future__ import annotations

import json

from credrot.app.secret import CURRENT, PENDING
from credrot.sandbox.aws import Sandbox


def names(violations: list[tuple[str, str]]) -> set[str]:
    return {name for name, _ in violations}


def messages(violations: list[tuple[str, str]], name: str) -> list[str]:
    return [message for found, message in violations if found == name]


def rotated_once(sandbox: Sandbox):
    """A new target after one rotation, and the value its AWSCURRENT version holds."""
    target = sandbox.new_target()
    target.rotate()
    current = target.value(stage=CURRENT)
    assert current is not None
    return target, current


def test_a_healthy_consumer_after_two_rotations_violates_nothing(sandbox: Sandbox) -> None:
    target = sandbox.new_target()
    target.rotate()
    target.rotate()

    assert target.violations(rotation_in_progress=False, just_rotated=True) == []


def test_an_active_key_that_no_version_records_is_caught(sandbox: Sandbox) -> None:
    target = sandbox.new_target()
    target.rotate()
    stray = target.create_key_by_hand()

    assert "active-keys-recorded" in names(target.violations(rotation_in_progress=False))
    assert target.violations(rotation_in_progress=False, keys_made_by_hand=frozenset({stray})) == []


def test_a_current_key_that_no_longer_works_is_caught(sandbox: Sandbox) -> None:
    target, current = rotated_once(sandbox)
    target.set_key_status_by_hand(current["AccessKeyId"], "Inactive")

    assert "current-authenticates" in names(target.violations(rotation_in_progress=False))


def test_a_deleted_current_key_is_caught_although_moto_accepts_any_secret(
    sandbox: Sandbox,
) -> None:
    target, current = rotated_once(sandbox)
    target.delete_key_by_hand(current["AccessKeyId"])

    found = messages(target.violations(rotation_in_progress=False), "current-authenticates")
    assert any("deleted" in message for message in found)
    assert any("user/moto" in message for message in found)  # STS answered for nobody


def test_an_awspending_label_left_without_a_rotation_is_caught(sandbox: Sandbox) -> None:
    target = sandbox.new_target()
    target.rotate()
    target.stage_rotation()

    assert "no-pending-left" not in names(target.violations(rotation_in_progress=True))
    assert "no-pending-left" in names(target.violations(rotation_in_progress=False))


def test_more_than_two_keys_after_a_rotation_means_a_key_outside_current_and_previous(
    sandbox: Sandbox,
) -> None:
    target = sandbox.new_target()
    target.rotate()
    token = target.stage_rotation()
    target.run_step("createSecret", token)
    target.unstick()  # the abandoned version still records its key

    assert target.violations(rotation_in_progress=False) == []
    found = names(target.violations(rotation_in_progress=False, just_rotated=True))
    assert found == {"active-keys-recorded"}
    pending = target.snapshot().version_with(PENDING)
    assert pending is None


def test_a_minted_secret_in_the_handlers_output_is_caught_without_printing_it(
    sandbox: Sandbox,
) -> None:
    # Last in this module on purpose: a leak stays counted for the sandbox's lifetime.
    target, current = rotated_once(sandbox)
    secret = current["SecretAccessKey"]
    sandbox.output.chunks.append(json.dumps({"oops": secret}))

    found = messages(target.violations(rotation_in_progress=False), "no-secret-in-output")
    assert found
    assert secret not in " ".join(found)
