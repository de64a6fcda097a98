"""The drill: zero failed app calls through rotations, a sweep and a revoke, and a report.

These tests start the drill's own emulator: no other emulator may run in this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from credrot.ops.cli import main
from credrot.ops.limits import EXIT_OK, EXIT_PROBLEMS

# Faster than the defaults but with the same shape: the workers' refresh window is longer
# than the time between rotations, so they hold keys that get deleted or deactivated.
# A refresh window longer than two rotations even on a loaded machine: workers then still hold
# a key two rotations old, deleted (grace 0 in the drill), so the retry path is exercised
# whatever the machine's speed. With a 1 s window a slow rotation let every worker refresh.
FAST = ["--rotations", "2", "--workers", "2", "--refresh-seconds", "4", "--pause-seconds", "0.2"]


def test_the_drill_passes_with_zero_failed_app_calls_and_reports_as_json(
    tmp_path: Path, output: Any, secret_watch: Any
) -> None:
    path = tmp_path / "report.json"
    assert main(["drill", *FAST, "--json", str(path)]) == EXIT_OK
    report = json.loads(path.read_text())

    assert report["passed"] is True
    assert report["rotations"] == 5  # 2 rotations, 2 with process workers, the revoke's
    assert report["rotations_with_process_workers"] == 2
    assert report["app_calls"] > 0
    assert report["app_failures"] == 0
    assert report["handler_failures"] == 0
    assert report["invariant_violations"] == []
    assert report["invariant_checks"] == 7
    assert report["app_calls_recovered_by_retry"] > 0  # the drill did exercise the retry
    assert 0 < report["rotation_seconds"]["p50"] <= report["rotation_seconds"]["p95"]
    per_rotation = report["api_calls_per_rotation"]
    assert per_rotation["by_operation"]["iam:CreateAccessKey"] == 1
    assert per_rotation["total"] == pytest.approx(
        sum(per_rotation["by_operation"].values()), abs=0.05
    )
    assert report["secret_reads"] >= report["workers"]
    assert report["sweep"]["ok"] is True
    keys = {key["access_key_id"]: key for key in report["keys_at_end"]}
    assert len(keys) == 2
    current = keys[report["revoke"]["current_key_id"]]
    assert current["current"] is True and current["status"] == "Active"
    assert keys[report["revoke"]["deactivated_key_id"]]["status"] == "Inactive"
    assert report["emulator_only_allowance"]["policy"] == "EmulatorOnlyResourceWildcard"
    process = report["credential_process_workers"]
    assert process["workers"] == 1
    assert process["app_calls"] > 0
    assert process["app_failures"] == 0
    assert process["keys_used"] == 3  # the seeded key, then one per rotation it lived through
    assert process["locked_out_after_revoke"] is True
    assert process["lockout_message"].startswith("locked out")
    assert process["reseeded_after_revoke"] is True

    text = output()
    assert "drill [" in text  # live progress on stderr
    assert "Result             PASS" in text
    assert "credential_process workers, 0 failed" in text
    assert "EmulatorOnlyResourceWildcard" in text
    secret_watch.assert_absent(text, path.read_text())


def test_the_drill_fails_when_the_client_does_not_retry_a_rejected_key(
    tmp_path: Path, output: Any
) -> None:
    path = tmp_path / "report.json"
    argv = ["drill", *FAST, "--no-auth-retry", "--process-workers", "0", "--json", str(path)]
    assert main(argv) == EXIT_PROBLEMS
    report = json.loads(path.read_text())
    assert report["passed"] is False
    assert report["credential_process_workers"]["workers"] == 0
    assert report["app_failures"] > 0
    assert report["invariant_violations"] == []  # rotation itself stayed correct
    text = output()
    assert "Result             FAIL" in text
    assert "Process workers" not in text
