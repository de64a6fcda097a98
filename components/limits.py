"""The longest a key may wait between two rotations: one number, one message.

Pure and dependency-free: the stack's configuration (``components.schedule``) refuses a
slower schedule before anything is deployed, and the policy pack (``policy/guardrails.py``,
run by Pulumi in its own virtualenv with only this repository on its path) refuses a slower
``SecretRotation`` in a preview. Both read this module, so they cannot disagree.
"""

from __future__ import annotations

MAX_ROTATION_DAYS = 90


def rotation_too_slow(longest_days: float) -> str:
    """Why a schedule that can wait ``longest_days`` between two rotations is refused."""
    return (
        f"can wait {longest_days:g} days between two rotations; keys must rotate at least "
        f"every {MAX_ROTATION_DAYS} days"
    )
