"""Entry point Pulumi runs for ``--policy-pack policy``: every guardrail, all mandatory.

Pulumi runs this folder as a script with only the folder on ``sys.path``; the repository
root goes there too, for ``components.limits`` and ``components.schedule`` (pure, standard
library only): the one definition of the longest rotation period and the one cron simulator,
both shared with the stack's configuration.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guardrails import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="ai-credential-rotation-guardrails",
    description=(
        "Guardrails of ai-credential-rotation: rotated secrets, no Pulumi-managed access keys, "
        "no over-broad IAM grants, Lambda logs with a retention, Secrets Manager invocations "
        "scoped to one secret."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
