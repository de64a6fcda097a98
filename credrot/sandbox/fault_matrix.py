"""The fault-injection matrix: every AWS call the rotation handler makes, failed four ways.

Run whole by ``bench/faults.py`` (once per deployment mode of the function, see
``credrot.sandbox.aws.MODES``), and its fast subset by ``tests/resilience``.

1. Discovery: a clean rotation of a consumer whose previous key is still Active (the case
   that needs the most calls: createSecret reads AWSPREVIOUS and deletes a key) and then the
   RetirePreviousKey sweep with zero grace are recorded with a ``CallCounter`` on the
   handler's session. Every (phase, operation, n-th call in that phase) is a call site;
   nothing is hard-coded.
2. For each call site and fault kind (``FAULT_KINDS``, see ``FaultInjector.arm``), a fresh
   consumer in the same state rotates and the fault hits that call for every attempt
   botocore makes (its standard retries exhausted, backoff made instant).
3. Then Secrets Manager's retry semantics play out, each in its own run (the fault is gone):
   ``retry-step`` (the failed step again, then the rest), ``retry-rotation`` (the whole
   rotation with the same token), ``unstick-fresh-token`` (credrot's ``unstick``, then a new
   rotation). A fault the handler absorbs needs no recovery and runs once. The sweep is
   recovered by its next scheduled run.
4. The invariants of ``credrot.sandbox.aws`` must hold after every run (and the ones that
   must hold at every moment, right after the fault too), across every invocation (no
   unproven deletion, grace measured from the finish, the sweep leaves a working key), the
   rotation must have completed (the sweep: the previous key must be Inactive), and the
   fault must actually have fired.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from credrot.app.secret import CURRENT, PREVIOUS
from credrot.sandbox.aws import (
    FAULT_KINDS,
    ROTATION_GRACE_HOURS,
    STEPS,
    SWEEP,
    CallCounter,
    FaultInjector,
    Sandbox,
    Target,
)

RECOVERIES = ("retry-step", "retry-rotation", "unstick-fresh-token")
SWEEP_RECOVERY = "next-sweep"
ABSORBED = "absorbed"
# Invariants that must hold at every moment, even mid-rotation right after a fault.
ALWAYS = ("current-authenticates", "at-most-two-keys", "no-secret-in-output")


@dataclass(frozen=True, order=True)
class CallSite:
    """The n-th call of one operation within one phase (a rotation step or the sweep)."""

    phase: str
    operation: str  # "<service-id>.<Operation>", e.g. "iam.CreateAccessKey"
    occurrence: int

    def __str__(self) -> str:
        return f"{self.phase} {self.operation}#{self.occurrence}"


@dataclass(frozen=True)
class Case:
    """One injected fault and the recovery that follows it."""

    site: CallSite
    kind: str
    recovery: str

    def __str__(self) -> str:
        return f"{self.site} {self.kind} -> {self.recovery}"


@dataclass
class CaseResult:
    """What happened: did the fault fire, fail the step, and was everything fine after?"""

    case: Case
    attempts: int = 0  # attempts the fault answered (botocore's retries included)
    step_error: str | None = None  # what the faulted phase raised; None: absorbed
    recovery_error: str | None = None
    violations_after_fault: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def absorbed(self) -> bool:
        """The handler (with botocore's retries) survived the fault without failing."""
        return self.attempts > 0 and self.step_error is None

    @property
    def survived(self) -> bool:
        """The fault fired, recovery completed and every invariant held."""
        return (
            self.attempts > 0
            and self.recovery_error is None
            and not self.violations
            and not self.violations_after_fault
        )

    def problems(self) -> list[str]:
        """Why the case did not survive (empty if it did)."""
        found = []
        if self.attempts == 0:
            found.append("the fault never fired (call site not reached)")
        if self.recovery_error:
            found.append(f"recovery failed: {self.recovery_error}")
        found += [f"right after the fault: {v}" for v in self.violations_after_fault]
        found += self.violations
        return found


# -- the scenario ----------------------------------------------------------------------------


def prepared_target(sandbox: Sandbox) -> Target:
    """A consumer after two rotations: AWSCURRENT and AWSPREVIOUS keys, both Active, the
    previous one past its grace (so the next rotation deletes it to make room)."""
    target = sandbox.new_target("fault")
    target.rotate()
    target.rotate()
    target.let_grace_pass()
    return target


def discover_call_sites(sandbox: Sandbox) -> list[CallSite]:
    """Every call the handler makes in a clean rotation of a prepared consumer, then in the
    sweep with zero grace (which then retires the previous key)."""
    counter = CallCounter(sandbox.fresh_handler_session())
    target = prepared_target(sandbox)
    counter.reset()
    token = target.stage_rotation()
    for step in STEPS:
        counter.label = step
        target.run_step(step, token)
    counter.label = SWEEP
    target.sweep()
    return call_sites(counter.log)


def call_sites(log: Iterable[tuple[str, str]]) -> list[CallSite]:
    """Each (phase, operation) call in ``log`` as a call site (its n-th in the phase)."""
    seen: Counter[tuple[str, str]] = Counter()
    found = []
    for phase, operation in log:
        seen[phase, operation] += 1
        found.append(CallSite(phase, operation, seen[phase, operation]))
    return found


def build_cases(
    sites: Sequence[CallSite],
    kinds: Sequence[str] = FAULT_KINDS,
    recoveries: Sequence[str] = RECOVERIES,
) -> list[Case]:
    """Every site x kind x recovery (the sweep has one recovery: its next run)."""
    return [
        Case(site, kind, recovery)
        for site in sites
        for kind in kinds
        for recovery in ((SWEEP_RECOVERY,) if site.phase == SWEEP else recoveries)
    ]


def quick_cases(sites: Sequence[CallSite]) -> list[Case]:
    """A fast subset: every site, one fault kind per site (cycling through the kinds), and
    every recovery for that fault."""
    return [
        case
        for index, site in enumerate(sites)
        for case in build_cases([site], kinds=[FAULT_KINDS[index % len(FAULT_KINDS)]])
    ]


def run_case(sandbox: Sandbox, case: Case) -> CaseResult:
    """Inject one fault into a fresh prepared consumer, recover, check the invariants."""
    started = time.perf_counter()
    result = CaseResult(case)
    injector = FaultInjector(sandbox.fresh_handler_session())
    target = prepared_target(sandbox)
    sweep = case.site.phase == SWEEP
    token = None if sweep else target.stage_rotation()
    index = 0 if sweep else STEPS.index(case.site.phase)
    if token is not None:
        target.run_steps(token, STEPS[:index])

    injector.arm(case.site.operation, case.kind, case.site.occurrence)
    try:
        if sweep:
            target.sweep()
        else:
            assert token is not None
            target.run_step(case.site.phase, token)
    except Exception as error:  # noqa: BLE001 - the fault under test, reported in the result
        result.step_error = describe(error)
    finally:
        injector.disarm()
    result.attempts = injector.attempts
    result.violations_after_fault = [
        message
        for name, message in target.violations(rotation_in_progress=not sweep)
        if name in ALWAYS
    ]

    try:
        final_token = _recover(target, case, token, index, failed=result.step_error is not None)
    except Exception as error:  # noqa: BLE001 - a failed recovery, reported in the result
        result.recovery_error = describe(error)
        result.violations = [m for _, m in target.violations(rotation_in_progress=True)]
    else:
        result.violations = [
            message
            for _, message in target.violations(rotation_in_progress=False, just_rotated=True)
        ]
        state = target.snapshot()
        if sweep:
            previous = state.key_in(PREVIOUS)
            if previous and state.keys.get(previous) == "Active":
                result.violations.append(f"the previous key {previous} is still Active")
        elif state.version_with(CURRENT) != final_token:
            result.violations.append("the rotation did not complete: AWSCURRENT did not move")
    result.seconds = time.perf_counter() - started
    return result


def _recover(
    target: Target, case: Case, token: str | None, index: int, *, failed: bool
) -> str | None:
    """Let the retry semantics play out; return the token that must end up AWSCURRENT."""
    if case.site.phase == SWEEP:
        if failed:
            target.sweep()  # the next scheduled run
        return None
    assert token is not None
    if not failed:
        target.run_steps(token, STEPS[index + 1 :])
        return token
    if case.recovery == "retry-step":
        target.run_steps(token, STEPS[index:])
        return token
    if case.recovery == "retry-rotation":
        target.run_steps(token, STEPS)
        return token
    target.unstick()
    if target.snapshot().version_with(CURRENT) == token:
        # The fault hit after AWSCURRENT moved: that rotation is done, and a new one right
        # away is refused (its previous key is inside its grace). The next one comes when
        # the schedule says: after the hourly sweep (which records the finish time if the
        # failed step could not) and the grace.
        target.sweep(ROTATION_GRACE_HOURS)
        target.let_grace_pass()
    return target.rotate()


def describe(error: BaseException) -> str:
    """An exception as "Type: code or message" (first line, bounded)."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    lines = str(error).splitlines()
    text = code or (lines[0] if lines else "")
    return f"{type(error).__name__}: {text}"[:300]


def run_matrix(
    cases: Iterable[Case],
    sandbox: Sandbox,
    progress: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Run every case; a case whose fault the handler absorbs runs for one recovery only
    (the others would repeat it exactly)."""
    results = []
    absorbed: set[tuple[CallSite, str]] = set()
    for case in cases:
        if (case.site, case.kind) in absorbed:
            continue
        result = run_case(sandbox, case)
        if result.absorbed:
            result.case = Case(case.site, case.kind, ABSORBED)
            absorbed.add((case.site, case.kind))
        results.append(result)
        if progress is not None:
            progress(result)
    return results
