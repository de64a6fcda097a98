"""The fault-injection matrix: every AWS call the rotation handler makes, failed four ways.

Usage: ``python bench/faults.py [--quick] [--kinds KIND,...] [--modes MODE,...]``
(``make bench`` runs it whole). The whole matrix runs once per deployment mode of the
function (``bench.rig.MODES``): isolated (its own user and secret in its environment) and
shared (one function for the stack, finding each secret's user from the secret itself).

1. Discovery: a clean rotation of a consumer whose previous key is still Active (the case
   that needs the most calls: createSecret reads AWSPREVIOUS and deletes a key) and then the
   RetirePreviousKey sweep with zero grace are recorded with a ``before-call`` hook on the
   handler's session. Every (phase, operation, n-th call in that phase) is a call site;
   nothing is hard-coded.
2. For each call site and fault kind, a fresh consumer in the same state rotates and the
   fault hits that call for every attempt botocore makes (its standard retries exhausted,
   backoff made instant), through hooks on ``boto3.DEFAULT_SESSION.events``:
   - ``throttling``: ClientError ``Throttling`` (HTTP 400), answered before AWS acts;
   - ``server-error``: ClientError ``InternalServiceError`` (HTTP 500), before AWS acts;
   - ``connection-error``: EndpointConnectionError, the request never reaches AWS;
   - ``read-timeout``: ReadTimeoutError AFTER AWS performed the call: the response is lost
     (so a retried CreateAccessKey has already created a key, a retried
     UpdateSecretVersionStage has already moved the label).
3. Then Secrets Manager's retry semantics play out, each in its own run (the fault is gone):
   ``retry-step`` (the failed step again, then the rest), ``retry-rotation`` (the whole
   rotation with the same token), ``unstick-fresh-token`` (credrot's ``unstick``, then a new
   rotation). A fault the handler absorbs needs no recovery and runs once. The sweep is
   recovered by its next scheduled run.
4. The invariants of ``bench.rig`` must hold after every run (and the ones that must hold at
   every moment, right after the fault too), across every invocation (no unproven deletion,
   grace measured from the finish, the sweep leaves a working key), the rotation must have
   completed (the sweep: the previous key must be Inactive), and the fault must actually
   have fired.

One line per mode, ``<mode> function: faults injected: N, survived: M``, then the last
line printed, ``faults injected: N, survived: M``, over both; the exit status is 1 if M < N.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.dont_write_bytecode = True  # rotation_lambda/ is packaged: no __pycache__ in it

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterable, Iterator, Sequence  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError  # noqa: E402
from moto.core.models import botocore_stubber as _MOTO_STUBBER  # noqa: E402

from bench.common import Check, Table, write_results  # noqa: E402
from bench.rig import (  # noqa: E402
    CURRENT,
    MODES,
    PREVIOUS,
    ROTATION_GRACE_HOURS,
    STEPS,
    SWEEP,
    Sandbox,
    Target,
)

FAULT_KINDS = ("throttling", "server-error", "connection-error", "read-timeout")
RECOVERIES = ("retry-step", "retry-rotation", "unstick-fresh-token")
SWEEP_RECOVERY = "next-sweep"
ABSORBED = "absorbed"
# Invariants that must hold at every moment, even mid-rotation right after a fault.
ALWAYS = ("current-authenticates", "at-most-two-keys", "no-secret-in-output")
# botocore standard mode with the handler's CLIENT_CONFIG: 1 attempt + 3 retries.
EXPECTED_ATTEMPTS = 4


@dataclass(frozen=True, order=True)
class CallSite:
    """The n-th call of one operation within one phase (a rotation step or the sweep)."""

    phase: str
    operation: str  # "<service>.<Operation>", e.g. "iam.CreateAccessKey"
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


# -- observing and disturbing the handler's calls (botocore's event system) ----------------


def operation_name(model: Any) -> str:
    """ "<service>.<Operation>" for a botocore OperationModel."""
    return f"{model.service_model.service_name}.{model.name}"


class CallRecorder:
    """Records, in order, the operations the handler calls, labelled with the current phase."""

    def __init__(self, events: Any) -> None:
        self.phase = ""
        self.calls: list[tuple[str, str]] = []
        events.register("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append((self.phase, operation_name(model)))

    def sites(self) -> list[CallSite]:
        """Each call as a call site (phase, operation, n-th of that operation in the phase)."""
        seen: Counter[tuple[str, str]] = Counter()
        found = []
        for phase, operation in self.calls:
            seen[phase, operation] += 1
            found.append(CallSite(phase, operation, seen[phase, operation]))
        return found


class FaultInjector:
    """Fails every attempt of one call site with one fault kind while armed.

    ``before-call`` (once per API call) counts calls and marks the targeted one; the fault
    is injected on ``before-send`` (once per attempt), so botocore's retry logic runs.
    botocore calls every ``before-send`` handler, moto's included, even after one returned a
    response: for faults where AWS does nothing, the first handler answers and switches
    moto's stubber off for that attempt (the last handler switches it back on); for a read
    timeout, the last handler raises after moto has performed the call.
    """

    def __init__(self, events: Any) -> None:
        self.attempts = 0
        self._site: CallSite | None = None
        self._kind = ""
        self._calls: Counter[str] = Counter()
        self._targeted = False
        self._moto_silenced = False
        events.register("before-call.*.*", self._before_call)
        events.register_first("before-send", self._before_send_first)
        events.register_last("before-send", self._before_send_last)

    def arm(self, site: CallSite, kind: str) -> None:
        """Fail ``site`` (counting from now) with ``kind`` until disarmed."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind {kind!r}: use one of {', '.join(FAULT_KINDS)}")
        self._site, self._kind = site, kind
        self._calls.clear()
        self._targeted = False
        self.attempts = 0

    def disarm(self) -> None:
        self._site = None
        self._targeted = False

    def _before_call(self, model: Any, **_: Any) -> None:
        if self._site is None:
            return
        operation = operation_name(model)
        self._calls[operation] += 1
        self._targeted = (
            operation == self._site.operation and self._calls[operation] == self._site.occurrence
        )

    def _before_send_first(self, request: Any, **_: Any) -> AWSResponse | None:
        if not self._targeted or self._kind == "read-timeout":
            return None
        self.attempts += 1
        if self._kind == "connection-error":
            raise EndpointConnectionError(endpoint_url=request.url)
        assert self._site is not None
        code, status = {
            "throttling": ("Throttling", 400),
            "server-error": ("InternalServiceError", 500),
        }[self._kind]
        self._moto_silenced, _MOTO_STUBBER.enabled = _MOTO_STUBBER.enabled, False
        return error_response(request, code, status)

    def _before_send_last(self, request: Any, **_: Any) -> None:
        if self._moto_silenced:
            _MOTO_STUBBER.enabled, self._moto_silenced = True, False
        if self._targeted and self._kind == "read-timeout":
            self.attempts += 1
            raise ReadTimeoutError(endpoint_url=request.url)


def error_response(request: Any, code: str, status: int) -> AWSResponse:
    """An AWS error response for ``request``, in its protocol (JSON, or query XML)."""
    if "json" in str(request.headers.get("Content-Type", "")):
        body = json.dumps({"__type": code, "message": f"injected {code}"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "fault"}
    else:
        body = (
            f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code>"
            f"<Message>injected {code}</Message></Error><RequestId>fault</RequestId>"
            "</ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml", "x-amzn-RequestId": "fault"}
    return AWSResponse(request.url, status, headers, _RawBody(body))


class _RawBody:
    """The raw stream botocore reads an error body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


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
    recorder = CallRecorder(sandbox.fresh_handler_session())
    target = prepared_target(sandbox)
    recorder.calls.clear()
    token = target.stage_rotation()
    for step in STEPS:
        recorder.phase = step
        target.run_step(step, token)
    recorder.phase = SWEEP
    target.sweep()
    return recorder.sites()


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

    injector.arm(case.site, case.kind)
    try:
        if sweep:
            target.sweep()
        else:
            assert token is not None
            target.run_step(case.site.phase, token)
    except Exception as error:
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
    except Exception as error:
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


# -- reporting -------------------------------------------------------------------------------


def matrix_table(
    sites: Sequence[CallSite], results: Sequence[CaseResult], kinds: Sequence[str]
) -> Table:
    """Rows: call sites; columns: fault kinds; cells: survived/runs, or "absorbed"."""
    table = Table(
        "Fault matrix: survived / runs per call site and fault kind (each run = 1 injected fault)",
        ["phase", "call", *kinds, "attempts/fault"],
    )
    by_key: dict[tuple[CallSite, str], list[CaseResult]] = {}
    for result in results:
        by_key.setdefault((result.case.site, result.case.kind), []).append(result)
    for site in sites:
        cells = []
        attempts: set[int] = set()
        for kind in kinds:
            runs = by_key.get((site, kind), [])
            attempts |= {r.attempts for r in runs}
            if not runs:
                cells.append("-")
            elif len(runs) == 1 and runs[0].absorbed and runs[0].survived:
                cells.append("absorbed")
            else:
                ok = sum(r.survived for r in runs)
                cells.append(f"{ok}/{len(runs)}" + ("" if ok == len(runs) else " FAIL"))
        table.add(site.phase, f"{site.operation}#{site.occurrence}", *cells, _attempts(attempts))
    table.notes.append(
        "absorbed: the step succeeded despite the fault; n/3: retry-step, retry-rotation,"
        " unstick-fresh-token (the sweep: 1 = its next run)"
    )
    return table


def _attempts(values: set[int]) -> str:
    if not values:
        return "-"
    return "/".join(str(v) for v in sorted(values))


def recovery_table(results: Sequence[CaseResult]) -> Table:
    """Survival per recovery path."""
    table = Table("Recovery paths", ["recovery", "runs", "survived", "target", "met?"])
    counts: dict[str, list[int]] = {}
    for result in results:
        entry = counts.setdefault(result.case.recovery, [0, 0])
        entry[0] += 1
        entry[1] += result.survived
    for recovery in (*RECOVERIES, SWEEP_RECOVERY, ABSORBED):
        if recovery in counts:
            runs, ok = counts[recovery]
            table.add(recovery, runs, ok, "all", "yes" if ok == runs else "NO")
    return table


def failures_table(results: Sequence[CaseResult]) -> Table | None:
    """One row per problem of every case that did not survive (None if all survived)."""
    failed = [r for r in results if not r.survived]
    if not failed:
        return None
    table = Table("Cases that did not survive", ["call site", "fault", "recovery", "problem"])
    for result in failed:
        for problem in result.problems():
            table.add(
                str(result.case.site),
                result.case.kind,
                result.case.recovery,
                problem if len(problem) <= 150 else problem[:147] + "...",
            )
    table.notes.append(
        "full messages and the error each faulted step raised: bench/results/faults.json"
    )
    return table


@dataclass
class ModeRun:
    """The matrix run against the function in one deployment mode (``bench.rig.MODES``)."""

    mode: str
    sites: list[CallSite]
    results: list[CaseResult]
    sleeps: int
    minted: int
    seconds: float

    @property
    def injected(self) -> int:
        return len(self.results)

    @property
    def survived(self) -> int:
        return sum(result.survived for result in self.results)


def run_mode(mode: str, *, quick: bool, kinds: Sequence[str]) -> ModeRun:
    """Discover the call sites and run the matrix in a fresh Sandbox of ``mode``."""
    started = time.perf_counter()
    with Sandbox(mode) as sandbox:
        sites = discover_call_sites(sandbox)
        cases = quick_cases(sites) if quick else build_cases(sites, kinds)
        results = run_matrix(cases, sandbox)
        sleeps = len(sandbox.sleeps)
        minted = len(sandbox.minted_secrets)
    return ModeRun(mode, sites, results, sleeps, minted, time.perf_counter() - started)


def print_mode(run: ModeRun, kinds: Sequence[str], quick: bool) -> None:
    """The tables of one mode's run."""
    discovered = Table(
        f"[{run.mode} function] Discovered call sites (clean rotation, previous key Active;"
        " sweep with zero grace)",
        ["phase", "calls", "in order (sm = secretsmanager)"],
    )
    for phase in (*STEPS, SWEEP):
        calls = [
            s.operation.replace("secretsmanager.", "sm.") for s in run.sites if s.phase == phase
        ]
        discovered.add(phase, len(calls), ", ".join(calls))
    discovered.print()
    matrix = matrix_table(run.sites, run.results, kinds if not quick else FAULT_KINDS)
    matrix.title = f"[{run.mode} function] {matrix.title}"
    matrix.print()
    recovery = recovery_table(run.results)
    recovery.title = f"[{run.mode} function] {recovery.title}"
    recovery.print()
    failures = failures_table(run.results)
    if failures is not None:
        failures.title = f"[{run.mode} function] {failures.title}"
        failures.print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fault-injection matrix of the rotation handler (moto in-process), run"
        " against the function in each deployment mode.",
        epilog="Prints the matrix per mode, writes bench/results/faults.json; exit status 1 if"
        " any case did not survive.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="one fault kind per call site (the test subset)"
    )
    parser.add_argument(
        "--kinds",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated fault kinds (default: all: {','.join(FAULT_KINDS)})",
    )
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="comma-separated deployment modes of the function: isolated (one function per"
        " consumer), shared (one function for the stack) (default: both)",
    )
    args = parser.parse_args(argv)
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if unknown:
        parser.error(f"--kinds: unknown {unknown}; use {','.join(FAULT_KINDS)}")
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if unknown or not modes:
        parser.error(f"--modes: unknown {unknown or modes}; use {','.join(MODES)}")

    started = time.perf_counter()
    runs = [run_mode(mode, quick=args.quick, kinds=kinds) for mode in modes]
    seconds = time.perf_counter() - started
    for run in runs:
        print_mode(run, kinds, args.quick)

    injected = sum(run.injected for run in runs)
    survived = sum(run.survived for run in runs)
    sleeps = sum(run.sleeps for run in runs)
    summary = Table("Summary", ["figure", "value", "target", "met?"])
    for run in runs:
        ok = run.injected >= 40
        summary.add(f"{run.mode}: call sites discovered", len(run.sites), "", "")
        summary.add(f"{run.mode}: faults injected", run.injected, ">= 40", "yes" if ok else "NO")
        summary.add(
            f"{run.mode}: survived",
            run.survived,
            f"= {run.injected}",
            "yes" if run.survived == run.injected else "NO",
        )
        summary.add(f"{run.mode}: propagation sleeps taken", run.sleeps, "0", _yes(run.sleeps == 0))
        summary.add(f"{run.mode}: secrets minted and checked", run.minted, "", "")
        summary.add(f"{run.mode}: wall time", f"{run.seconds:.1f} s", "", "")
    summary.add("wall time", f"{seconds:.1f} s", "", "")
    summary.print()
    checks = []
    for run in runs:
        checks += [
            Check(f"faults injected ({run.mode})", str(run.injected), ">= 40", run.injected >= 40),
            Check(
                f"faults survived ({run.mode})",
                str(run.survived),
                f"= {run.injected}",
                run.survived == run.injected,
            ),
            Check(f"propagation sleeps ({run.mode})", str(run.sleeps), "0", run.sleeps == 0),
        ]
    write_results(
        "faults",
        {
            "quick": args.quick,
            "kinds": kinds,
            "modes": modes,
            "faults_injected": injected,
            "survived": survived,
            "propagation_sleeps": sleeps,
            "seconds": round(seconds, 2),
            "by_mode": {
                run.mode: {
                    "call_sites": [asdict(site) for site in run.sites],
                    "faults_injected": run.injected,
                    "survived": run.survived,
                    "propagation_sleeps": run.sleeps,
                    "seconds": round(run.seconds, 2),
                    "cases": [
                        {
                            "site": str(r.case.site),
                            "kind": r.case.kind,
                            "recovery": r.case.recovery,
                            "attempts": r.attempts,
                            "step_error": r.step_error,
                            "recovery_error": r.recovery_error,
                            "survived": r.survived,
                            "problems": r.problems(),
                        }
                        for r in run.results
                    ],
                }
                for run in runs
            },
        },
        checks,
    )
    for run in runs:
        print(
            f"{run.mode} function: faults injected: {run.injected}, survived: {run.survived}",
            flush=True,
        )
    print(f"faults injected: {injected}, survived: {survived}", flush=True)
    return 0 if survived == injected and all(run.injected for run in runs) else 1


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


if __name__ == "__main__":
    sys.exit(main())
