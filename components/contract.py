"""What the deployed product looks like from outside: names, labels, the Lambda's interface.

Pure: no Pulumi, no boto3. ``components.rotated_access_key`` (the Pulumi component) and
``credrot.provision`` (which builds the same consumer in the emulator, and must not load
Pulumi) both take these from here, so the emulator cannot drift from what is deployed.
``rotation_lambda`` reads the same environment variables and event but is packaged on its
own, so it keeps its own copy of those names; tests/program checks that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

COMPONENT_TYPE = "ai-credential-rotation:index:RotatedAccessKey"
# A custom staging label kept on the bootstrap version forever: see the component's _secret().
BOOTSTRAP_STAGE = "BOOTSTRAP"
IAM_PATH = "/ai-credential-rotation/"
CONSUMER_TAG = "ai-credential-rotation:consumer"

HANDLER = "rotation_lambda.handler.lambda_handler"
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"

RETIRE_PREVIOUS_KEY_ACTION = "RetirePreviousKey"

T = TypeVar("T")


@dataclass(frozen=True)
class ConsumerNames:
    """The names of one consumer's resources, derived from the consumer's name.

    Pulumi uses them as logical names (and appends a random suffix to the physical ones);
    the emulator uses them as the physical names.
    """

    consumer: str

    @property
    def user(self) -> str:
        """The IAM user whose key rotates."""
        return f"{self.consumer}-user"

    @property
    def secret(self) -> str:
        """The Secrets Manager secret holding the key."""
        return f"{self.consumer}-secret"

    @property
    def data_access_policy(self) -> str:
        """The user's managed policy: its data access (and self-read, if enabled)."""
        return f"{self.consumer}-data-access"

    @property
    def reader_policy(self) -> str:
        """The managed policy an app team attaches to read the secret."""
        return f"{self.consumer}-reader"

    @property
    def rotation_function(self) -> str:
        """The rotation Lambda."""
        return f"{self.consumer}-rotator"

    @property
    def rotation_role(self) -> str:
        """The rotation Lambda's execution role."""
        return f"{self.consumer}-rotation-role"

    @property
    def rotation_policy(self) -> str:
        """The rotation role's inline policy."""
        return f"{self.consumer}-rotation-policy"

    @property
    def rotation_logs(self) -> str:
        """The rotation Lambda's log group."""
        return f"{self.consumer}-rotation-logs"

    @property
    def allow_secretsmanager(self) -> str:
        """Secrets Manager's permission to invoke the rotation Lambda."""
        return f"{self.consumer}-allow-secretsmanager"


def sweep_event(secret_arn: str) -> dict[str, str]:
    """The event the hourly schedule sends: retire the previous key once its grace is over."""
    return {"Action": RETIRE_PREVIOUS_KEY_ACTION, "SecretId": secret_arn}


def grace_hours_text(hours: float) -> str:
    """PREVIOUS_KEY_GRACE_HOURS as the Lambda reads it: exact (no rounding), "24" not "24.0"."""
    return repr(float(hours)).removesuffix(".0")


def function_environment(
    *,
    user_name: T,
    user_arn: T,
    propagation_timeout_seconds: int,
    previous_key_grace_hours: float,
    log_level: str,
) -> dict[str, T | str]:
    """The rotation Lambda's environment variables (``T``: str, or a Pulumi Output)."""
    return {
        "IAM_USER_NAME": user_name,
        # The exact ARN testSecret expects: saves an iam:GetUser call and grant.
        "IAM_USER_ARN": user_arn,
        "PROPAGATION_TIMEOUT_SECONDS": str(propagation_timeout_seconds),
        "PREVIOUS_KEY_GRACE_HOURS": grace_hours_text(previous_key_grace_hours),
        "LOG_LEVEL": log_level,
    }
