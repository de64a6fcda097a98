"""components/runtime_tuning.py: the program's two speed settings change nothing the engine
receives. The stack-trace cache is checked against the SDK's own function, registration by
registration, for the whole program; the fingerprint guard keeps any other SDK untouched."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

import pytest
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2

from components import runtime_tuning
from tests.program.conftest import PROJECT_ROOT, consumer, fresh_engine

SDK_STACK_TRACE = sdk_resource._get_stack_trace


# Every kind of consumer the component builds: default, self-read (a policy from an apply),
# isolated (its own function, role and alarm), and its own reader policy.
CONFIG = {
    "consumers": [
        consumer("support-bot"),
        consumer("forecast-agent", selfRead={"sourceVpces": ["vpce-0a1b2c3d4e5f67890"]}),
        consumer("code-reviewer", isolatedRotator=True),
        consumer("eval-runner", ownReaderPolicy=True),
    ]
}


def registrations(
    tune: Callable[[], runtime_tuning.Tuning], monkeypatch: pytest.MonkeyPatch
) -> dict[tuple[str, str], tuple[bytes, bytes]]:
    """Run __main__.py with ``tune`` as its tuning; (type, name) -> (source position, stack
    trace) of every registration, serialized as the engine receives them."""
    monkeypatch.setattr(runtime_tuning, "tune_for_large_stacks", tune)
    engine = fresh_engine()
    engine.run_program(CONFIG)
    return {
        (request.type, request.name): (request.source_position, request.stack_trace)
        for request in engine.monitor.requests
    }


def sdk_only() -> runtime_tuning.Tuning:
    return runtime_tuning.Tuning(automatic_gc_disabled=False, stack_trace_cached=False)


def test_every_registration_of_the_program_sends_the_sdks_own_stack_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shipped = runtime_tuning.tune_for_large_stacks
    # One call site for both runs: the test's own frame is part of every trace.
    runs = [registrations(tune, monkeypatch) for tune in (sdk_only, shipped, shipped)]
    assert sdk_resource._get_stack_trace is runtime_tuning.stack_trace  # the cache was used
    sdk, cached_cold, cached_warm = runs
    assert len(sdk) > 30
    assert cached_cold == sdk
    # The second run reads every trace from the cache filled by the first.
    assert cached_warm == sdk

    # Not vacuous: the traces name the program's own files and lines.
    _, user_trace = sdk[("aws:iam/user:User", "credrot-support-bot-user")]
    trace = source_pb2.StackTrace.FromString(user_trace)
    uris = [frame.pc.uri for frame in trace.frames]
    assert uris[0].endswith("/components/rotated_access_key.py")
    assert (PROJECT_ROOT / "__main__.py").as_uri() in uris
    assert all(frame.pc.line > 0 for frame in trace.frames if frame.pc.uri)


class _Resource:
    def __init__(self, probe: Callable[[], source_pb2.StackTrace]) -> None:
        self.trace = probe()


class _CustomResource(_Resource):
    def __init__(self, probe: Callable[[], source_pb2.StackTrace]) -> None:
        super().__init__(probe)


class _Bucket(_CustomResource):
    def __init__(self, probe: Callable[[], source_pb2.StackTrace]) -> None:
        super().__init__(probe)


def traces_from_one_line(*probes: Callable[[], source_pb2.StackTrace]) -> list[bytes]:
    """Each probe's trace for a resource constructed on one line (so the frames agree)."""
    return [_Bucket(probe).trace.SerializeToString(deterministic=True) for probe in probes]


def test_a_resource_built_outside_a_program_gets_the_sdks_trace() -> None:
    sdk, cached = traces_from_one_line(SDK_STACK_TRACE, runtime_tuning.stack_trace)
    assert cached == sdk
    assert source_pb2.StackTrace.FromString(sdk).frames  # this test's frames, at least


def test_a_stack_with_fewer_than_three_constructors_gets_an_empty_trace_as_from_the_sdk() -> None:
    sdk, cached = (probe() for probe in (SDK_STACK_TRACE, runtime_tuning.stack_trace))
    assert sdk == source_pb2.StackTrace()
    assert cached == sdk


# 3: the resource's constructors are cut off; 5: only they are left; 6: one frame outside.
@pytest.mark.parametrize("limit", [3, 5, 6, 12, 1000])
def test_a_set_traceback_limit_is_honoured_as_the_sdk_honours_it(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "tracebacklimit", limit, raising=False)
    sdk, cached = traces_from_one_line(SDK_STACK_TRACE, runtime_tuning.stack_trace)
    assert cached == sdk


def test_a_traceback_limit_of_zero_fails_as_the_sdk_fails_on_an_empty_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "tracebacklimit", 0, raising=False)
    for probe in (SDK_STACK_TRACE, runtime_tuning.stack_trace):
        with pytest.raises(UnboundLocalError):
            traces_from_one_line(probe)


def test_past_the_cache_bound_traces_are_still_right_and_nothing_more_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime_tuning, "_cache", {})
    monkeypatch.setattr(runtime_tuning, "MAX_CACHED_PATHS", 0)
    sdk, cached = traces_from_one_line(SDK_STACK_TRACE, runtime_tuning.stack_trace)
    assert cached == sdk
    assert runtime_tuning._cache == {}


def test_the_pinned_sdk_is_the_one_the_cache_was_written_against() -> None:
    # Fails after a pulumi upgrade that touched _get_stack_trace: compare the new source with
    # runtime_tuning.stack_trace, then record the new fingerprint.
    assert runtime_tuning.sdk_source_sha256() == runtime_tuning.SDK_SOURCE_SHA256


def test_an_sdk_whose_stack_trace_code_differs_keeps_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def changed_get_stack_trace() -> source_pb2.StackTrace:
        return source_pb2.StackTrace()

    monkeypatch.setattr(runtime_tuning, "_SDK_STACK_TRACE", changed_get_stack_trace)
    monkeypatch.setattr(sdk_resource, "_get_stack_trace", changed_get_stack_trace)
    tuning = runtime_tuning.tune_for_large_stacks()
    assert tuning == runtime_tuning.Tuning(automatic_gc_disabled=True, stack_trace_cached=False)
    assert sdk_resource._get_stack_trace is changed_get_stack_trace


def test_the_program_runs_without_automatic_garbage_collection() -> None:
    assert gc.isenabled()  # the test process's own setting, restored after every test
    fresh_engine().run_program({"consumers": [consumer("support-bot")]})
    assert not gc.isenabled()


def test_computing_a_trace_leaves_nothing_for_the_garbage_collector() -> None:
    # The program runs without automatic collection: a reference cycle made per
    # registration would stay until the process exits.
    gc.collect()
    gc.disable()  # restored after the test
    for _ in range(50):
        traces_from_one_line(runtime_tuning.stack_trace, SDK_STACK_TRACE)
    assert gc.collect() == 0
