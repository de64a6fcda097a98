"""Moving a stack of the previous release (5f8b18f) to the shared layout replaces no user and
no secret: their URNs, and every input whose change would replace them, are unchanged.

The fixture is what that release's own program registered under the mock engine with the
same configuration (regenerate with tests/program/record_migration_fixture.py). No alias is
needed: users and secrets keep their parent (the RotatedAccessKey component of the same
name) and their logical names. Users are now named by the program; an existing user keeps the
name the engine generated, which the program reads from the stack's previous ``user_names``
export (here: the fixture's).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from record_migration_fixture import (  # noqa: E402
    MIGRATION_CONFIG,
    READER_INPUTS,
    READER_POLICY,
    REPLACE_INPUTS,
    effective_inputs,
)

FIXTURE = HERE / "migration_5f8b18f.json"


def test_the_previous_release_fixture_holds_every_user_and_secret() -> None:
    recorded = json.loads(FIXTURE.read_text())["resources"]
    names = {urn.rsplit("::", 1)[1] for urn in recorded}
    consumers = [c["name"] for c in MIGRATION_CONFIG["consumers"]]
    assert names == {f"credrot-{c}-{role}" for c in consumers for role in ("user", "secret")}


def test_users_and_secrets_keep_their_urns_and_replace_relevant_inputs(engine: Any) -> None:
    fixture = json.loads(FIXTURE.read_text())
    engine.mocks.previous_outputs = fixture["exports"]
    engine.run_program(MIGRATION_CONFIG)
    # The fixture was recorded on stack "prod"; the URN differs only in the stack's name.
    now = {
        r.urn.replace("urn:pulumi:test::", "urn:pulumi:prod::", 1): effective_inputs(
            r.type, r.name, r.inputs
        )
        for r in engine.registered()
        if r.type in REPLACE_INPUTS
    }
    assert now == fixture["resources"]


def test_without_a_previous_export_a_new_user_gets_a_stable_name_its_secret_names(
    engine: Any,
) -> None:
    engine.run_program({"consumers": MIGRATION_CONFIG["consumers"][:1]})
    user = engine.one("aws:iam/user:User", "credrot-support-bot-user")
    secret = engine.one("aws:secretsmanager/secret:Secret", "credrot-support-bot-secret")
    assert user.inputs["name"].startswith("credrot-support-bot-user-")
    assert len(user.inputs["name"]) == len("credrot-support-bot-user-") + 7
    assert secret.inputs["tags"]["ai-credential-rotation:user"] == user.inputs["name"]
    assert "name" in user.ignore_changes


def test_own_reader_policies_keep_the_previous_release_urns_so_attached_roles_keep_reading(
    engine: Any,
) -> None:
    fixture = json.loads(FIXTURE.read_text())
    engine.mocks.previous_outputs = fixture["exports"]
    config = {
        **MIGRATION_CONFIG,
        "consumers": [{**c, "ownReaderPolicy": True} for c in MIGRATION_CONFIG["consumers"]],
    }
    engine.run_program(config)
    readers = {
        r.urn.replace("urn:pulumi:test::", "urn:pulumi:prod::", 1): r
        for r in engine.registered()
        if r.type == READER_POLICY and "RotatedAccessKey$" in r.urn
    }
    assert {
        urn: {key: r.inputs.get(key) for key in READER_INPUTS} for urn, r in readers.items()
    } == fixture["reader_policies"]
    for reader in readers.values():
        consumer = reader.name.removeprefix("credrot-").removesuffix("-reader")
        read = reader.policy()["Statement"][0]
        assert read["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
        assert [arn.rsplit(":", 1)[1] for arn in read["Resource"]] == [
            f"credrot-{consumer}-secret-AbCdEf"
        ]


def test_without_own_reader_policy_no_per_consumer_reader_is_deployed(engine: Any) -> None:
    engine.run_program(MIGRATION_CONFIG)
    assert not [
        r for r in engine.registered() if r.type == READER_POLICY and "RotatedAccessKey$" in r.urn
    ]
