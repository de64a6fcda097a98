"""Waiting for a new IAM access key to work: IAM is eventually consistent.

A freshly created key can be rejected for a few seconds. The wait hooks are module
attributes, looked up at call time, so tests and benches can replace them:
`propagation.sleep`, `propagation.monotonic` and `propagation.jitter`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError

from rotation_lambda.decisions import backoff_delay

sleep: Callable[[float], None] = time.sleep
monotonic: Callable[[], float] = time.monotonic
jitter: Callable[[], float] = random.random

# Errors with which AWS rejects a key that IAM has not propagated yet. Anything else
# (throttling, a 5xx) is botocore's retry business, not a sign of propagation.
PROPAGATION_ERROR_CODES = frozenset(
    {"InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied", "UnrecognizedClientException"}
)

T = TypeVar("T")


def retry_until_propagated(
    attempt: Callable[[], T],
    timeout_seconds: float,
    on_retry: Callable[[ClientError, float], None] | None = None,
) -> T:
    """Call `attempt` until it stops failing with a propagation error, for `timeout_seconds`.

    No sleep when the first call works. Between calls, a capped exponential delay with full
    jitter, cut short so the total wait never exceeds the timeout. Once the time is up the
    last propagation error is re-raised; any other error is raised at once.
    """
    deadline = monotonic() + timeout_seconds
    attempt_number = 0
    while True:
        try:
            return attempt()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in PROPAGATION_ERROR_CODES:
                raise
            remaining = deadline - monotonic()
            if remaining <= 0:
                raise
            delay = min(backoff_delay(attempt_number, jitter), remaining)
            if on_retry is not None:
                on_retry(error, delay)
            sleep(delay)
            attempt_number += 1
