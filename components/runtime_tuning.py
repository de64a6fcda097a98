"""Two settings that make a stack of thousands of resources cheap to register, nothing else.

``__main__.py`` calls ``tune_for_large_stacks()`` once, before the first resource. Neither
setting changes what the engine receives; bench/program.py measures what each one saves.

1. **No automatic cyclic garbage collection.** The program is a batch job: every resource,
   Output and future it builds stays alive until the process exits, and CPython's collector
   only rescans that growing graph. At 1,000 consumers, with the thresholds raised to
   100,000 (this program's earlier setting), collections took 4.4 s of a 25 s program; at
   CPython's defaults they add about 14 s. What the collector would free is small: peak
   RSS 427 MB without it, 422 MB with it (the SDK's own cycles are few, and
   tests/program/test_runtime_tuning.py checks that the cache below adds none).

2. **Each registration's stack trace, computed once per call path.** The SDK sends the
   engine the Python stack of every registration (its source positions): it extracts the
   whole stack with ``traceback`` (an ``os.stat`` and a line lookup per file per frame)
   and turns every frame's path into a ``file://`` URI (``pathlib``), ~0.5 ms per
   registration, a fifth of the program at 1,000 consumers. A fleet's consumers are
   registered by the same few lines, so the answer repeats: ``stack_trace`` walks the live
   frames (cheap), keys them by (file, line), and builds the SDK's own answer only for a
   path it has not seen. The protobuf it returns is equal, field for field, to the SDK's
   (tests/program/test_runtime_tuning.py compares every registration of the program).

   It replaces ``pulumi.runtime.resource._get_stack_trace``, a private function, and only
   when that function and the one it calls are, to the character, the ones this copy was
   written against (``SDK_SOURCE_SHA256``, pulumi 3.272.0): any other SDK keeps its own,
   and the program is merely slower. A test fails when the pinned SDK no longer matches, so
   that a pin bump re-checks the equivalence instead of losing the speed silently.
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import sys
import traceback
from dataclasses import dataclass
from types import FrameType

from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2

__all__ = [
    "SDK_SOURCE_SHA256",
    "Tuning",
    "sdk_source_sha256",
    "stack_trace",
    "tune_for_large_stacks",
]

# sha256 of the source of pulumi.runtime.resource._get_stack_trace followed by that of
# _get_source_position_for_frame, as in pulumi 3.272.0 (requirements/runtime.lock).
SDK_SOURCE_SHA256 = "0d11a1e45eee2efcb3d459373346c57b6e3f9b3a84c7600c3922034c45449c5c"

# Distinct call paths kept; a program registers from a few dozen. Past this, traces are
# still right, only computed each time.
MAX_CACHED_PATHS = 10_000

_SDK_STACK_TRACE = sdk_resource._get_stack_trace
_cache: dict[tuple[tuple[str, int], ...], source_pb2.StackTrace] = {}


@dataclass(frozen=True)
class Tuning:
    """What ``tune_for_large_stacks`` changed."""

    automatic_gc_disabled: bool
    stack_trace_cached: bool


def tune_for_large_stacks() -> Tuning:
    """Disable automatic garbage collection and, on the SDK this was verified against, cache
    registration stack traces by call path (see the module doc)."""
    gc.disable()
    cached = sdk_source_sha256() == SDK_SOURCE_SHA256
    if cached:
        sdk_resource._get_stack_trace = stack_trace
    return Tuning(automatic_gc_disabled=True, stack_trace_cached=cached)


def sdk_source_sha256() -> str:
    """The fingerprint of the SDK code ``stack_trace`` stands in for (the original's, even
    once replaced)."""
    source = inspect.getsource(_SDK_STACK_TRACE) + inspect.getsource(
        sdk_resource._get_source_position_for_frame
    )
    return hashlib.sha256(source.encode()).hexdigest()


def stack_trace() -> source_pb2.StackTrace:
    """The SDK's ``_get_stack_trace()`` answer for the caller's stack, from the cache when the
    frames outside the resource's constructors were seen before.

    The SDK's rule: from the innermost frame outwards, find the third frame named
    ``__init__`` (Resource's, Custom/ComponentResource's, the concrete resource's); the trace
    is every frame outside it, innermost first, each as its file URI and line.
    """
    limit = getattr(sys, "tracebacklimit", None)
    if limit is not None and limit <= 0:
        # traceback then extracts no frame, and the SDK fails on the empty stack: let it.
        return _SDK_STACK_TRACE()
    # Innermost first. This function stands where the SDK's own frame would, so it counts
    # toward sys.tracebacklimit (traceback.extract_stack keeps that many innermost frames),
    # but the walk starts at its caller: a local holding this very frame would be a
    # reference cycle, one per registration, left to the collector (+55 MB at 1,000).
    kept = None if limit is None else limit - 1
    frames: list[FrameType] = []
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and (kept is None or len(frames) < kept):
        frames.append(frame)
        frame = frame.f_back
    inits = 0
    for index, candidate in enumerate(frames):
        if candidate.f_code.co_name == "__init__":
            inits += 1
            if inits == 3:
                outer = [(f.f_code.co_filename, f.f_lineno) for f in frames[index + 1 :]]
                break
    else:
        return source_pb2.StackTrace()
    if not outer:
        return source_pb2.StackTrace()
    key = tuple(outer)
    trace = _cache.get(key)
    if trace is None:
        # The SDK's own conversion of a frame to its position (the fingerprint covers it).
        trace = source_pb2.StackTrace(
            frames=[
                source_pb2.StackFrame(
                    pc=sdk_resource._get_source_position_for_frame(
                        traceback.FrameSummary(path, line, "", lookup_line=False)
                    )
                )
                for path, line in key
            ]
        )
        if len(_cache) < MAX_CACHED_PATHS:
            _cache[key] = trace
    return trace
