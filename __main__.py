"""ai-credential-rotation: rotated IAM access keys for AI applications.

Once per stack, one ``SharedRotator`` (components/shared_rotator.py): the rotation Lambda
(code from rotation_lambda/, reserved concurrency ``rotatorConcurrency``), its log group and
role (reaching only users tagged with this stack's rotator id and secrets whose rotation names
this function), one Secrets Manager invoke permission, the role EventBridge Scheduler uses for
the sweeps, one RotationFailed rule, one errors alarm, the alarm topic (created, or
``alarmTopicArn``; optionally emailed to ``alarmEmail``), and one attribute-based reader policy
(a principal tagged ``ai-credential-rotation:consumer=<name>`` reads that consumer's secret).

For every entry of ``ai-credential-rotation:consumers``, one ``RotatedAccessKey``
(components/rotated_access_key.py): an IAM user under ``/ai-credential-rotation/`` with an
inline data-access policy (read on ``readPaths``, read-write on ``writePaths``, nothing else;
managed when over IAM's inline size) and any ``extraPolicyArns``; a Secrets Manager secret and
the user's name in its tags; the rotation schedule (monthly in a slot hashed from the consumer's
name unless ``rotationDays``/``rotationSchedule`` say otherwise); the first-key step (the
rotation Lambda mints the first key, never Pulumi); and an hourly EventBridge Scheduler sweep
that retires the previous key after ``previousKeyGraceHours``. ``isolatedRotator: true`` gives
a consumer its own function, role, log group, permission and errors alarm instead.

Configuration keys and defaults are documented in components/config.py. Exports, each a map
by consumer name: ``secret_arns``, ``reader_policy_arns`` (the stack's one reader policy for
every consumer), ``user_names``, ``self_read_access`` (whether a consumer's own key may read
its secret, and from where) and ``rotation_function_names`` (the function rotating each one).
"""

from typing import Any

import pulumi

from components.config import STACK_KEYS, parse_stack_config
from components.rotated_access_key import RotatedAccessKey
from components.runtime_tuning import tune_for_large_stacks
from components.shared_rotator import SHARED_COMPONENT_NAME, SharedRotator

# A thousand consumers are 7,000 registrations: the SDK's per-registration overhead is most of
# the program's time. Before the first one: no automatic garbage collection (everything the
# program builds lives until it exits) and each registration's stack trace computed once per
# call path (components/runtime_tuning.py; bench/program.py measures both).
tuning = tune_for_large_stacks()
pulumi.log.debug(f"runtime tuning: {tuning}")

config = pulumi.Config()
stack = parse_stack_config(
    {key: config.get(key) for key in STACK_KEYS},
    rotator_id=f"{pulumi.get_project()}/{pulumi.get_stack()}",
)

rotator = SharedRotator(SHARED_COMPONENT_NAME, stack.rotator)
# This stack's own previous outputs: the generated names of users that exist already, which
# their secrets must name (components/rotated_access_key.py explains why names are given).
previous = pulumi.StackReference(
    f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
)


def existing_user_name(consumer: str) -> pulumi.Output[str | None]:
    """The name of ``consumer``'s user as the stack's previous ``user_names`` export gives it."""

    def lookup(outputs: dict[str, Any] | None) -> str | None:
        name: str | None = ((outputs or {}).get("user_names") or {}).get(consumer)
        return name

    return previous.outputs.apply(lookup)


# A loop, not a comprehension: the SDK records the whole Python stack of every registration
# (its source position), and a comprehension's frame would add one to each of them.
keys: dict[str, RotatedAccessKey] = {}
for name, args in stack.consumers.items():
    keys[name] = RotatedAccessKey(
        name,
        args,
        rotator,
        existing_user_name=existing_user_name(name),
        window_slot=stack.window_slots.get(name),
    )

pulumi.export("secret_arns", {name: key.secret_arn for name, key in keys.items()})
pulumi.export("reader_policy_arns", {name: key.reader_policy_arn for name, key in keys.items()})
pulumi.export("user_names", {name: key.user_name for name, key in keys.items()})
pulumi.export("self_read_access", {name: key.self_read_access for name, key in keys.items()})
pulumi.export(
    "rotation_function_names", {name: key.rotation_function_name for name, key in keys.items()}
)
