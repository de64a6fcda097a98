"""The drill: zero failed app calls through rotations, a sweep and a revoke, and a report.

These tests start the drill's own emulator: no other emulator may run in this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from credrot.ops.cli import main
from credrot.ops.limits import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE

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


def test_several_consumers_rotate_through_one_shared_function_with_zero_failed_app_calls(
    tmp_path: Path, output: Any, secret_watch: Any
) -> None:
    path = tmp_path / "report.json"
    argv = ["drill", *FAST, "--consumers", "3", "--rotations", "1", "--process-workers", "0"]
    assert main([*argv, "--json", str(path)]) == EXIT_OK
    report = json.loads(path.read_text())

    assert report["passed"] is True
    assert report["consumers"] == 3
    consumers = report["per_consumer"]
    assert [entry["name"] for entry in consumers] == ["drill-app", "drill-app-2", "drill-app-3"]
    # One function ran every invocation of every consumer's secret (the emulator's record).
    shared = report["shared_function"]["arn"]
    assert shared.endswith(":function:credrot-_shared-rotator")
    assert report["rotation_functions"] == [shared]
    assert report["shared_function"]["consumers_served"] == 3
    for entry in consumers:
        assert entry["shared_function"] is True
        assert entry["function_arn"] == shared
        assert entry["functions_invoked"] == [shared]
        # 1 rotation + the revoke's, each one finished by the function for this secret.
        assert entry["rotations"] == entry["rotations_finished_by_function"] == 2
        assert entry["first_key_id"] and entry["current_key_id"]
        assert entry["key_changed"] is True
        assert entry["first_key_id"] != entry["current_key_id"]
        assert entry["app_workers"] >= 1 and entry["app_calls"] > 0
        assert entry["app_failures"] == 0
        assert entry["sweep"]["ok"] is True
        assert entry["revoke"]["current_key_id"] == entry["current_key_id"]
    assert report["keys_changed"] == 3
    assert len({entry["secret_arn"] for entry in consumers}) == 3
    assert len({entry["current_key_id"] for entry in consumers}) == 3
    assert report["rotations"] == 6
    assert report["app_failures"] == 0
    assert report["app_calls"] == sum(entry["app_calls"] for entry in consumers)
    assert report["workers"] == 3
    assert report["handler_failures"] == 0
    assert report["invariant_violations"] == []

    text = output()
    assert (
        "Consumers          3, all rotated by one shared function credrot-_shared-rotator" in text
    )
    assert "key changed 3/3" in text
    assert "0 failed, " in text
    assert "Result             PASS" in text
    secret_watch.assert_absent(text, path.read_text())


@pytest.mark.parametrize("count", ["0", "201", "many"])
def test_a_consumer_count_outside_1_to_200_is_refused_before_anything_starts(
    count: str, output: Any
) -> None:
    assert main(["drill", "--consumers", count]) == EXIT_USAGE
    assert "--consumers" in output()
