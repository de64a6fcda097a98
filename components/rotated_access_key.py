"""RotatedAccessKey: an IAM user whose access key lives only in Secrets Manager and rotates.

Per consumer, with the default configuration, six AWS resources: an IAM user (tagged with the
stack's rotator id and the ARN of its one secret), its data-access policy inline (a managed
policy only when the document is over IAM's 2,048 characters of inline policy per user), a
secret holding its key as ``{"UserName", "AccessKeyId", "SecretAccessKey"}`` and tagged with
the user's name (the pointer the shared function follows), the rotation configuration, the
first-key step, and one EventBridge Scheduler schedule for the hourly sweep that retires the
previous key after its grace. The rotation function, the alarms and the reader policy are the
stack's (components/shared_rotator.py). With ``isolated_rotator`` the consumer gets today's
dedicated function instead: its own role scoped to its one user and secret, log group, invoke
permission (this secret's exact ARN) and errors alarm to the stack's topic.

Why the user's name is given, not generated: the user's tags name the secret's ARN and the
secret's tags name the user, so one of the two names must be known before both exist (IAM has
no tag-only resource, and a separate secret tag resource would be a seventh per consumer). A
new user is named like Pulumi would (the logical name, "-", seven hex characters) but from a
hash of the rotator id and the consumer (``default_user_name``); a user that exists already
keeps its generated name, which the program reads from the stack's own previous
``user_names`` export (``existing_user_name``). ``ignore_changes=["name"]`` makes sure a
missing or wrong previous name can never replace a user: the worst case is a pointer that
names no user, which the function refuses before any IAM write (and the alarm says so).

Pulumi never sees an access key: there is no ``aws.iam.AccessKey`` and no secret version.
The deploy's first-key step invokes the rotation function synchronously (``ProvisionKey``): it
writes the bootstrap value ``{"UserName": ...}`` itself and performs the first rotation, so
``pulumi up`` ends only once a key exists and authenticates as the user, and all Pulumi records
is the function's answer (a decision and a key id). Rotation is enabled first, without an
immediate rotation (Secrets Manager runs testSecret as a configuration test, which passes while
no key exists yet), because the shared role may touch a secret only once the secret's rotation
names the function; no later change of the schedule mints or deletes a key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam_policies, schedule
from components.config import RotatedAccessKeyArgs, SelfRead, check_name, policy_name
from components.contract import (
    COMPONENT_TYPE,
    CONSUMER_TAG,
    IAM_PATH,
    ROTATOR_TAG,
    SECRET_USER_TAG,
    USER_SECRET_TAG,
    ConsumerNames,
    provision_event,
    sweep_event,
)
from components.packaging import LambdaArchive
from components.rotation_function import Grants, rotation_function
from components.shared_rotator import (
    SharedRotator,
    errors_alarm,
    rotation_lambda_archive,
)

__all__ = ["RotatedAccessKey", "RotatedAccessKeyArgs"]

# IAM: "The size of each inline policy ... user policy size cannot exceed 2,048 characters"
# (all of a user's inline policies together, white space not counted).
MAX_INLINE_USER_POLICY_CHARS = 2048


class RotatedAccessKey(pulumi.ComponentResource):
    """One consumer's IAM user, secret, rotation, first key and sweep (and, isolated, its own
    rotation function).

    ``existing_user_name``: the generated name of the user if it exists already (see the
    module doc). ``window_slot``: the default cadence's day and hour (the program spreads a
    fleet's slots, ``StackConfig.window_slots``); by default the slot the name hashes to.

    Its outputs are typed where __init__ sets them, not as class annotations: the SDK reads a
    resource class's annotations (get_type_hints, uncached) at every registration, 0.4 ms a
    consumer for a component whose registration returns none of them.
    """

    def __init__(
        self,
        name: str,
        args: RotatedAccessKeyArgs,
        rotator: SharedRotator,
        opts: pulumi.ResourceOptions | None = None,
        *,
        existing_user_name: pulumi.Input[str | None] | None = None,
        window_slot: schedule.WindowSlot | None = None,
    ) -> None:
        # Everything that can fail does so before the first resource is registered.
        check_name(name, "name")
        if not isinstance(args, RotatedAccessKeyArgs):
            raise TypeError(f"args: {args!r} is not a RotatedAccessKeyArgs")
        if not isinstance(rotator, SharedRotator):
            raise TypeError(f"rotator: {rotator!r} is not the stack's SharedRotator")
        if args.isolated_rotator != (name in rotator.args.isolated_consumers):
            raise ValueError(
                f"isolated_rotator: {args.isolated_rotator!r} for {name!r} disagrees with the"
                f" SharedRotator's isolated_consumers {list(rotator.args.isolated_consumers)!r},"
                " whose sweep role must be able to invoke the function; build both from the"
                " same configuration"
            )
        rotation = args.rotation
        if rotation.is_default or window_slot is not None:
            rotation = schedule.with_slot(
                rotation, window_slot or schedule.window_slot(name, rotation.window_hours)
            )
        data_policy_document = self._data_policy_document(args)
        archive = rotation_lambda_archive() if args.isolated_rotator else None
        super().__init__(COMPONENT_TYPE, name, None, opts)

        # Not self._name: pulumi.Resource keeps its own _name.
        self._consumer = name
        self._names = names = ConsumerNames(name)
        self._consumer_args = args
        self._tags = {**args.tags, CONSUMER_TAG: name}
        self._parented = pulumi.ResourceOptions(parent=self)

        # An Output is used as it is: Output.from_input would add an apply to unwrap it.
        previous_name = (
            existing_user_name
            if isinstance(existing_user_name, pulumi.Output)
            else pulumi.Output.from_input(existing_user_name)
        )
        user_name = previous_name.apply(
            lambda existing: existing or default_user_name(name, rotator.args.rotator_id)
        )
        secret = self._secret(user_name)
        user = aws.iam.User(
            names.user,
            name=user_name,
            path=IAM_PATH,
            permissions_boundary=args.permissions_boundary_arn,
            # The rotation Lambda, not Pulumi, creates the user's access keys: without this,
            # deleting the user would fail on keys Pulumi does not know about.
            force_destroy=True,
            # USER_SECRET_TAG binds the user to its one secret: the function writes no key of a
            # user whose tag names another secret, so two secrets can never rotate one user's
            # keys. ROTATOR_TAG is what the shared role's iam:ResourceTag condition requires.
            tags={
                **self._tags,
                USER_SECRET_TAG: secret.arn,
                ROTATOR_TAG: rotator.args.rotator_id,
            },
            # A user is never renamed, which would replace it (see the module doc).
            opts=self._child(ignore_changes=["name"]),
        )
        self._user_policies(user, secret, data_policy_document)

        function_name: pulumi.Output[str]
        if archive is None:
            function_arn, function_name = rotator.function_arn, rotator.function_name
            invoke_ready = list(rotator.invoke_ready)
        else:
            function, invoke_ready = self._isolated_function(user, secret, archive, rotator)
            function_arn, function_name = function.arn, function.name

        # Enabling rotation runs Secrets Manager's configuration test (testSecret with no key
        # yet): it needs the permission and the role policy (invoke_ready), a failure needs
        # the alarm wiring, and the shared function follows the secret's user pointer. None of
        # them is an input of the rotation, hence explicit depends_on (the user too: its tags
        # carry the reverse binding and the rotator id the function checks).
        # RotateImmediately=false: the provider calls RotateSecret again on every change of the
        # rotation rules, and a schedule edit must never mint or delete a key.
        secret_rotation = aws.secretsmanager.SecretRotation(
            names.rotation,
            secret_id=secret.arn,
            rotation_lambda_arn=function_arn,
            rotate_immediately=False,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                automatically_after_days=rotation.days,
                schedule_expression=rotation.expression,
                duration=rotation.window,
            ),
            opts=self._child(depends_on=[*invoke_ready, *rotator.alarm_wiring, user]),
        )
        # The first key, minted synchronously once the rotation names the function (the shared
        # role may touch a secret only then): `pulumi up` fails here, naming the cause, unless
        # the key exists and authenticates as the user. Invoked on creation only (the provider
        # replaces it when function_name or input changes: migration re-invokes it, and
        # ProvisionKey leaves a working key alone); its result (a decision and a key id, never
        # secret material) is all that Pulumi records.
        first_key = aws.lambda_.Invocation(
            names.first_key,
            function_name=function_name,
            input=secret.arn.apply(lambda arn: json.dumps(provision_event(arn))),
            lifecycle_scope="CREATE_ONLY",
            opts=self._child(depends_on=[secret_rotation]),
        )
        # The hourly sweep, once a key exists. EventBridge Scheduler, not a rule: schedules
        # are 1,000,000 per account (rules: 300 per bus), and each carries its own secret id.
        # Mode OFF at a minute hashed from the name: a fleet's sweeps spread over the hour and
        # each still runs exactly hourly, which check_grace_fits counts on (a FLEXIBLE window
        # invokes "within 15 minutes after the scheduled time" for a 15-minute window, i.e.
        # up to 75 minutes apart).
        aws.scheduler.Schedule(
            names.sweep,
            description=f"Retire the previous access key of AI consumer {name} after its grace",
            schedule_expression=schedule.sweep_expression(name),
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=function_arn,
                role_arn=rotator.scheduler_role_arn,
                input=secret.arn.apply(lambda arn: json.dumps(sweep_event(arn))),
            ),
            opts=self._child(depends_on=[first_key, *rotator.sweep_ready]),
        )

        self.secret_arn: pulumi.Output[str] = secret.arn
        self.user_name: pulumi.Output[str] = user.name
        self.user_arn: pulumi.Output[str] = user.arn
        self.reader_policy_arn: pulumi.Output[str] = (
            self._own_reader_policy(secret).arn
            if args.own_reader_policy
            else rotator.reader_policy_arn
        )
        self.rotation_function_name: pulumi.Output[str] = function_name
        self.alarm_topic_arn: pulumi.Output[str] = rotator.alarm_topic_arn
        # {"enabled", "sourceCidrs", "sourceVpces", "fromAnywhere"}: lets the operator CLI
        # warn about a self-read that accepts any source address. Applied, not
        # Output.from_input(the dict): that unwraps the dict and its lists into a dozen
        # Outputs per consumer, for values that hold no Output.
        self.self_read_access: pulumi.Output[dict[str, Any]] = pulumi.Output.from_input(
            args.self_read
        ).apply(_self_read_access)
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

    def _own_reader_policy(self, secret: aws.secretsmanager.Secret) -> aws.iam.Policy:
        """A managed policy reading this secret only. Same logical name as the per-consumer
        reader of releases up to 5f8b18f: a migrated stack keeps that policy (an in-place
        update at most), so the roles it is attached to never lose their read."""
        kms_key_arn = self._consumer_args.kms_key_arn
        return aws.iam.Policy(
            self._names.reader_policy,
            path=IAM_PATH,
            description=f"Read the rotated access key of AI consumer {self._consumer}",
            policy=secret.arn.apply(
                lambda arn: json.dumps(
                    iam_policies.reader_policy(secret_arn=arn, kms_key_arn=kms_key_arn)
                )
            ),
            tags=self._tags,
            opts=self._child(),
        )

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        """Options for a child: parented to this component. Without other options, one shared
        object (the SDK copies the options it is given and never changes them)."""
        return pulumi.ResourceOptions(parent=self, **options) if options else self._parented

    def _secret(self, user_name: pulumi.Output[str]) -> aws.secretsmanager.Secret:
        name, args = self._consumer, self._consumer_args
        # No version: the first-key step writes the bootstrap value and the first key. A
        # program-owned version would put a stale value back after a refresh, and reading it
        # on refresh would let whoever deploys read a key (GetSecretValue).
        return aws.secretsmanager.Secret(
            self._names.secret,
            description=f"Rotated IAM access key of AI consumer {name}",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=args.recovery_window_days,
            # SECRET_USER_TAG: the user the shared function rotates for this secret (only the
            # deployer tags secrets; the user's own tag must name this secret back).
            tags={**self._tags, SECRET_USER_TAG: user_name},
            opts=self._child(),
        )

    def _data_policy_document(self, args: RotatedAccessKeyArgs) -> Any:
        """The data policy: a JSON string, or a function of the secret's ARN (self-read)."""
        self_read = args.self_read
        if self_read is None:
            return iam_policies.minified(
                iam_policies.consumer_user_policy(args.read_paths, args.write_paths)
            )

        def document(secret_arn: str) -> str:
            return iam_policies.minified(
                iam_policies.consumer_user_policy(
                    args.read_paths,
                    args.write_paths,
                    self_read_secret_arn=secret_arn,
                    source_cidrs=self_read.source_cidrs or None,
                    source_vpces=self_read.source_vpces or None,
                    restrict_data_access=self_read.restrict_data_access,
                    kms_key_arn=args.kms_key_arn,
                )
            )

        return document

    def _user_policies(
        self, user: aws.iam.User, secret: aws.secretsmanager.Secret, document: Any
    ) -> None:
        name, args = self._consumer, self._consumer_args
        policy: pulumi.Input[str]
        if isinstance(document, str):
            size, policy = len(document), document
        else:
            # Sized before the secret exists, with the longest ARN it could have.
            size = len(document(worst_case_secret_arn(self._names.secret)))
            policy = secret.arn.apply(document)
        if size <= MAX_INLINE_USER_POLICY_CHARS:
            # Inline: no customer managed policy (1,500 per account) and no attachment.
            aws.iam.UserPolicy(
                self._names.data_access_policy,
                user=user.name,
                policy=policy,
                opts=self._child(),
            )
        else:
            # Over IAM's 2,048 inline characters: a managed policy holds 6,144.
            data_access = aws.iam.Policy(
                self._names.data_access_policy,
                path=IAM_PATH,
                description=f"Data access of AI consumer {name}",
                policy=policy,
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

    def _isolated_function(
        self,
        user: aws.iam.User,
        secret: aws.secretsmanager.Secret,
        archive: LambdaArchive,
        rotator: SharedRotator,
    ) -> tuple[aws.lambda_.Function, list[pulumi.Resource]]:
        """Today's dedicated function: a role reaching this user's keys and this secret only."""
        name, args, names = self._consumer, self._consumer_args, self._names
        deployed = rotation_function(
            names=names,
            description=f"Rotates the IAM access key of AI consumer {name}",
            role_description=f"Rotation Lambda of AI consumer {name}",
            settings=args,
            archive=archive,
            bound_to=(user, secret),
            tags=self._tags,
            child=self._child,
            grants=lambda log_group, _: Grants(
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
                # Only this secret's rotation may invoke the function (confused deputy).
                invoked_for=secret.arn,
            ),
        )
        function = deployed.function
        errors = errors_alarm(
            names.errors_alarm,
            description=f"The rotation Lambda of AI consumer {name} failed",
            function_name=function.name,
            topic_arn=rotator.alarm_topic_arn,
            tags=self._tags,
            opts=self._child(),
        )
        return function, [deployed.permission, deployed.role_policy, errors]


def default_user_name(consumer: str, rotator_id: str) -> str:
    """The physical name of a new consumer's IAM user: shaped like Pulumi's generated names
    (logical name, "-", 7 hex characters) but stable, so the secret can name it before it exists.
    The rotator id ("<project>/<stack>") keeps two stacks of one account apart."""
    digest = hashlib.sha256(f"{rotator_id}/{consumer}".encode()).hexdigest()[:7]
    return f"{ConsumerNames(consumer).user}-{digest}"


def worst_case_secret_arn(secret_logical_name: str) -> str:
    """The longest ARN a secret of this logical name can get, to size a policy before it exists.

    Pulumi appends "-" and 7 characters to the logical name, Secrets Manager "-" and 6; the
    partition, region and account are given their longest plausible lengths.
    """
    return (
        f"arn:aws-iso-b:secretsmanager:ap-southeast-99:123456789012:secret:"
        f"{secret_logical_name}-1234567-AbCdEf"
    )


def _self_read_access(self_read: SelfRead | None) -> dict[str, Any]:
    if self_read is None:
        return {"enabled": False, "sourceCidrs": [], "sourceVpces": [], "fromAnywhere": False}
    return {
        "enabled": True,
        "sourceCidrs": list(self_read.source_cidrs),
        "sourceVpces": list(self_read.source_vpces),
        "fromAnywhere": self_read.allow_from_anywhere,
    }
