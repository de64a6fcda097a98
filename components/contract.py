"""What the deployed product looks like from outside: names, labels, the Lambda's interface.

Pure: no Pulumi, no boto3. ``components.rotated_access_key`` (the Pulumi component) and
``credrot.sandbox.provision`` (which builds the same consumer in the emulator, and must not load
Pulumi) both take these from here, so the emulator cannot drift from what is deployed.
``rotation_lambda`` reads the same environment variables and event but is packaged on its
own, so it keeps its own copy of those names; tests/program checks that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

COMPONENT_TYPE = "ai-credential-rotation:index:RotatedAccessKey"
SHARED_ROTATOR_TYPE = "ai-credential-rotation:index:SharedRotator"
IAM_PATH = "/ai-credential-rotation/"
CONSUMER_TAG = "ai-credential-rotation:consumer"
# On the IAM user: the ARN of the one secret whose rotation may write its keys (the function
# refuses any other; only the deployer can set a user's tags).
USER_SECRET_TAG = "ai-credential-rotation:secret"  # noqa: S105 (a tag key, not a password)
# On the secret: the NAME of the IAM user whose key it holds (the pointer the shared function
# follows; the user's USER_SECRET_TAG must name this secret back).
SECRET_USER_TAG = "ai-credential-rotation:user"  # noqa: S105 (a tag key, not a password)
# On the IAM user: the stack's rotator id; the shared role may touch only users carrying it.
ROTATOR_TAG = "ai-credential-rotation:rotator"
# Every resource of a consumer is named "<prefix><consumer>-<role>": the physical names of the
# secret, function, log group, rules, topic and alarm (Pulumi auto-names them from these) start
# with it, and the pipeline's deploy role is scoped to it (components.pipeline_policies).
# Short on purpose: IAM role, Lambda function and EventBridge rule names stop at 64 characters,
# see components.config.MAX_NAME_LENGTH.
RESOURCE_NAME_PREFIX = "credrot-"

HANDLER = "rotation_lambda.handler.lambda_handler"
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"

RETIRE_PREVIOUS_KEY_ACTION = "RetirePreviousKey"
PROVISION_KEY_ACTION = "ProvisionKey"

T = TypeVar("T")


@dataclass(frozen=True)
class ConsumerNames:
    """The names of one consumer's resources, derived from the consumer's name.

    Each is ``base`` (``RESOURCE_NAME_PREFIX`` + consumer) plus the resource's role. Pulumi
    uses them as logical names (and appends a random suffix to the physical ones); the
    emulator uses them as the physical names.
    """

    consumer: str

    @property
    def base(self) -> str:
        """What every name starts with: the resource name prefix, then the consumer's name."""
        return f"{RESOURCE_NAME_PREFIX}{self.consumer}"

    def _of(self, role: str) -> str:
        return f"{self.base}-{role}"

    @property
    def user(self) -> str:
        """The IAM user whose key rotates."""
        return self._of("user")

    @property
    def secret(self) -> str:
        """The Secrets Manager secret holding the key."""
        return self._of("secret")

    @property
    def first_key(self) -> str:
        """The deploy's first-key step: an invocation of the function that mints the key."""
        return self._of("first-key")

    @property
    def data_access_policy(self) -> str:
        """The user's data-access policy (and self-read, if enabled): inline, or managed when
        over IAM's inline size."""
        return self._of("data-access")

    @property
    def data_access_attachment(self) -> str:
        """The data-access policy's attachment to the user."""
        return self._of("data-access-attachment")

    def extra_attachment(self, policy_name: str) -> str:
        """The attachment of an extra managed policy, named by the policy's name."""
        return self._of(f"extra-{policy_name}")

    @property
    def reader_policy(self) -> str:
        """The managed policy an app team attaches to read the secret."""
        return self._of("reader")

    @property
    def rotation_function(self) -> str:
        """The rotation Lambda."""
        return self._of("rotator")

    @property
    def rotation_role(self) -> str:
        """The rotation Lambda's execution role."""
        return self._of("rotation-role")

    @property
    def rotation_policy(self) -> str:
        """The rotation role's inline policy."""
        return self._of("rotation-policy")

    @property
    def rotation_logs(self) -> str:
        """The rotation Lambda's log group."""
        return self._of("rotation-logs")

    @property
    def allow_secretsmanager(self) -> str:
        """Secrets Manager's permission to invoke the rotation Lambda."""
        return self._of("allow-secretsmanager")

    @property
    def rotation(self) -> str:
        """The secret's rotation configuration."""
        return self._of("rotation")

    @property
    def sweep(self) -> str:
        """The hourly sweep that retires the previous key: an EventBridge Scheduler schedule
        (the per-consumer EventBridge rule of releases before the shared rotator)."""
        return self._of("sweep")

    @property
    def scheduler_role(self) -> str:
        """The role EventBridge Scheduler assumes to invoke the rotation function(s)."""
        return self._of("scheduler-role")

    @property
    def scheduler_policy(self) -> str:
        """The scheduler role's inline policy."""
        return self._of("scheduler-policy")

    @property
    def alarm_topic(self) -> str:
        """The SNS topic alarms go to (unless the stack gives one)."""
        return self._of("alarms")

    @property
    def alarm_topic_policy(self) -> str:
        """The alarm topic's policy."""
        return self._of("alarms-policy")

    @property
    def alarm_email(self) -> str:
        """The alarm topic's e-mail subscription."""
        return self._of("alarm-email")

    @property
    def errors_alarm(self) -> str:
        """The alarm on the rotation Lambda's errors."""
        return self._of("errors")

    @property
    def rotation_failed_rule(self) -> str:
        """The EventBridge rule matching Secrets Manager's RotationFailed event."""
        return self._of("rotation-failed")

    @property
    def rotation_failed_target(self) -> str:
        """The RotationFailed rule's target: the alarm topic."""
        return self._of("rotation-failed-target")


# The stack's shared pieces are named like a consumer's, with this in place of the consumer's
# name. A consumer name starts with a letter or digit (components.config.check_name), so no
# consumer's names can ever collide with these.
SHARED_NAME = "_shared"


def shared_names() -> ConsumerNames:
    """The names of the stack's shared rotator pieces (function, role, alarms, reader policy)."""
    return ConsumerNames(SHARED_NAME)


def sweep_event(secret_arn: str) -> dict[str, str]:
    """The event the hourly schedule sends: retire the previous key once its grace is over."""
    return {"Action": RETIRE_PREVIOUS_KEY_ACTION, "SecretId": secret_arn}


def provision_event(secret_arn: str) -> dict[str, str]:
    """The event of the deploy's first-key step: make AWSCURRENT hold a working key."""
    return {"Action": PROVISION_KEY_ACTION, "SecretId": secret_arn}


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
    secret_arn: T | None = None,
) -> dict[str, T | str]:
    """The rotation Lambda's environment variables (``T``: str, or a Pulumi Output)."""
    environment: dict[str, T | str] = {
        "IAM_USER_NAME": user_name,
        # The exact ARN testSecret expects: saves an iam:GetUser call and grant.
        "IAM_USER_ARN": user_arn,
        "PROPAGATION_TIMEOUT_SECONDS": str(propagation_timeout_seconds),
        "PREVIOUS_KEY_GRACE_HOURS": grace_hours_text(previous_key_grace_hours),
        "LOG_LEVEL": log_level,
    }
    if secret_arn is not None:
        # The one secret this function serves; with the user's tag, it binds the two.
        environment["SECRET_ARN"] = secret_arn
    return environment


def shared_function_environment(
    *,
    user_path: str = IAM_PATH,
    secret_name_prefix: str = RESOURCE_NAME_PREFIX,
    propagation_timeout_seconds: int,
    previous_key_grace_hours: float,
    log_level: str,
) -> dict[str, str]:
    """The shared rotation Lambda's environment: no user and no secret of its own.

    It finds the user of each secret it is asked to rotate from the secret's name (which must
    start with SECRET_NAME_PREFIX) and its ``SECRET_USER_TAG``, under ``IAM_USER_PATH``.
    """
    return {
        "IAM_USER_PATH": user_path,
        "SECRET_NAME_PREFIX": secret_name_prefix,
        "PROPAGATION_TIMEOUT_SECONDS": str(propagation_timeout_seconds),
        "PREVIOUS_KEY_GRACE_HOURS": grace_hours_text(previous_key_grace_hours),
        "LOG_LEVEL": log_level,
    }
