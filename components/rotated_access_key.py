"""RotatedAccessKey: an IAM user whose access key lives only in Secrets Manager and rotates.

Per consumer: an IAM user with a narrow data-access policy; a secret holding its key as
``{"UserName", "AccessKeyId", "SecretAccessKey"}``; the rotation Lambda (code packaged from
``rotation_lambda/``) with a least-privilege role; the Secrets Manager rotation schedule and an
hourly sweep that retires the previous key after its grace; alarms on Lambda errors and on
failed rotations; and a managed policy that lets an app team read the secret.

Pulumi never sees an access key: there is no ``aws.iam.AccessKey`` and no secret version.
The deploy's first-key step invokes the rotation function synchronously (``ProvisionKey``): it
writes the bootstrap value ``{"UserName": ...}`` itself and performs the first rotation, so
``pulumi up`` ends only once a key exists and authenticates as the user, and all Pulumi records
is the function's answer (a decision and a key id). Rotation is then enabled without an
immediate rotation, so no later change of the schedule mints or deletes a key.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam_policies, schedule
from components.config import (
    DEFAULT_LOG_LEVEL,
    DEFAULT_LOG_RETENTION_DAYS,
    DEFAULT_PREVIOUS_KEY_GRACE_HOURS,
    DEFAULT_PROPAGATION_TIMEOUT_SECONDS,
    DEFAULT_RECOVERY_WINDOW_DAYS,
    LAMBDA_TIMEOUT_MARGIN_SECONDS,
    ConsumerConfig,
    SelfRead,
    StackConfig,
    check_alarm_destination,
    check_code_signing_config_arn,
    check_grace_hours,
    check_kms_key_arn,
    check_log_level,
    check_log_retention,
    check_name,
    check_optional_policy_arn,
    check_paths_given,
    check_policy_arns,
    check_propagation_timeout,
    check_recovery_window,
    check_s3_paths,
    check_self_read,
    policy_name,
)
from components.contract import (
    ARCHITECTURE,
    COMPONENT_TYPE,
    CONSUMER_TAG,
    HANDLER,
    IAM_PATH,
    RETIRE_PREVIOUS_KEY_ACTION,
    RUNTIME,
    USER_SECRET_TAG,
    ConsumerNames,
    function_environment,
    provision_event,
    sweep_event,
)
from components.packaging import LambdaArchive, write_lambda_zip

__all__ = [
    "ARCHITECTURE",
    "COMPONENT_TYPE",
    "CONSUMER_TAG",
    "HANDLER",
    "IAM_PATH",
    "RETIRE_PREVIOUS_KEY_ACTION",
    "RUNTIME",
    "RotatedAccessKey",
    "RotatedAccessKeyArgs",
    "rotation_failed_event_pattern",
    "rotation_lambda_archive",
    "sweep_event",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_PACKAGE_DIR = PROJECT_ROOT / "rotation_lambda"
BUILD_DIR = PROJECT_ROOT / "build"  # git-ignored

ERRORS_ALARM_PERIOD_SECONDS = 300


def rotation_failed_event_pattern(secret_arn: str) -> dict[str, Any]:
    """EventBridge pattern for Secrets Manager's RotationFailed event on this secret only.

    Secrets Manager emits it through CloudTrail as a service event, with the secret's ARN in
    ``additionalEventData.SecretId``.
    """
    return {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {
            "eventSource": ["secretsmanager.amazonaws.com"],
            "eventName": ["RotationFailed"],
            "additionalEventData": {"SecretId": [secret_arn]},
        },
    }


@functools.cache
def rotation_lambda_archive() -> LambdaArchive:
    """The rotation Lambda's zip, built once per program run and shared by all consumers."""
    return write_lambda_zip(LAMBDA_PACKAGE_DIR, BUILD_DIR, handler=HANDLER)


@dataclass(frozen=True)
class RotatedAccessKeyArgs:
    """What one consumer gets; validated on construction (ValueError names field and value).

    ``rotation_days`` (1-365) and ``rotation_schedule`` (``rate()``/``cron()``) are mutually
    exclusive; with neither, the key rotates every 30 days. ``alarm_topic_arn`` sends alarms
    to an existing topic instead of creating one; ``alarm_email`` subscribes to the created
    topic. ``self_read`` lets the consumer's own key read its own secret (from its CIDRs).
    """

    read_paths: tuple[str, ...] = ()
    write_paths: tuple[str, ...] = ()
    rotation_days: int | None = None
    rotation_schedule: str | None = None
    rotation_window: str = schedule.DEFAULT_ROTATION_WINDOW
    extra_policy_arns: tuple[str, ...] = ()
    previous_key_grace_hours: float = DEFAULT_PREVIOUS_KEY_GRACE_HOURS
    propagation_timeout_seconds: int = DEFAULT_PROPAGATION_TIMEOUT_SECONDS
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    log_level: str = DEFAULT_LOG_LEVEL
    recovery_window_days: int = DEFAULT_RECOVERY_WINDOW_DAYS
    kms_key_arn: str | None = None
    permissions_boundary_arn: str | None = None
    code_signing_config_arn: str | None = None
    alarm_topic_arn: str | None = None
    alarm_email: str | None = None
    self_read: SelfRead | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # Derived from rotation_days/rotation_schedule/rotation_window by validation.
    rotation: schedule.RotationSchedule = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_s3_paths(self.read_paths, "read_paths")
        check_s3_paths(self.write_paths, "write_paths")
        check_paths_given(self.read_paths, self.write_paths, "read_paths/write_paths")
        rotation = schedule.rotation_schedule(
            days=self.rotation_days,
            expression=self.rotation_schedule,
            window=self.rotation_window,
            days_field="rotation_days",
            expression_field="rotation_schedule",
            window_field="rotation_window",
        )
        check_grace_hours(self.previous_key_grace_hours, "previous_key_grace_hours")
        schedule.check_grace_fits(
            self.previous_key_grace_hours,
            rotation,
            grace_field="previous_key_grace_hours",
            schedule_field="rotation_schedule" if self.rotation_schedule else "rotation_days",
        )
        check_policy_arns(self.extra_policy_arns, "extra_policy_arns")
        check_propagation_timeout(self.propagation_timeout_seconds, "propagation_timeout_seconds")
        check_log_retention(self.log_retention_days, "log_retention_days")
        check_log_level(self.log_level, "log_level")
        check_recovery_window(self.recovery_window_days, "recovery_window_days")
        check_kms_key_arn(self.kms_key_arn, "kms_key_arn")
        check_optional_policy_arn(self.permissions_boundary_arn, "permissions_boundary_arn")
        check_code_signing_config_arn(self.code_signing_config_arn, "code_signing_config_arn")
        check_alarm_destination(
            self.alarm_email,
            self.alarm_topic_arn,
            email_field="alarm_email",
            topic_field="alarm_topic_arn",
        )
        if self.self_read is not None:
            check_self_read(
                self.self_read,
                cidrs_field="self_read.source_cidrs",
                vpces_field="self_read.source_vpces",
                restrict_field="self_read.restrict_data_access",
                anywhere_field="self_read.allow_from_anywhere",
            )
        _check_tags(self.tags)
        object.__setattr__(self, "rotation", rotation)

    @classmethod
    def from_config(cls, consumer: ConsumerConfig, stack: StackConfig) -> RotatedAccessKeyArgs:
        """The args for one consumer of the stack's (already validated) configuration."""
        return cls(
            read_paths=consumer.read_paths,
            write_paths=consumer.write_paths,
            rotation_days=consumer.rotation.days,
            rotation_schedule=consumer.rotation.expression,
            rotation_window=consumer.rotation.window,
            extra_policy_arns=consumer.extra_policy_arns,
            previous_key_grace_hours=stack.previous_key_grace_hours,
            propagation_timeout_seconds=stack.propagation_timeout_seconds,
            log_retention_days=stack.log_retention_days,
            log_level=stack.log_level,
            recovery_window_days=stack.recovery_window_days,
            kms_key_arn=stack.kms_key_arn,
            permissions_boundary_arn=stack.permissions_boundary_arn,
            code_signing_config_arn=stack.code_signing_config_arn,
            alarm_topic_arn=stack.alarm_topic_arn,
            alarm_email=stack.alarm_email,
            self_read=consumer.self_read,
        )


def _check_tags(tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            raise ValueError(
                f"tags: key {key!r} is not a valid AWS tag key; use 1-128 characters, not"
                " starting with 'aws:'"
            )
        if not isinstance(value, str) or len(value) > 256:
            raise ValueError(f"tags[{key!r}]: {value!r} is not a string of at most 256 characters")


class RotatedAccessKey(pulumi.ComponentResource):
    """One consumer's IAM user, rotated key, rotation Lambda, alarms and reader policy."""

    secret_arn: pulumi.Output[str]
    user_name: pulumi.Output[str]
    user_arn: pulumi.Output[str]
    reader_policy_arn: pulumi.Output[str]
    rotation_function_name: pulumi.Output[str]
    alarm_topic_arn: pulumi.Output[str]
    # {"enabled", "sourceCidrs", "sourceVpces", "fromAnywhere"}: lets the operator CLI
    # warn about a self-read that accepts any source address.
    self_read_access: pulumi.Output[dict[str, Any]]

    def __init__(
        self, name: str, args: RotatedAccessKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        # Everything that can fail does so before the first resource is registered.
        check_name(name, "name")
        if not isinstance(args, RotatedAccessKeyArgs):
            raise TypeError(f"args: {args!r} is not a RotatedAccessKeyArgs")
        archive = rotation_lambda_archive()
        super().__init__(COMPONENT_TYPE, name, None, opts)

        # Not self._name: pulumi.Resource keeps its own _name.
        self._consumer = name
        self._names = names = ConsumerNames(name)
        self._consumer_args = args
        self._tags = {**args.tags, CONSUMER_TAG: name}

        secret = self._secret()
        user = aws.iam.User(
            names.user,
            path=IAM_PATH,
            permissions_boundary=args.permissions_boundary_arn,
            # The rotation Lambda, not Pulumi, creates the user's access keys: without this,
            # deleting the user would fail on keys Pulumi does not know about.
            force_destroy=True,
            # Binds the user to its one secret: the function writes no key of a user whose
            # tag names another secret, so two secrets can never rotate one user's keys.
            tags={**self._tags, USER_SECRET_TAG: secret.arn},
            opts=self._child(),
        )
        self._user_policies(user, secret)
        function, role_policy = self._rotation_function(user, secret, archive)
        topic_arn, alarm_wiring = self._alarms(secret, function)
        self._rotation_wiring(secret, function, role_policy, alarm_wiring)
        reader = aws.iam.Policy(
            names.reader_policy,
            path=IAM_PATH,
            description=f"Read the rotated access key of AI consumer {name}",
            policy=secret.arn.apply(
                lambda arn: json.dumps(
                    iam_policies.reader_policy(secret_arn=arn, kms_key_arn=args.kms_key_arn)
                )
            ),
            tags=self._tags,
            opts=self._child(),
        )

        self.secret_arn = secret.arn
        self.user_name = user.name
        self.user_arn = user.arn
        self.reader_policy_arn = reader.arn
        self.rotation_function_name = function.name
        self.alarm_topic_arn = pulumi.Output.from_input(topic_arn)
        self.self_read_access = pulumi.Output.from_input(_self_read_access(args.self_read))
        self.register_outputs(
            {
                "secret_arn": self.secret_arn,
                "user_name": self.user_name,
                "user_arn": self.user_arn,
                "reader_policy_arn": self.reader_policy_arn,
                "rotation_function_name": self.rotation_function_name,
                "alarm_topic_arn": self.alarm_topic_arn,
                "self_read_access": self.self_read_access,
            }
        )

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        """Options for a child: parented to this component (a fresh object each time)."""
        return pulumi.ResourceOptions(parent=self, **options)

    def _secret(self) -> aws.secretsmanager.Secret:
        name, args = self._consumer, self._consumer_args
        # No version: the first-key step writes the bootstrap value and the first key. A
        # program-owned version would put a stale value back after a refresh, and reading it
        # on refresh would let whoever deploys read a key (GetSecretValue).
        return aws.secretsmanager.Secret(
            self._names.secret,
            description=f"Rotated IAM access key of AI consumer {name}",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=args.recovery_window_days,
            tags=self._tags,
            opts=self._child(),
        )

    def _user_policies(self, user: aws.iam.User, secret: aws.secretsmanager.Secret) -> None:
        name, args = self._consumer, self._consumer_args
        self_read = args.self_read
        document: pulumi.Input[str]
        if self_read is None:
            document = json.dumps(
                iam_policies.consumer_user_policy(args.read_paths, args.write_paths)
            )
        else:
            # Self-read names the secret's ARN, so this policy waits for the secret.
            document = secret.arn.apply(
                lambda arn: json.dumps(
                    iam_policies.consumer_user_policy(
                        args.read_paths,
                        args.write_paths,
                        self_read_secret_arn=arn,
                        source_cidrs=self_read.source_cidrs or None,
                        source_vpces=self_read.source_vpces or None,
                        restrict_data_access=self_read.restrict_data_access,
                        kms_key_arn=args.kms_key_arn,
                    )
                )
            )
        # A managed policy, not an inline one: a user's inline policies share 2,048
        # characters, a managed policy has 6,144.
        data_access = aws.iam.Policy(
            self._names.data_access_policy,
            path=IAM_PATH,
            description=f"Data access of AI consumer {name}",
            policy=document,
            tags=self._tags,
            opts=self._child(),
        )
        aws.iam.UserPolicyAttachment(
            self._names.data_access_attachment,
            user=user.name,
            policy_arn=data_access.arn,
            opts=self._child(),
        )
        for arn in args.extra_policy_arns:
            # Named by the policy's name (unique, validated), not its position: removing one
            # policy must not re-attach the others.
            aws.iam.UserPolicyAttachment(
                self._names.extra_attachment(policy_name(arn)),
                user=user.name,
                policy_arn=arn,
                opts=self._child(),
            )

    def _rotation_function(
        self, user: aws.iam.User, secret: aws.secretsmanager.Secret, archive: LambdaArchive
    ) -> tuple[aws.lambda_.Function, aws.iam.RolePolicy]:
        name, args = self._consumer, self._consumer_args
        log_group = aws.cloudwatch.LogGroup(
            self._names.rotation_logs,
            retention_in_days=args.log_retention_days,
            tags=self._tags,
            opts=self._child(),
        )
        role = aws.iam.Role(
            self._names.rotation_role,
            path=IAM_PATH,
            description=f"Rotation Lambda of AI consumer {name}",
            assume_role_policy=json.dumps(iam_policies.lambda_assume_role_policy()),
            # The pipeline's deploy role creates and edits roles only inside the boundary.
            permissions_boundary=args.permissions_boundary_arn,
            tags=self._tags,
            opts=self._child(),
        )
        role_policy = aws.iam.RolePolicy(
            self._names.rotation_policy,
            role=role.name,
            policy=pulumi.Output.all(user.arn, secret.arn, log_group.arn).apply(
                lambda arns: json.dumps(
                    iam_policies.rotation_function_policy(
                        user_arn=arns[0],
                        secret_arn=arns[1],
                        log_group_arn=arns[2],
                        kms_key_arn=args.kms_key_arn,
                    )
                )
            ),
            opts=self._child(),
        )
        function = aws.lambda_.Function(
            self._names.rotation_function,
            description=f"Rotates the IAM access key of AI consumer {name}",
            role=role.arn,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=HANDLER,
            code=pulumi.FileArchive(str(archive.path)),
            source_code_hash=archive.source_code_hash,
            code_signing_config_arn=args.code_signing_config_arn,
            timeout=args.propagation_timeout_seconds + LAMBDA_TIMEOUT_MARGIN_SECONDS,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=function_environment(
                    user_name=user.name,
                    user_arn=user.arn,
                    propagation_timeout_seconds=args.propagation_timeout_seconds,
                    previous_key_grace_hours=args.previous_key_grace_hours,
                    log_level=args.log_level,
                    secret_arn=secret.arn,
                )
            ),
            # Pointing at our log group makes it exist before the function (an implicit
            # dependency), so Lambda never creates an unmanaged group without retention.
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=log_group.name
            ),
            tags=self._tags,
            opts=self._child(),
        )
        return function, role_policy

    def _rotation_wiring(
        self,
        secret: aws.secretsmanager.Secret,
        function: aws.lambda_.Function,
        role_policy: aws.iam.RolePolicy,
        alarm_wiring: list[pulumi.Resource],
    ) -> None:
        name, rotation = self._consumer, self._consumer_args.rotation
        # source_arn: only this secret's rotation may invoke the function (confused deputy).
        allow_secretsmanager = aws.lambda_.Permission(
            self._names.allow_secretsmanager,
            action="lambda:InvokeFunction",
            function=function.name,
            principal="secretsmanager.amazonaws.com",
            source_arn=secret.arn,
            opts=self._child(),
        )
        # The first key, minted synchronously: `pulumi up` fails here, naming the cause, unless
        # the key exists and authenticates as the user. The function must be able to act (its
        # role policy), and a failure must find someone to tell (the alarm wiring: errors
        # alarm, RotationFailed rule and target, topic policy). Invoked on creation only; its
        # result (a decision and a key id, never secret material) is all that Pulumi records.
        first_key = aws.lambda_.Invocation(
            self._names.first_key,
            function_name=function.name,
            input=secret.arn.apply(lambda arn: json.dumps(provision_event(arn))),
            lifecycle_scope="CREATE_ONLY",
            opts=self._child(depends_on=[role_policy, *alarm_wiring]),
        )
        # Enabling rotation runs Secrets Manager's configuration test (testSecret against the
        # current key): it needs the permission, the role policy, the first key and the alarm
        # wiring. None of
        # them is an input of the rotation, hence explicit depends_on. RotateImmediately=false:
        # the provider calls RotateSecret again on every change of the rotation rules, and a
        # schedule edit must never mint or delete a key.
        aws.secretsmanager.SecretRotation(
            self._names.rotation,
            secret_id=secret.arn,
            rotation_lambda_arn=function.arn,
            rotate_immediately=False,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                automatically_after_days=rotation.days,
                schedule_expression=rotation.expression,
                duration=rotation.window,
            ),
            opts=self._child(
                depends_on=[allow_secretsmanager, first_key, role_policy, *alarm_wiring]
            ),
        )
        sweep = aws.cloudwatch.EventRule(
            self._names.sweep,
            description=f"Retire the previous access key of AI consumer {name} after its grace",
            schedule_expression=schedule.SWEEP_SCHEDULE,
            tags=self._tags,
            opts=self._child(),
        )
        aws.cloudwatch.EventTarget(
            self._names.sweep_target,
            rule=sweep.name,
            arn=function.arn,
            input=secret.arn.apply(lambda arn: json.dumps(sweep_event(arn))),
            opts=self._child(),
        )
        aws.lambda_.Permission(
            self._names.allow_sweep,
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=sweep.arn,
            opts=self._child(),
        )

    def _alarms(
        self, secret: aws.secretsmanager.Secret, function: aws.lambda_.Function
    ) -> tuple[pulumi.Input[str], list[pulumi.Resource]]:
        """The alarms; returns the topic ARN and the resources a failure's alert goes through."""
        name, args = self._consumer, self._consumer_args
        topic = None
        topic_arn: pulumi.Input[str]
        if args.alarm_topic_arn is None:
            topic = aws.sns.Topic(self._names.alarm_topic, tags=self._tags, opts=self._child())
            topic_arn = topic.arn
        else:
            topic_arn = args.alarm_topic_arn
        errors = aws.cloudwatch.MetricAlarm(
            self._names.errors_alarm,
            alarm_description=f"The rotation Lambda of AI consumer {name} failed",
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": function.name},
            statistic="Sum",
            period=ERRORS_ALARM_PERIOD_SECONDS,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # No invocations means no errors: silence is not an alarm.
            treat_missing_data="notBreaching",
            alarm_actions=[topic_arn],
            tags=self._tags,
            opts=self._child(),
        )
        rotation_failed = aws.cloudwatch.EventRule(
            self._names.rotation_failed_rule,
            description=f"Secrets Manager failed to rotate the key of AI consumer {name}",
            event_pattern=secret.arn.apply(
                lambda arn: json.dumps(rotation_failed_event_pattern(arn))
            ),
            tags=self._tags,
            opts=self._child(),
        )
        target = aws.cloudwatch.EventTarget(
            self._names.rotation_failed_target,
            rule=rotation_failed.name,
            arn=topic_arn,
            opts=self._child(),
        )
        wiring: list[pulumi.Resource] = [errors, rotation_failed, target]
        if topic is not None:
            topic_policy = aws.sns.TopicPolicy(
                self._names.alarm_topic_policy,
                arn=topic.arn,
                policy=pulumi.Output.all(topic.arn, rotation_failed.arn, errors.arn).apply(
                    lambda arns: json.dumps(
                        iam_policies.alarm_topic_policy(
                            topic_arn=arns[0], event_rule_arns=[arns[1]], alarm_arns=[arns[2]]
                        )
                    )
                ),
                opts=self._child(),
            )
            wiring.append(topic_policy)
            if args.alarm_email is not None:
                aws.sns.TopicSubscription(
                    self._names.alarm_email,
                    topic=topic.arn,
                    protocol="email",
                    endpoint=args.alarm_email,
                    opts=self._child(),
                )
        return topic_arn, wiring


def _self_read_access(self_read: SelfRead | None) -> dict[str, Any]:
    if self_read is None:
        return {"enabled": False, "sourceCidrs": [], "sourceVpces": [], "fromAnywhere": False}
    return {
        "enabled": True,
        "sourceCidrs": list(self_read.source_cidrs),
        "sourceVpces": list(self_read.source_vpces),
        "fromAnywhere": self_read.allow_from_anywhere,
    }
