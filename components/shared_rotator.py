"""SharedRotator: the stack's one rotation function and everything a fleet of consumers shares.

Per stack, whatever the number of consumers: the rotation Lambda (reserved concurrency), its
role and inline role policy, its log group, ONE Lambda permission letting Secrets Manager invoke
it for the project's secrets of this account (``source_account`` plus an ARN prefix), the role
EventBridge Scheduler assumes to run the consumers' sweeps, ONE RotationFailed rule matching the
project's secrets by ARN prefix and its target, ONE errors alarm, ONE alarm topic (its policy,
an optional e-mail subscription: one confirmation, not one per consumer), and ONE attribute-based
reader policy (a principal reads the secret whose consumer tag equals its own).

Scoping without a per-consumer role: the function's role reaches a secret only once that
secret's rotation names this function (``AllowRotationLambdaArn``), and a user's keys only when
the user carries this stack's rotator tag; the function itself refuses a user whose reverse tag
names another secret (see components/iam_policies.py and rotation_lambda). Consumers that want
their own blast radius set ``isolatedRotator: true`` (components/rotated_access_key.py).

Account, region and partition come from the log group's ARN, an output of the first resource
created, rather than from aws.get_caller_identity/get_region invokes: an invoke is one more API
call at every preview and one more thing the mock engine must answer, while the log group's ARN
names the very account-region the stack deploys to.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam_policies
from components.config import SharedRotatorArgs
from components.contract import (
    CONSUMER_TAG,
    HANDLER,
    IAM_PATH,
    RESOURCE_NAME_PREFIX,
    ROTATOR_TAG,
    SHARED_ROTATOR_TYPE,
    ConsumerNames,
    shared_names,
)
from components.packaging import LAMBDA_PACKAGE_DIR, LambdaArchive, write_lambda_zip
from components.rotation_function import Grants, rotation_function

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / "build"  # git-ignored
ERRORS_ALARM_PERIOD_SECONDS = 300
# The component's logical name in the program (its children are named by shared_names()).
SHARED_COMPONENT_NAME = "shared-rotator"


@functools.cache
def rotation_lambda_archive() -> LambdaArchive:
    """The rotation Lambda's zip, built once per program run and shared by every function."""
    return write_lambda_zip(LAMBDA_PACKAGE_DIR, BUILD_DIR, handler=HANDLER)


def rotation_failed_event_pattern(secret_arn_prefix: str) -> dict[str, Any]:
    """EventBridge pattern for Secrets Manager's RotationFailed event on the project's secrets.

    Secrets Manager emits it through CloudTrail as a service event, with the secret's ARN in
    ``additionalEventData.SecretId``; a prefix match covers every consumer with one rule.
    """
    return {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {
            "eventSource": ["secretsmanager.amazonaws.com"],
            "eventName": ["RotationFailed"],
            "additionalEventData": {"SecretId": [{"prefix": secret_arn_prefix}]},
        },
    }


class SharedRotator(pulumi.ComponentResource):
    """The stack's shared rotation function, sweep role, alarms and reader policy."""

    function_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]
    scheduler_role_arn: pulumi.Output[str]
    alarm_topic_arn: pulumi.Output[str]
    reader_policy_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: SharedRotatorArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if not isinstance(args, SharedRotatorArgs):
            raise TypeError(f"args: {args!r} is not a SharedRotatorArgs")
        archive = rotation_lambda_archive()
        super().__init__(SHARED_ROTATOR_TYPE, name, None, opts)
        self.args = args
        names = shared_names()
        self._tags = {**args.tags, ROTATOR_TAG: args.rotator_id}

        deployed = rotation_function(
            names=names,
            description="Rotates the IAM access keys of the stack's AI consumers",
            role_description="Shared rotation Lambda of ai-credential-rotation",
            settings=args,
            archive=archive,
            tags=self._tags,
            child=self._child,
            grants=self._grants,
            # A fleet's rotations can neither take the region's whole Lambda concurrency nor
            # burst Secrets Manager's ~50 TPS of writes; throttled async invocations (the
            # sweeps) are retried by EventBridge Scheduler, rotations by Secrets Manager.
            reserved_concurrency=args.concurrency,
        )
        function, role_policy, permission = (
            deployed.function,
            deployed.role_policy,
            deployed.permission,
        )
        scheduler_role, scheduler_policy = self._scheduler_role(names, function)
        topic_arn, alarm_wiring = self._alarms(names, function)
        reader = aws.iam.Policy(
            names.reader_policy,
            path=IAM_PATH,
            description=(
                "Read the rotated access key of the AI consumer named by the caller's "
                f"{CONSUMER_TAG} tag"
            ),
            policy=self.arns.apply(
                lambda arns: json.dumps(
                    iam_policies.abac_reader_policy(
                        arns=arns,
                        secret_name_prefix=RESOURCE_NAME_PREFIX,
                        consumer_tag=CONSUMER_TAG,
                        kms_key_arn=args.kms_key_arn,
                    )
                )
            ),
            tags=self._tags,
            opts=self._child(),
        )

        self.function = function
        # What a consumer's rotation must wait for: Secrets Manager may invoke the function,
        # and the function may act (its role policy).
        self.invoke_ready: list[pulumi.Resource] = [permission, role_policy]
        # What a failure's alert goes through: errors alarm, rule, target, topic policy.
        self.alarm_wiring: list[pulumi.Resource] = alarm_wiring
        # What a sweep schedule needs before its first run.
        self.sweep_ready: list[pulumi.Resource] = [scheduler_policy]
        self.function_arn = function.arn
        self.function_name = function.name
        self.scheduler_role_arn = scheduler_role.arn
        self.alarm_topic_arn = pulumi.Output.from_input(topic_arn)
        self.reader_policy_arn = reader.arn
        self.register_outputs(
            {
                "function_arn": self.function_arn,
                "function_name": self.function_name,
                "scheduler_role_arn": self.scheduler_role_arn,
                "alarm_topic_arn": self.alarm_topic_arn,
                "reader_policy_arn": self.reader_policy_arn,
            }
        )

    @property
    def tags(self) -> dict[str, str]:
        """The tags every shared resource carries (the rotator tag included)."""
        return dict(self._tags)

    def _grants(self, log_group: aws.cloudwatch.LogGroup, function: aws.lambda_.Function) -> Grants:
        """The shared role's reach (users by path and rotator tag, secrets by prefix and
        rotation function), and one invoke permission for every consumer: the account and
        the project's secrets by prefix (the provider sends SourceArn, which Lambda matches
        with ArnLike: terraform-provider-aws internal/service/lambda/permission.go reads it
        back from Condition.ArnLike["AWS:SourceArn"]). A resource policy holds 20 KB; one
        statement per secret would stop near 100 consumers."""
        args = self.args
        # The stack's partition, region and account, from an ARN of its own (see module doc).
        self.arns = log_group.arn.apply(iam_policies.ArnParts.of)
        return Grants(
            policy=pulumi.Output.all(self.arns, function.arn, log_group.arn).apply(
                lambda values: json.dumps(
                    iam_policies.shared_rotation_function_policy(
                        arns=values[0],
                        function_arn=values[1],
                        iam_path=IAM_PATH,
                        secret_name_prefix=RESOURCE_NAME_PREFIX,
                        rotator_tag=ROTATOR_TAG,
                        rotator_id=args.rotator_id,
                        log_group_arn=values[2],
                        kms_key_arn=args.kms_key_arn,
                    )
                )
            ),
            invoked_for=self.arns.apply(lambda a: a.secrets_arn_pattern(RESOURCE_NAME_PREFIX)),
            invoked_from_account=self.arns.apply(lambda a: a.account),
        )

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)

    def _scheduler_role(
        self, names: ConsumerNames, function: aws.lambda_.Function
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        args = self.args
        role = aws.iam.Role(
            names.scheduler_role,
            path=IAM_PATH,
            description="Runs the previous-key sweeps of ai-credential-rotation",
            assume_role_policy=self.arns.apply(
                lambda arns: json.dumps(iam_policies.scheduler_assume_role_policy(arns.account))
            ),
            permissions_boundary=args.permissions_boundary_arn,
            tags=self._tags,
            opts=self._child(),
        )
        # Isolated functions are created after this policy (by their consumers), so they are
        # named by their logical-name prefix: Pulumi appends a 7-character suffix.
        policy = aws.iam.RolePolicy(
            names.scheduler_policy,
            role=role.name,
            policy=pulumi.Output.all(self.arns, function.arn).apply(
                lambda values: json.dumps(
                    iam_policies.scheduler_role_policy(
                        function_arns=[
                            values[1],
                            *(
                                values[0].functions_arn_pattern(
                                    f"{ConsumerNames(consumer).rotation_function}-"
                                )
                                for consumer in args.isolated_consumers
                            ),
                        ]
                    )
                )
            ),
            opts=self._child(),
        )
        return role, policy

    def _alarms(
        self, names: ConsumerNames, function: aws.lambda_.Function
    ) -> tuple[pulumi.Input[str], list[pulumi.Resource]]:
        args = self.args
        topic = None
        topic_arn: pulumi.Input[str]
        if args.alarm_topic_arn is None:
            topic = aws.sns.Topic(names.alarm_topic, tags=self._tags, opts=self._child())
            topic_arn = topic.arn
        else:
            topic_arn = args.alarm_topic_arn
        errors = errors_alarm(
            names.errors_alarm,
            description="The shared rotation Lambda failed",
            function_name=function.name,
            topic_arn=topic_arn,
            tags=self._tags,
            opts=self._child(),
        )
        rotation_failed = aws.cloudwatch.EventRule(
            names.rotation_failed_rule,
            description="Secrets Manager failed to rotate the key of an AI consumer",
            event_pattern=self.arns.apply(
                lambda arns: json.dumps(
                    rotation_failed_event_pattern(
                        arns.secrets_arn_pattern(RESOURCE_NAME_PREFIX).removesuffix("*")
                    )
                )
            ),
            tags=self._tags,
            opts=self._child(),
        )
        target = aws.cloudwatch.EventTarget(
            names.rotation_failed_target,
            rule=rotation_failed.name,
            arn=topic_arn,
            opts=self._child(),
        )
        wiring: list[pulumi.Resource] = [errors, rotation_failed, target]
        if topic is not None:
            topic_policy = aws.sns.TopicPolicy(
                names.alarm_topic_policy,
                arn=topic.arn,
                policy=pulumi.Output.all(topic.arn, rotation_failed.arn, self.arns).apply(
                    lambda values: json.dumps(
                        iam_policies.alarm_topic_policy(
                            topic_arn=values[0],
                            event_rule_arns=[values[1]],
                            # The project's alarms: the shared one and any isolated consumer's.
                            alarm_arns=[
                                f"arn:{values[2].partition}:cloudwatch:{values[2].region}:"
                                f"{values[2].account}:alarm:{RESOURCE_NAME_PREFIX}*"
                            ],
                        )
                    )
                ),
                opts=self._child(),
            )
            wiring.append(topic_policy)
            if args.alarm_email is not None:
                aws.sns.TopicSubscription(
                    names.alarm_email,
                    topic=topic.arn,
                    protocol="email",
                    endpoint=args.alarm_email,
                    opts=self._child(),
                )
        return topic_arn, wiring


def errors_alarm(
    name: str,
    *,
    description: str,
    function_name: pulumi.Input[str],
    topic_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    """An alarm on any error of a rotation function, to the stack's topic."""
    return aws.cloudwatch.MetricAlarm(
        name,
        alarm_description=description,
        namespace="AWS/Lambda",
        metric_name="Errors",
        dimensions={"FunctionName": function_name},
        statistic="Sum",
        period=ERRORS_ALARM_PERIOD_SECONDS,
        evaluation_periods=1,
        threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        # No invocations means no errors: silence is not an alarm.
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        tags=dict(tags),
        opts=opts,
    )
