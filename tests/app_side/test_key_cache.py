"""The key cache and the self-read decision, on plain files and a fake reader (no AWS)."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.credentials import RefreshableCredentials

from credrot.app.credential_process import SDK_REFRESH_LEAD, process_output, upsert_profile
from credrot.app.key_cache import CachedKey, KeyCache, default_cache_path
from credrot.app.secret import KeyRecord
from credrot.app.self_read import NotSeededError, aws_error, current_key
from credrot.errors import CommandError, CredentialError

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:agent-AbCdEf"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
NEW_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def seeded(path: Path, fetched_at: datetime = T0) -> KeyCache:
    cache = KeyCache(path)
    cache.store(CachedKey(ARN, "agent", "AKIAOLD", SECRET, fetched_at, "eu-west-1", "agent"))
    return cache


class Reader:
    """Serves the next key and counts reads; records which key signed each read."""

    def __init__(self) -> None:
        self.signed_with: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, key: CachedKey) -> KeyRecord:
        with self._lock:
            self.signed_with.append(key.access_key_id)
        return KeyRecord("agent", "AKIANEW", NEW_SECRET)


def test_within_the_window_the_cache_answers_without_a_read(tmp_path: Path) -> None:
    cache, reader = seeded(tmp_path / "c.json"), Reader()
    key, read = current_key(cache, ARN, 60, reader, now=lambda: T0 + timedelta(seconds=59))
    assert (key.access_key_id, read, reader.signed_with) == ("AKIAOLD", False, [])


def test_after_the_window_the_cached_key_reads_the_next_one_and_the_cache_keeps_it(
    tmp_path: Path,
) -> None:
    cache, reader = seeded(tmp_path / "c.json"), Reader()
    later = T0 + timedelta(seconds=61)
    key, read = current_key(cache, ARN, 60, reader, now=lambda: later)
    assert (key.access_key_id, read, reader.signed_with) == ("AKIANEW", True, ["AKIAOLD"])
    stored = cache.load()
    assert stored is not None
    assert (stored.access_key_id, stored.fetched_at, stored.profile) == ("AKIANEW", later, "agent")


def test_a_rejected_key_is_replaced_whatever_the_window_says(tmp_path: Path) -> None:
    cache, reader = seeded(tmp_path / "c.json"), Reader()
    key, _ = current_key(cache, ARN, 3600, reader, rejected_key_id="AKIAOLD", now=lambda: T0)
    assert key.access_key_id == "AKIANEW"
    # Another process already moved on: its key is taken from the cache, no read.
    key, read = current_key(cache, ARN, 3600, reader, rejected_key_id="AKIAOLD", now=lambda: T0)
    assert (key.access_key_id, read, len(reader.signed_with)) == ("AKIANEW", False, 1)


def test_many_threads_after_the_window_cause_one_read(tmp_path: Path) -> None:
    cache, reader = seeded(tmp_path / "c.json"), Reader()
    barrier = threading.Barrier(8)
    got: list[str] = []

    def ask() -> None:
        barrier.wait()
        got.append(current_key(cache, ARN, 60, reader)[0].access_key_id)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == ["AKIANEW"] * 8
    assert reader.signed_with == ["AKIAOLD"]


def test_files_are_created_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        cache = seeded(tmp_path / "deep" / "credrot" / "c.json")
        with cache.locked():
            pass
    finally:
        os.umask(previous)
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.lock_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in cache.path.parent.iterdir()) == ["c.json", "c.json.lock"]


def test_a_missing_cache_names_the_operators_seeding_command(tmp_path: Path) -> None:
    with pytest.raises(NotSeededError, match=f"credrot export {ARN} --profile"):
        current_key(KeyCache(tmp_path / "none.json"), ARN, 60, Reader())


def test_a_cache_of_another_secret_is_refused(tmp_path: Path) -> None:
    cache = seeded(tmp_path / "c.json")
    with pytest.raises(CredentialError, match="belongs to secret"):
        current_key(cache, ARN + "x", 60, Reader())


@pytest.mark.parametrize(
    "content",
    [f'{{"SecretAccessKey": "{SECRET}"', json.dumps({"Format": 1, "SecretAccessKey": SECRET})],
)
def test_a_damaged_cache_is_refused_without_quoting_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(CredentialError) as error:
        KeyCache(path).load()
    assert SECRET not in str(error.value)
    # Nothing chained either: a JSONDecodeError would carry the whole document.
    assert error.value.__cause__ is None
    assert error.value.__context__ is None or error.value.__suppress_context__


def test_the_default_path_hashes_the_secret_id_under_the_users_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    path = default_cache_path(ARN)
    assert path.parent == tmp_path / ".cache" / "credrot"
    assert "agent" not in path.name and path.suffix == ".json"
    assert default_cache_path(ARN) == path != default_cache_path(ARN + "x")


def test_the_output_expires_a_lead_after_the_window_so_sdks_ask_once_it_is_over() -> None:
    key = CachedKey(ARN, "agent", "AKIAOLD", SECRET, T0)
    output = process_output(key, 900)
    assert output == {
        "Version": 1,
        "AccessKeyId": "AKIAOLD",
        "SecretAccessKey": SECRET,
        "Expiration": "2026-03-01T12:30:00Z",
    }
    # botocore re-runs the command from this long before Expiration: not before the window ends.
    assert SDK_REFRESH_LEAD.total_seconds() >= RefreshableCredentials._advisory_refresh_timeout
    assert SECRET not in repr(key)


def test_an_emulators_xml_error_in_a_json_error_is_unwrapped() -> None:
    xml = "<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code><Message>bad</Message>"
    assert aws_error({"Error": {"Code": "403", "Message": xml}}) == ("InvalidClientTokenId", "bad")
    assert aws_error({"Error": {"Code": "AccessDeniedException", "Message": "no"}}) == (
        "AccessDeniedException",
        "no",
    )


def test_a_new_profile_is_appended_and_an_existing_one_updated_in_place() -> None:
    values = {"credential_process": "/py /credrot credential-process", "region": "eu-west-1"}
    assert upsert_profile("", "profile a", values) == (
        "[profile a]\ncredential_process = /py /credrot credential-process\nregion = eu-west-1\n"
    )
    text = "[default]\nregion = us-east-1\n[profile a]\nregion = us-west-2\n# note\n\n[x]\nk = v"
    assert upsert_profile(text, "profile a", values) == (
        "[default]\nregion = us-east-1\n[profile a]\nregion = eu-west-1\n# note\n"
        "credential_process = /py /credrot credential-process\n\n[x]\nk = v\n"
    )
    with pytest.raises(CommandError, match="role_arn"):
        upsert_profile("[profile a]\nrole_arn = arn:aws:iam::1:role/r\n", "profile a", values)
