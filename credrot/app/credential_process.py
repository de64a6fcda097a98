"""Rotated keys for any AWS SDK outside AWS, through ``credential_process`` in ~/.aws/config.

Two commands (``credrot.ops.commands.export`` and ``.credential_process``):

- ``credrot export SECRET --profile NAME``: the operator's one-time seeding, with
  the operator's own credentials. Reads AWSCURRENT, seeds the workload's key cache
  (``credrot.app.key_cache``), writes ``[profile NAME]`` with a ``credential_process`` line into
  the AWS config file, and checks that the key can read its own secret from this host.
- ``credrot credential-process --secret-id ARN --cache PATH``: what every SDK runs.
  Prints ``{"Version": 1, "AccessKeyId", "SecretAccessKey", "Expiration"}`` from the cache;
  after the refresh window it first re-reads the secret with the cached key (self-read).

``Expiration`` is the end of the refresh window plus ``SDK_REFRESH_LEAD`` (15 minutes).
SDKs ask again *before* Expiration (botocore 15 min before, others less), and the command
re-reads the secret only once the window is over; were Expiration the window's end, botocore
would run the command on every call of its last 15 minutes and get the same key each time.
With the lead, an SDK asks once the window is over and gets a new key with a new Expiration.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import stat
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credrot.app.key_cache import (
    CachedKey,
    KeyCache,
    default_cache_path,
    make_private_directories,
    replace_atomically,
)
from credrot.app.secret import (
    DEFAULT_REFRESH_SECONDS,
    current_record,
    get_value,
    region_or_environment,
)
from credrot.app.self_read import read_with_key
from credrot.errors import CommandError, CredentialError, FileAccessError, describe_os_error

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "SDK_REFRESH_LEAD",
    "ExportResult",
    "credential_process_command",
    "export",
    "process_output",
    "upsert_profile",
]

SDK_REFRESH_LEAD = timedelta(minutes=15)
CREDROT_DIR = Path(__file__).resolve().parent.parent

# Settings that would make the SDKs take credentials from elsewhere than credential_process.
_CONFLICTING_SETTINGS = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "role_arn",
    "source_profile",
    "credential_source",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
)
_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]*)\]\s*(?:[#;].*)?$")
_OPTION = re.compile(r"^(?P<key>[^\s=#;\[][^=]*?)\s*=")
_PROFILE_NAME = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")


def process_output(key: CachedKey, refresh_seconds: float) -> dict[str, Any]:
    """The credential_process JSON for ``key`` (holds the secret: print it to stdout only)."""
    expiration = key.fresh_until(refresh_seconds) + SDK_REFRESH_LEAD
    return {
        "Version": 1,
        "AccessKeyId": key.access_key_id,
        "SecretAccessKey": key.secret_access_key,
        "Expiration": expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def credential_process_command(
    secret_arn: str,
    cache_path: Path,
    *,
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ambient: bool = False,
    program: list[str] | None = None,
) -> str:
    """The ``credential_process`` value: works from any directory, with no shell.

    SDKs split it like a POSIX shell would (botocore: shlex) and run it without one.
    ``program`` defaults to ``credrot_program()``.
    """
    argv = [
        *(program or credrot_program()),
        "credential-process",
        "--secret-id",
        secret_arn,
        "--cache",
        str(cache_path),
    ]
    if refresh_seconds != DEFAULT_REFRESH_SECONDS:
        argv += ["--refresh-seconds", f"{refresh_seconds:g}"]
    if ambient:
        argv.append("--ambient")
    return shlex.join(argv)


def credrot_program() -> list[str]:
    """How an SDK runs credrot: the installed ``credrot`` script of this interpreter
    (absolute path), else, in a checkout with no install, this interpreter (absolute, not
    resolved: a venv's python must stay the venv's) on the package directory, which
    ``credrot/__main__.py`` supports. Either works whatever the current directory is."""
    for scheme in sysconfig.get_scheme_names():
        # The scheme this very credrot was installed by owns the script installed with it.
        if Path(sysconfig.get_path("purelib", scheme)).resolve() == CREDROT_DIR.parent:
            script = Path(sysconfig.get_path("scripts", scheme)) / "credrot"
            if script.is_file() and os.access(script, os.X_OK):
                return [str(script)]
    return [os.path.abspath(sys.executable), str(CREDROT_DIR)]


def section_name(profile: str) -> str:
    """The config file's section for ``profile`` ("default" has no "profile " prefix)."""
    return "default" if profile == "default" else f"profile {profile}"


def check_profile_name(profile: str) -> str:
    """A profile name that is safe inside ``[profile NAME]`` and on a command line."""
    if not _PROFILE_NAME.fullmatch(profile):
        raise CommandError(
            f"--profile {profile!r}: use 1-64 letters, digits and _.@+- characters", exit_code=2
        )
    return profile


def upsert_profile(text: str, section: str, values: Mapping[str, str]) -> str:
    """``text`` (an AWS config file) with ``values`` set in ``[section]``.

    Line-based, so that everything else (other sections, comments, nested settings such as
    ``s3 =`` blocks, order) stays byte for byte. Raises CommandError if the section holds a
    setting that would make SDKs ignore credential_process.
    """
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next(
        (i for i, line in enumerate(lines) if _section_of(line) == section),
        None,
    )
    if start is None:
        block = [f"[{section}]\n", *(f"{key} = {value}\n" for key, value in values.items())]
        separator = ["\n"] if lines and lines[-1].strip() else []
        return "".join([*lines, *separator, *block])
    end = next(
        (i for i in range(start + 1, len(lines)) if _section_of(lines[i]) is not None),
        len(lines),
    )
    body = lines[start + 1 : end]
    conflicts = sorted(
        {key for key in (_option_of(line) for line in body) if key in _CONFLICTING_SETTINGS}
    )
    if conflicts:
        raise CommandError(
            f"[{section}] already has {', '.join(conflicts)}: SDKs would take credentials from"
            " there instead of credential_process. Choose another --profile, or remove them"
        )
    for key, value in values.items():
        body = _set_option(body, key, value)
    return "".join([*lines[: start + 1], *body, *lines[end:]])


def _section_of(line: str) -> str | None:
    match = _SECTION.match(line)
    return " ".join(match["name"].split()) if match else None


def _option_of(line: str) -> str | None:
    match = _OPTION.match(line)
    return match["key"].strip().lower() if match else None


def _set_option(body: list[str], key: str, value: str) -> list[str]:
    new_line = f"{key} = {value}\n"
    for index, line in enumerate(body):
        if _option_of(line) == key:
            # Drop the old value's continuation lines (indented, non-blank) too.
            stop = index + 1
            while stop < len(body) and body[stop][:1] in (" ", "\t") and body[stop].strip():
                stop += 1
            return [*body[:index], new_line, *body[stop:]]
    # A new option goes after the section's last setting, before trailing blank lines.
    insert_at = len(body)
    while insert_at > 0 and not body[insert_at - 1].strip():
        insert_at -= 1
    return [*body[:insert_at], new_line, *body[insert_at:]]


def write_config_file(path: Path, section: str, values: Mapping[str, str]) -> None:
    """Set ``values`` in ``[section]`` of the AWS config file at ``path``, atomically.

    The result is checked with the same parser botocore uses (RawConfigParser) before it
    replaces the file; a new file is created 0600 (its new directories 0700). Only a regular
    file is ever replaced (a symlink to one stays a symlink): never a device such as
    /dev/null, a FIFO or a directory.
    """
    text, mode = read_config_file(path)
    updated = upsert_profile(text, section, values)
    parser = _parse_config(updated, path)
    written = dict(parser.items(section)) if parser.has_section(section) else {}
    if any(written.get(key) != value for key, value in values.items()):
        raise CommandError(f"could not set {', '.join(values)} in [{section}] of {path}")
    try:
        make_private_directories(path.parent)
        # A config file that is a symlink (to a dotfiles repository, say) stays one.
        target = path.resolve()
        _require_regular_or_absent(target, path)
        replace_atomically(target, updated.encode("utf-8"), mode)
    except OSError as error:
        raise FileAccessError(describe_os_error("write the AWS config file", path, error)) from None


def read_config_file(path: Path) -> tuple[str, int]:
    """(text, mode) of the AWS config file; ("", 0600) if it does not exist. Refuses a
    path that is not a regular file (or a symlink to one)."""
    try:
        _require_regular_or_absent(path.resolve(), path)
        with open(path, "rb") as handle:
            raw = handle.read()
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return "", 0o600
    except OSError as error:
        raise FileAccessError(describe_os_error("read the AWS config file", path, error)) from None
    text = _decoded(raw)
    if text is None:
        raise CommandError(f"{path} is not UTF-8 text: fix it first (the AWS SDKs need it)")
    return text, mode


def _decoded(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _require_regular_or_absent(target: Path, given: Path) -> None:
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(status.st_mode):
        kind = "a directory" if stat.S_ISDIR(status.st_mode) else "not a regular file"
        raise FileAccessError(
            f"the AWS config file {given} is {kind}: credrot only ever replaces a regular"
            " file. Pass --config-file with a regular file (or unset AWS_CONFIG_FILE)"
        )


def _parse_config(text: str, path: Path) -> configparser.RawConfigParser:
    """Parse as botocore does (RawConfigParser); CommandError if it would refuse the file."""
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as error:
        raise CommandError(
            f"{path} does not parse as an AWS config file ({type(error).__name__}); fix it"
            " first (the AWS SDKs would refuse it too)"
        ) from None
    return parser


def static_keys_in_credentials_file(path: Path, profile: str) -> bool:
    """Whether the shared credentials file gives ``profile`` static keys (which SDKs
    prefer to credential_process)."""
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return False
    return parser.has_option(profile, "aws_access_key_id")


@dataclass(frozen=True)
class ExportResult:
    """What ``export`` did: no secret, key id only."""

    profile: str
    config_file: Path
    cache_path: Path
    secret_arn: str
    user_name: str
    access_key_id: str
    command: str
    region: str | None
    # None: the seeded key can read its own secret from this host; else why not.
    self_read_problem: str | None


def default_config_file() -> Path:
    """``$AWS_CONFIG_FILE`` or ``~/.aws/config``."""
    return Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config")


def default_credentials_file() -> Path:
    """``$AWS_SHARED_CREDENTIALS_FILE`` or ``~/.aws/credentials``."""
    return Path(
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials"
    )


def export(
    operator_secrets: SecretsManagerClient,
    secret_id: str,
    profile: str,
    *,
    config_file: Path | None = None,
    cache_path: Path | None = None,
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    region: str | None = None,
    ambient: bool = False,
    check_self_read: bool = True,
    now: datetime | None = None,
) -> ExportResult:
    """Seed the key cache from AWSCURRENT (read with ``operator_secrets``, the operator's
    Secrets Manager client) and write ``[profile <profile>]`` into the AWS config file.

    Refuses a secret with no key yet and a profile that already takes credentials from
    elsewhere. With ``check_self_read`` it then reads the secret once with the seeded key,
    as the workload will: ``self_read_problem`` says why that failed, if it did.
    """
    check_profile_name(profile)
    config_path = (config_file or default_config_file()).expanduser().absolute()
    section = section_name(profile)
    if static_keys_in_credentials_file(default_credentials_file(), profile):
        raise CommandError(
            f"profile {profile} has static keys in {default_credentials_file()}, which SDKs"
            " prefer to credential_process: remove them, or choose another --profile"
        )
    # Fails early (before anything is read or written) on a file or section that cannot
    # take the profile.
    _parse_config(upsert_profile(read_config_file(config_path)[0], section, {}), config_path)

    response = get_value(operator_secrets, secret_id)
    arn = str(response.get("ARN") or secret_id)
    record = current_record(response, arn, then=" first, then export again")
    assert record.access_key_id is not None and record.secret_access_key is not None
    region = region or region_or_environment(arn)
    cache = KeyCache(cache_path or default_cache_path(arn))
    seeded = CachedKey(
        secret_id=arn,
        user_name=record.user_name,
        access_key_id=record.access_key_id,
        secret_access_key=record.secret_access_key,
        fetched_at=now or datetime.now(UTC),
        region=region,
        profile=profile,
    )
    with cache.locked():
        cache.store(seeded)

    command = credential_process_command(
        arn, cache.path, refresh_seconds=refresh_seconds, ambient=ambient
    )
    values = {"credential_process": command}
    if region:
        values["region"] = region
    write_config_file(config_path, section, values)

    problem = None
    if check_self_read and not ambient:
        try:
            read_with_key(seeded, region=region)
        except CredentialError as error:
            problem = str(error)
    return ExportResult(
        profile=profile,
        config_file=config_path,
        cache_path=cache.path,
        secret_arn=arn,
        user_name=record.user_name,
        access_key_id=record.access_key_id,
        command=command,
        region=region,
        self_read_problem=problem,
    )
