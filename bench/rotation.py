"""AWS API calls and wall time per steady-state rotation, next to an AWS-template baseline.

Usage: ``python bench/rotation.py [--rotations N]`` (N >= 20, default 25).

Both rotators run in credrot's embedded emulator (moto's ThreadedMotoServer; RotateSecret
invokes the handler in-process, IAM authentication on), each in a fresh emulator:
``rotation_lambda`` (the product) and ``bench/baseline_rotator.py`` (comparison only).

- Steady state: the consumer already has two keys, AWSCURRENT and AWSPREVIOUS. Variant
  "previous Inactive": before each measured rotation the previous key is retired (the
  product: its RetirePreviousKey sweep with zero grace; the baseline has no sweep, so the
  operator deactivates it). Variant "previous Active": rotations back to back.
- API calls: counted per invocation by the emulator with a ``before-call`` hook on the
  handler's ``boto3.DEFAULT_SESSION`` (STS calls with the new key included), by step and
  operation; the sweep's calls are not part of a rotation.
- Wall time: RotateSecret from the operator's client until it returns (the four steps run
  synchronously): median and p95 of N rotations per variant, after two warm-up rotations.
- Sleeps: ``rotation_lambda.propagation.sleep`` is replaced by a counter; keys work on the
  first try here, so a correct handler never waits.

AWS treats AWSPENDING left on the AWSCURRENT version as a completed rotation (the template
leaves it so); moto refuses the next rotation then, so the emulator applies AWS's rule
(``credrot.sandbox.aws.apply_aws_rotation_rule``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import _bootstrap  # noqa: F401  (the repository root on sys.path; see bench/_bootstrap.py)

from bench import baseline_rotator
from bench.common import (
    Check,
    Table,
    median,
    met,
    percentile,
    sealed_aws,
    write_results,
)
from credrot.app.secret import CURRENT, PREVIOUS
from credrot.sandbox.aws import STEPS
from credrot.sandbox.emulator import Emulator
from credrot.sandbox.provision import Consumer, provision_consumer
from rotation_lambda import propagation
from rotation_lambda.handler import lambda_handler

if TYPE_CHECKING:
    from types_boto3_iam import IAMClient
    from types_boto3_lambda import LambdaClient
    from types_boto3_secretsmanager import SecretsManagerClient

MAX_CALLS = 14
MIN_ROTATIONS = 20
VARIANTS = ("previous Inactive", "previous Active")
ROTATORS: dict[str, Callable[[Any, Any], Any]] = {
    "rotation_lambda": lambda_handler,
    "baseline (AWS template)": baseline_rotator.lambda_handler,
}


@dataclass
class VariantResult:
    """One rotator in one steady state: calls by (step, operation), times, sleeps."""

    rotator: str
    variant: str
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    totals: list[int] = field(default_factory=list)  # API calls of each rotation
    seconds: list[float] = field(default_factory=list)  # RotateSecret wall time
    handler_seconds: list[float] = field(default_factory=list)  # the four invocations
    sleeps: int = 0
    failures: list[str] = field(default_factory=list)


class _SleepCounter:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def measure(rotator: str, rotations: int) -> tuple[list[VariantResult], Counter[str]]:
    """Run ``rotations`` measured rotations per variant; also the product's sweep calls."""
    handler = ROTATORS[rotator]
    sleeps = _SleepCounter()
    original_sleep = propagation.sleep
    propagation.sleep = sleeps
    try:
        # The consumer is provisioned by the product's handler whichever rotator is measured:
        # the configuration test (RotateImmediately=false) and the first key (ProvisionKey)
        # are the component's deploy steps, which the template has no code for. The rotator
        # under measurement takes over before the first counted rotation.
        running: list[Callable[[Any, Any], Any]] = [lambda_handler]
        with (
            sealed_aws(),
            Emulator(handler=lambda event, context: running[0](event, context)) as emulator,
        ):
            consumer = provision_consumer(emulator, "bench-app")  # rotates once: one key
            running[0] = handler
            emulator.enable_iam_authentication()
            sm: SecretsManagerClient = emulator.client("secretsmanager")
            _rotate(emulator, sm, consumer)  # two keys: steady state from here on
            sweep_calls: Counter[str] = Counter()
            results = []
            for variant in VARIANTS:
                result = VariantResult(rotator, variant)
                for index in range(rotations + 1):
                    if variant == "previous Inactive":
                        calls = _retire_previous_key(emulator, consumer, rotator)
                        sweep_calls = sweep_calls or calls
                    before = len(sleeps.calls)
                    # "previous Active" means past its grace: with the default 24 h the
                    # handler rightly refuses to delete it (KeyInGraceError).
                    with emulator.function_environment(
                        consumer.function_name, PREVIOUS_KEY_GRACE_HOURS="0"
                    ):
                        seconds, invocations, problem = _rotate(emulator, sm, consumer)
                    if index == 0:
                        continue  # warm-up after switching variant
                    if problem:
                        result.failures.append(problem)
                    result.sleeps += len(sleeps.calls) - before
                    result.seconds.append(seconds)
                    result.handler_seconds.append(sum(i.seconds for i in invocations))
                    total = 0
                    for invocation in invocations:
                        for operation, count in invocation.api_calls.items():
                            result.calls[invocation.step, operation] += count
                            total += count
                    result.totals.append(total)
                results.append(result)
            return results, sweep_calls
    finally:
        propagation.sleep = original_sleep


def _rotate(
    emulator: Emulator, sm: SecretsManagerClient, consumer: Consumer
) -> tuple[float, list[Any], str | None]:
    before = len(emulator.invocations)
    started = time.perf_counter()
    token = sm.rotate_secret(SecretId=consumer.secret_arn, RotationLambdaARN=consumer.function_arn)[
        "VersionId"
    ]
    seconds = time.perf_counter() - started
    invocations = emulator.invocations[before:]
    stages = sm.describe_secret(SecretId=consumer.secret_arn)["VersionIdsToStages"]
    problem = None
    failed = [f"{i.step}: {i.error}" for i in invocations if i.failed]
    if failed or CURRENT not in stages.get(token, []):
        problem = "; ".join(failed) or "AWSCURRENT did not move"
    return seconds, invocations, problem


def _retire_previous_key(emulator: Emulator, consumer: Consumer, rotator: str) -> Counter[str]:
    """Leave the previous key Inactive; return the sweep's API calls (product only)."""
    if rotator != "rotation_lambda":
        sm: SecretsManagerClient = emulator.client("secretsmanager")
        iam: IAMClient = emulator.client("iam")
        previous = json.loads(
            sm.get_secret_value(SecretId=consumer.secret_arn, VersionStage=PREVIOUS)["SecretString"]
        )
        iam.update_access_key(
            UserName=consumer.user_name, AccessKeyId=previous["AccessKeyId"], Status="Inactive"
        )
        return Counter()
    before = len(emulator.invocations)
    with emulator.function_environment(consumer.function_name, PREVIOUS_KEY_GRACE_HOURS="0"):
        lambda_client: LambdaClient = emulator.client("lambda")
        lambda_client.invoke(
            FunctionName=consumer.function_name,
            Payload=json.dumps({"Action": "RetirePreviousKey", "SecretId": consumer.secret_arn}),
        )
    (sweep,) = emulator.invocations[before:]
    if sweep.failed:
        raise RuntimeError(f"the sweep failed: {sweep.error}")
    return Counter(sweep.api_calls)


def calls_table(results: Sequence[VariantResult], rotations: int) -> Table:
    """API calls per rotation by step and operation, one column per rotator x variant."""
    headers = [f"{r.rotator.split()[0]}: prev {r.variant.split()[1]}" for r in results]
    table = Table(
        "AWS API calls per steady-state rotation, by step and operation"
        " (before-call hooks on the handler's boto3.DEFAULT_SESSION)",
        ["step", "operation", *headers],
    )
    keys = sorted(
        {key for r in results for key in r.calls}, key=lambda k: (STEPS.index(k[0]), k[1])
    )
    for step, operation in keys:
        cells = [_per_rotation(r.calls[step, operation], rotations) for r in results]
        table.add(step, operation, *cells)
    table.add("total", "", *[_per_rotation(sum(r.totals), rotations) for r in results])
    return table


def _per_rotation(count: int, rotations: int) -> str:
    value = count / rotations
    return f"{value:g}" if value else "-"


def summary_table(results: Sequence[VariantResult], sweep_calls: Counter[str]) -> Table:
    """Calls, wall time, handler time and sleeps per rotator and variant, with targets."""
    table = Table(
        "Steady-state rotation against the embedded emulator (RotateSecret -> handler)",
        [
            "rotator",
            "previous key",
            "API calls",
            "target",
            "met?",
            "median ms",
            "p95 ms",
            "handler ms (median)",
            "sleeps",
            "target",
            "met?",
            "rotations",
        ],
    )
    for r in results:
        calls = max(r.totals) if r.totals else 0
        product = r.rotator == "rotation_lambda"
        spread = "" if min(r.totals) == max(r.totals) else f" ({min(r.totals)}-{max(r.totals)})"
        table.add(
            r.rotator,
            r.variant.split()[1],
            f"{calls}{spread}",
            f"<= {MAX_CALLS}" if product else "-",
            (met(calls, MAX_CALLS) if r.variant == VARIANTS[0] else "n/a") if product else "-",
            f"{median(r.seconds) * 1000:.1f}",
            f"{percentile(r.seconds, 0.95) * 1000:.1f}",
            f"{median(r.handler_seconds) * 1000:.1f}",
            r.sleeps if product else "-",
            "0" if product else "-",
            met(r.sleeps, 0) if product else "-",
            f"{len(r.seconds)}" + (f", {len(r.failures)} FAILED" if r.failures else ""),
        )
    table.notes.append(
        f"the <= {MAX_CALLS} target applies to the steady state after a sweep (previous Inactive);"
        " with the previous key still Active, createSecret reads AWSPREVIOUS once more to prove"
        " that key is not current before deleting it"
    )
    if sweep_calls:
        listed = ", ".join(f"{op} x{n}" for op, n in sorted(sweep_calls.items()))
        table.notes.append(
            f"rotation_lambda's sweep (not part of a rotation): {sum(sweep_calls.values())}"
            f" calls ({listed})"
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="API calls and wall time per steady-state rotation (emulator), vs a baseline.",
        epilog="Prints two tables and writes bench/results/rotation.json.",
    )
    parser.add_argument(
        "--rotations",
        type=int,
        default=25,
        help=f"measured rotations per rotator and variant (>= {MIN_ROTATIONS}, default 25)",
    )
    args = parser.parse_args(argv)
    if args.rotations < MIN_ROTATIONS:
        parser.error(f"--rotations: at least {MIN_ROTATIONS} for a meaningful median and p95")

    results: list[VariantResult] = []
    sweep_calls: Counter[str] = Counter()
    for rotator in ROTATORS:
        measured, calls = measure(rotator, args.rotations)
        results.extend(measured)
        sweep_calls = sweep_calls or calls

    calls_table(results, args.rotations).print()
    summary_table(results, sweep_calls).print()
    failures = [f"{r.rotator} ({r.variant}): {f}" for r in results for f in r.failures]
    for failure in failures:
        print(f"FAILED rotation: {failure}")
    product = [r for r in results if r.rotator == "rotation_lambda"]
    steady_calls = max(product[0].totals)
    sleeps = sum(r.sleeps for r in product)
    checks = [
        Check(
            "API calls per steady-state rotation (previous key Inactive)",
            str(steady_calls),
            f"<= {MAX_CALLS}",
            steady_calls <= MAX_CALLS,
        ),
        Check(
            "propagation sleeps when keys work at once",
            f"{sleeps} in {sum(len(r.seconds) for r in product)} rotations",
            "0",
            sleeps == 0,
        ),
    ]
    write_results(
        "rotation",
        {
            "rotations_per_variant": args.rotations,
            "targets": {"api_calls_per_rotation": MAX_CALLS, "sleeps": 0},
            "sweep_calls": dict(sweep_calls),
            "results": [
                {
                    "rotator": r.rotator,
                    "variant": r.variant,
                    "api_calls_per_rotation": max(r.totals),
                    "calls_by_step": {
                        f"{step} {op}": n / args.rotations for (step, op), n in r.calls.items()
                    },
                    "median_ms": round(median(r.seconds) * 1000, 2),
                    "p95_ms": round(percentile(r.seconds, 0.95) * 1000, 2),
                    "handler_median_ms": round(median(r.handler_seconds) * 1000, 2),
                    "sleeps": r.sleeps,
                    "failures": r.failures,
                }
                for r in results
            ],
        },
        checks,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
