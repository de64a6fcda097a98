"""Write the pipeline roles' IAM documents into docs/pipeline-role.md, from components.

Usage: ``python tests/delivery/render_pipeline_docs.py`` from the repository root, after
changing components/pipeline_policies.py. Each document sits between
``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``; the text around them is kept.
test_pipeline_policies.py fails while the page and the functions disagree.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "pipeline-role.md"
sys.path.insert(0, str(ROOT))

from components import pipeline_policies  # noqa: E402 (needs the root on sys.path)

# The example the page shows: AWS's documentation account, this project, the Pulumi.yaml region.
ACCOUNT = "111122223333"
REPO = "my-org/ai-credential-rotation"
REGION = "us-east-1"
PROJECT = "ai-credential-rotation"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/boundaries/ai-credential-rotation-users"

BLOCKS: dict[str, Callable[[], dict[str, Any]]] = {
    "deploy-trust-prod": lambda: pipeline_policies.pipeline_trust_policy(ACCOUNT, REPO, "prod"),
    "deploy-permissions": lambda: pipeline_policies.pipeline_deploy_policy(
        ACCOUNT, REGION, PROJECT, permissions_boundary_arn=BOUNDARY
    ),
    "preview-trust": lambda: pipeline_policies.preview_trust_policy(ACCOUNT, REPO),
    "preview-permissions": lambda: pipeline_policies.preview_read_policy(ACCOUNT, REGION, PROJECT),
}


def _block(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- generated:{name} -->\n)```json\n.*?\n```\n(<!-- /generated:{name} -->)", re.S
    )


def render(text: str) -> str:
    """``text`` with every generated block replaced by its document, freshly generated."""
    for name, make in BLOCKS.items():
        pattern = _block(name)
        if len(pattern.findall(text)) != 1:
            raise ValueError(f"{DOC.name}: expected one generated:{name} block")
        body = json.dumps(make(), indent=2)
        text = pattern.sub(lambda m, body=body: f"{m[1]}```json\n{body}\n```\n{m[2]}", text)
    return text


def main() -> None:
    """Rewrite the page in place."""
    DOC.write_text(render(DOC.read_text()))


if __name__ == "__main__":
    main()
