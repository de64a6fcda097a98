"""Entry point Pulumi runs for ``--policy-pack policy``: every guardrail, all mandatory."""

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
