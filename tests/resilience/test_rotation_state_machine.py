"""Random interleavings of everything that happens to a rotated key, with the invariants
checked after every action (hypothesis.stateful, moto in-process via credrot.sandbox.aws).

Actions: whole rotations; rotations abandoned after 0-3 steps; the next step, a repeated
step and Secrets Manager's retry of the whole rotation (same token); credrot's ``unstick``;
the sweep with zero or a large grace; time passing (1 h or a day); keys made by hand, Active
or Inactive, at any moment (also while a rotation is pending), and the operator deleting or
deactivating them (and deleting a retired previous key, which makes room for them).

An Active key made by hand must make createSecret refuse, naming it, with nothing changed;
the machine then has the operator fix it. A rotation that needs the room of a previous key
still inside its grace must refuse, naming it, with nothing changed; time then passes.
Across every action: no unproven deletion, grace measured from the finish, and the sweep
always leaves a working key (credrot.sandbox.aws, invariants 6-8).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from credrot.app.secret import CURRENT, PENDING
from credrot.sandbox.aws import (
    LARGE_GRACE_HOURS,
    ROTATION_GRACE_HOURS,
    STEPS,
    ZERO_GRACE_HOURS,
    Sandbox,
    Snapshot,
    Target,
)
from rotation_lambda.errors import KeyInGraceError, UnknownKeyError

# After a refusal: the operator deletes or deactivates the key (or time passes, for a key in
# its grace) and the rotation is retried at once, or nobody acts yet.
FIXES = st.sampled_from([None, "delete", "deactivate"])
# Where each run begins, and what it must reach (strays need a free key slot, which random
# actions rarely make: starting with one makes refusals and their fixes certain to occur).
STARTS = {
    "first key only": ("a rotation completed", "unstick"),
    "current and previous keys": (
        "a rotation completed",
        "createSecret refused a previous key inside its grace",
    ),
    "an Active key made by hand": (
        "createSecret refused an Active key made by hand",
        "a rotation completed",
    ),
    "an Inactive key made by hand": (
        "the rotation deleted an Inactive key made by hand",
        "a rotation completed",
    ),
}
MACHINE_SETTINGS = settings(
    max_examples=6,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class RotatedKeyMachine(RuleBasedStateMachine):
    """One consumer per example; the model: the pending rotation and the keys made by hand."""

    sandbox: Sandbox  # set by the test
    start: str  # one of STARTS (set by the test)
    seen: Counter[str]  # situations reached, over all examples (set by the test)

    def __init__(self) -> None:
        super().__init__()
        self.sandbox.fresh_handler_session()
        self.sandbox.reset_output()
        self.target: Target = self.sandbox.new_target("machine")
        self.current_token = self.target.rotate()  # the component rotates at deploy
        self.token: str | None = None  # the pending rotation's token
        self.steps_done = 0
        self.just_rotated = True
        self.by_hand: dict[str, bool] = {}  # key id -> Active
        self.state: Snapshot = self.target.snapshot()
        if self.start == "current and previous keys":
            self.current_token = self.target.rotate()
        elif self.start.endswith("made by hand"):
            self.operator_makes_a_key_by_hand(active=self.start.startswith("an Active"))
        self._settle()

    # -- helpers --------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        return self.token is None

    def _reached(self, situation: str) -> None:
        self.seen[situation] += 1
        event(situation)

    def _active_by_hand(self) -> set[str]:
        return {key_id for key_id, active in self.by_hand.items() if active}

    def _advance(self, steps: int) -> bool:
        """Run up to ``steps`` more steps of the pending rotation; False at a refusal."""
        assert self.token is not None
        for step in STEPS[self.steps_done : self.steps_done + steps]:
            # A refusal is expected only from createSecret with an Active key made by hand.
            refusable = step == "createSecret" and bool(self._active_by_hand())
            before = self.target.snapshot() if step == "createSecret" else None
            try:
                self.target.run_step(step, self.token)
            except UnknownKeyError as refusal:
                assert step == "createSecret"
                assert refusable, f"refused with no Active key made by hand: {refusal}"
                assert set(refusal.key_ids) == self._active_by_hand(), refusal.key_ids
                assert self.target.snapshot() == before, "a refused createSecret changed state"
                self._reached("createSecret refused an Active key made by hand")
                return False
            except KeyInGraceError as refusal:
                assert step == "createSecret" and before is not None
                assert not self._active_by_hand(), "an unknown key must be refused first"
                assert list(refusal.key_ids) == [before.key_in("AWSPREVIOUS")], refusal.key_ids
                assert before.keys.get(refusal.key_ids[0]) == "Active"
                assert self.target.snapshot() == before, "a refused createSecret changed state"
                self._reached("createSecret refused a previous key inside its grace")
                return False
            if step == "createSecret":
                assert not self._active_by_hand(), "rotated despite an Active key made by hand"
            self.steps_done += 1
        if self.steps_done == len(STEPS):
            self.current_token, self.token, self.steps_done = self.token, None, 0
            self.just_rotated = True
            self._reached("a rotation completed")
        return True

    def _fix_and_retry(self, fix: str | None) -> None:
        """After a refusal: the operator fixes every Active key made by hand (``fix``) and
        the grace runs out, then Secrets Manager retries the rotation with the same token.
        None: nobody acts yet."""
        if fix is None:
            return
        for key_id in sorted(self._active_by_hand()):
            self._fix(key_id, fix)
        self.target.let_grace_pass()
        self.steps_done = 0
        assert self._advance(len(STEPS)), "refused again after the operator's fix"

    def _settle(self) -> None:
        """Refresh the model; the rotation may delete Inactive keys made by hand, never
        Active ones. (The lifecycle invariants are checked around every invocation.)"""
        self.state = self.target.snapshot()
        for key_id, active in list(self.by_hand.items()):
            if key_id not in self.state.keys:
                assert not active, f"Active key {key_id} made by hand was deleted"
                del self.by_hand[key_id]
                self._reached("the rotation deleted an Inactive key made by hand")

    # -- rotations ------------------------------------------------------------------------

    @precondition(lambda self: self.idle)
    @rule(fix=FIXES)
    def rotate(self, fix: str | None) -> None:
        self.token, self.steps_done = self.target.stage_rotation(), 0
        if not self._advance(len(STEPS)):
            self._fix_and_retry(fix)
        self._settle()

    @precondition(lambda self: self.idle)
    @rule(steps=st.integers(min_value=0, max_value=len(STEPS) - 1))
    def start_a_rotation_that_is_abandoned(self, steps: int) -> None:
        self.token, self.steps_done = self.target.stage_rotation(), 0
        self._advance(steps)
        self._settle()

    @precondition(lambda self: not self.idle)
    @rule()
    def run_the_next_step(self) -> None:
        self._advance(1)
        self._settle()

    @precondition(lambda self: not self.idle)
    @rule(fix=FIXES)
    def secrets_manager_retries_the_whole_rotation(self, fix: str | None) -> None:
        self.steps_done = 0
        if not self._advance(len(STEPS)):
            self._fix_and_retry(fix)
        self._settle()

    @precondition(lambda self: self.idle or self.steps_done > 0)
    @rule(data=st.data())
    def repeat_a_step_that_already_ran(self, data: st.DataObject) -> None:
        if self.idle:
            token, step = self.current_token, data.draw(st.sampled_from(STEPS))
        else:
            assert self.token is not None
            token, step = self.token, data.draw(st.sampled_from(STEPS[: self.steps_done]))
        before = self.target.snapshot()
        self.target.run_step(step, token)
        assert self.target.snapshot() == before, f"repeating {step} changed state"

    @precondition(lambda self: not self.idle)
    @rule()
    def operator_unsticks(self) -> None:
        result = self.target.unstick()
        assert result is not None and result.version_id == self.token
        self._reached("unstick")
        self._reached(f"unstick after {self.steps_done} step(s)")
        self.token, self.steps_done, self.just_rotated = None, 0, False
        self._settle()

    # -- the sweep --------------------------------------------------------------------------

    @rule(grace_hours=st.sampled_from([ZERO_GRACE_HOURS, LARGE_GRACE_HOURS]))
    def sweep(self, grace_hours: float) -> None:
        before = self.target.snapshot()
        self.target.sweep(grace_hours)
        after = self.target.snapshot()
        # The model: with the grace over, every Active key that only versions neither
        # current nor pending record goes Inactive, if AWSCURRENT's key is Active.
        current = before.key_in(CURRENT)
        expected = dict(before.keys)
        if grace_hours == ZERO_GRACE_HOURS and before.keys.get(current or "") == "Active":
            live = self._live_keys(before)
            for version in before.versions.values():
                key_id = version.key_id
                if key_id and key_id not in live and expected.get(key_id) == "Active":
                    expected[key_id] = "Inactive"
        assert after.keys == expected
        assert after.versions == before.versions
        self._settle()

    @staticmethod
    def _live_keys(state: Snapshot) -> set[str]:
        return {
            v.key_id
            for v in state.versions.values()
            if v.key_id and {CURRENT, PENDING} & set(v.stages)
        }

    @rule(hours=st.sampled_from([1.0, ROTATION_GRACE_HOURS + 0.01]))
    def time_passes(self, hours: float) -> None:
        self.sandbox.advance(hours)
        self._reached("time passed")

    # -- keys made by hand --------------------------------------------------------------------

    @precondition(lambda self: len(self.state.keys) < 2)
    @rule(active=st.booleans())
    def operator_makes_a_key_by_hand(self, active: bool) -> None:
        key_id = self.target.create_key_by_hand(active=active)
        self.by_hand[key_id] = active
        self._reached(f"made an {'Active' if active else 'Inactive'} key by hand")
        self._settle()

    @precondition(lambda self: any(self.by_hand.values()))
    @rule(data=st.data(), fix=st.sampled_from(["delete", "deactivate"]))
    def operator_fixes_a_key_made_by_hand(self, data: st.DataObject, fix: str) -> None:
        self._fix(data.draw(st.sampled_from(sorted(self._active_by_hand()))), fix)
        self._settle()

    def _fix(self, key_id: str, fix: str) -> None:
        """What the refusal's message tells the operator: deactivate or delete the key."""
        if fix == "delete":
            self.target.delete_key_by_hand(key_id)
            del self.by_hand[key_id]
        else:
            self.target.set_key_status_by_hand(key_id, "Inactive")
            self.by_hand[key_id] = False
        self._reached(f"operator {fix}d an Active key made by hand")

    @precondition(
        lambda self: (
            self.idle
            and self.state.key_in("AWSPREVIOUS") in self.state.keys
            and self.state.key_in("AWSPREVIOUS") != self.state.key_in(CURRENT)
        )
    )
    @rule()
    def operator_deletes_the_retired_previous_key(self) -> None:
        previous = self.state.key_in("AWSPREVIOUS")
        assert previous is not None
        self.target.delete_key_by_hand(previous)
        self._settle()

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def the_invariants_hold(self) -> None:
        # Every rule ends by settling (or proves nothing changed): self.state is current.
        violations = self.target.violations(
            rotation_in_progress=not self.idle,
            just_rotated=self.idle and self.just_rotated,
            keys_made_by_hand=frozenset(self.by_hand),
            state=self.state,
        )
        assert violations == [], violations

    @invariant()
    def no_propagation_wait_was_needed(self) -> None:
        assert self.sandbox.sleeps == []


@pytest.mark.parametrize("start", STARTS)
def test_random_interleavings_keep_the_invariants_starting_from(
    sandbox: Sandbox, start: str
) -> None:
    RotatedKeyMachine.sandbox = sandbox
    RotatedKeyMachine.start = start
    RotatedKeyMachine.seen = Counter()

    run_state_machine_as_test(RotatedKeyMachine, settings=MACHINE_SETTINGS)

    # Derandomized, so the same interleavings every run: they must keep reaching these.
    reached = RotatedKeyMachine.seen
    for situation in STARTS[start]:
        assert reached[situation] > 0, f"never reached: {situation} ({dict(reached)})"
