"""The private botocore members credrot uses, fenced (see botocore_compat.py): pinned end."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "botocore_compat", Path(__file__).with_name("botocore_compat.py")
)
assert _spec is not None and _spec.loader is not None
botocore_compat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(botocore_compat)


def test_the_private_botocore_members_credrot_uses_still_exist() -> None:
    botocore_compat.check_private_members()


def test_a_credrot_session_refreshes_through_them() -> None:
    botocore_compat.check_behaviour()
