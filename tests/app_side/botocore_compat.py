"""The botocore members credrot.app relies on that botocore does not document, checked.

``credrot.app.client`` extends ``DeferredRefreshableCredentials`` through private members
and attaches its credentials through ``Session._credentials``; ``RetryOnceAfterRefresh``
answers botocore's ``needs-retry`` event. A botocore release that renames or reshapes any
of them must fail here, loudly and by name, before an app notices.

Runs with nothing but boto3's family and credrot importable: by pytest in the pinned venv
(tests/app_side/test_botocore_compat.py), and as a script in a venv holding the oldest
supported boto3/botocore pair (tests/app_side/test_botocore_range.py).
"""

from __future__ import annotations

import inspect
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:compat-AbCdEf"


class _SecretsClient:
    """A Secrets Manager client stand-in serving key 1, then key 2 (no AWS involved)."""

    def __init__(self) -> None:
        self.reads = 0

    def get_secret_value(self, SecretId: str, VersionStage: str) -> dict[str, Any]:
        self.reads += 1
        value = {"UserName": "u", "AccessKeyId": f"AKIA{self.reads}", "SecretAccessKey": "s"}
        return {"ARN": SecretId, "SecretString": json.dumps(value)}


def check_private_members() -> None:
    """Every private member used exists with the shape used."""
    import botocore.endpoint
    import botocore.session
    from botocore.credentials import DeferredRefreshableCredentials, ReadOnlyCredentials

    for name in (
        "_refresh_lock",
        "_frozen_credentials",
        "_time_fetcher",
        "_expiry_time",
    ):
        probe = DeferredRefreshableCredentials(refresh_using=dict, method="probe")
        assert hasattr(probe, name), f"DeferredRefreshableCredentials lost {name}"
    assert callable(getattr(DeferredRefreshableCredentials, "_protected_refresh", None))
    assert (
        "is_mandatory"
        in inspect.signature(DeferredRefreshableCredentials._protected_refresh).parameters
    ), "_protected_refresh(is_mandatory=) changed"
    for name in ("_advisory_refresh_timeout", "_mandatory_refresh_timeout"):
        assert isinstance(getattr(DeferredRefreshableCredentials, name, None), int), name
    assert "time_fetcher" in inspect.signature(DeferredRefreshableCredentials).parameters
    assert ReadOnlyCredentials._fields[:3] == ("access_key", "secret_key", "token"), (
        "ReadOnlyCredentials' fields changed"
    )
    session = botocore.session.get_session()
    assert hasattr(session, "_credentials"), "botocore Session lost _credentials"
    assert "needs-retry" in inspect.getsource(botocore.endpoint.Endpoint), (
        "botocore no longer emits needs-retry from Endpoint"
    )


def check_behaviour() -> None:
    """A credrot session reads once, refreshes after its window, and moves on after an
    authentication failure, through those members."""
    from credrot.app.client import SecretCredentials
    from credrot.client import session

    moment = [datetime(2026, 1, 1, tzinfo=UTC)]
    secrets = _SecretsClient()
    credentials = SecretCredentials(ARN, secrets, 100, time_fetcher=lambda: moment[0])
    assert credentials.get_frozen_credentials().access_key == "AKIA1"
    assert credentials.get_frozen_credentials().access_key == "AKIA1"
    assert secrets.reads == 1
    moment[0] += timedelta(seconds=121)
    assert credentials.get_frozen_credentials().access_key == "AKIA2"
    credentials.refresh_after_auth_failure()
    assert credentials.get_frozen_credentials().access_key == "AKIA3"
    assert "'s'" not in repr(credentials.get_frozen_credentials())

    attached = session(ARN, secrets_client=_SecretsClient())
    frozen = attached.get_credentials().get_frozen_credentials()
    assert frozen.access_key == "AKIA1", "Session._credentials is no longer used"


def main() -> int:
    import botocore

    check_private_members()
    check_behaviour()
    print(f"botocore {botocore.__version__}: compatible")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
