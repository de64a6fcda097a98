"""AWS clients for one invocation, created on first use and injectable for tests.

Clients come from the module-level `boto3.client`, i.e. boto3's default session, so that
moto's mock_aws and event hooks registered on `boto3.DEFAULT_SESSION.events` see every call;
botocore itself honours AWS_ENDPOINT_URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from types_boto3_iam import IAMClient
    from types_boto3_secretsmanager import SecretsManagerClient
    from types_boto3_sts import STSClient

# Bounded retries and timeouts: Secrets Manager retries the whole rotation anyway, and a
# hung call must fail well inside the function's timeout.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=10
)


class Clients:
    """Secrets Manager and IAM clients plus an STS factory; pass any of them to override."""

    def __init__(
        self,
        region: str | None = None,
        *,
        secretsmanager: SecretsManagerClient | None = None,
        iam: IAMClient | None = None,
        sts_factory: Callable[[str, str], STSClient] | None = None,
    ) -> None:
        self.region = region
        self._secretsmanager = secretsmanager
        self._iam = iam
        self._sts_factory = sts_factory

    @property
    def secretsmanager(self) -> SecretsManagerClient:
        """The Secrets Manager client (created on first use)."""
        if self._secretsmanager is None:
            self._secretsmanager = boto3.client(
                "secretsmanager", region_name=self.region, config=CLIENT_CONFIG
            )
        return self._secretsmanager

    @property
    def iam(self) -> IAMClient:
        """The IAM client (created on first use: setSecret and finishSecret never need it)."""
        if self._iam is None:
            self._iam = boto3.client("iam", region_name=self.region, config=CLIENT_CONFIG)
        return self._iam

    def sts_with_key(self, access_key_id: str, secret_access_key: str) -> STSClient:
        """An STS client signing with the given key ONLY.

        Explicit keys replace botocore's whole credential chain, so the function's own
        session token (AWS_SESSION_TOKEN in Lambda) is never sent along.
        """
        if self._sts_factory is not None:
            return self._sts_factory(access_key_id, secret_access_key)
        return boto3.client(
            "sts",
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=None,
            region_name=self.region,
            config=CLIENT_CONFIG,
        )
