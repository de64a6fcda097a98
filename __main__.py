"""ai-credential-rotation: rotated IAM access keys for AI applications.

For every entry of ``ai-credential-rotation:consumers`` this program deploys one
``RotatedAccessKey`` (components/rotated_access_key.py):

- an IAM user under ``/ai-credential-rotation/`` with a managed data-access policy (read on
  ``readPaths``, read-write on ``writePaths``, nothing else) and any ``extraPolicyArns``;
- a Secrets Manager secret holding the user's access key, started with a bootstrap value
  ``{"UserName": ...}``: the first key is minted by the rotation Lambda, never by Pulumi;
- the rotation Lambda (code from rotation_lambda/), its log group and least-privilege role,
  the rotation schedule (rotated immediately at deploy) and an hourly sweep that retires
  the previous key after ``previousKeyGraceHours``;
- alarms on Lambda errors and failed rotations, to an SNS topic (created, or
  ``alarmTopicArn``), optionally emailed to ``alarmEmail``;
- a reader managed policy an app team attaches to read the secret.

Configuration keys and defaults are documented in components/config.py. Exports, each a map
by consumer name: ``secret_arns``, ``reader_policy_arns``, ``user_names``, and
``self_read_access`` (whether a consumer's own key may read its secret, and from where).
"""

import pulumi

from components.config import STACK_KEYS, parse_stack_config
from components.rotated_access_key import RotatedAccessKey, RotatedAccessKeyArgs

config = pulumi.Config()
stack = parse_stack_config({key: config.get(key) for key in STACK_KEYS})

keys = {
    consumer.name: RotatedAccessKey(
        consumer.name, RotatedAccessKeyArgs.from_config(consumer, stack)
    )
    for consumer in stack.consumers
}

pulumi.export("secret_arns", {name: key.secret_arn for name, key in keys.items()})
pulumi.export("reader_policy_arns", {name: key.reader_policy_arn for name, key in keys.items()})
pulumi.export("user_names", {name: key.user_name for name, key in keys.items()})
pulumi.export("self_read_access", {name: key.self_read_access for name, key in keys.items()})
