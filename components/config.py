"""The components' Args and the stack's configuration, validated before any resource exists.

Pure: no Pulumi, no AWS. ``RotatedAccessKeyArgs`` and ``SharedRotatorArgs`` validate
themselves on construction with the ``check_*`` rules below, each a ValueError naming the
field, the bad value and the fix. ``parse_stack_config`` takes the raw values of the
``ai-credential-rotation:*`` keys (strings as ``pulumi.Config.get`` returns them, or already
decoded values as read from a ``Pulumi.<stack>.yaml``), checks what only a config file can get
wrong (JSON, unknown keys, placeholders, the list of consumers and their names) and builds
those Args directly: the same rules then name the config key, e.g.
``ai-credential-rotation:consumers[0].readPaths[0]``.

Keys (all under the ``ai-credential-rotation:`` namespace):

- ``consumers`` (required): a non-empty list of objects with ``name`` (lowercase letters,
  digits and dashes, at most 32 characters), ``readPaths`` and ``writePaths`` (lists of
  ``s3://bucket/prefix/``; at least one path in all), at most one of ``rotationDays``
  (1-90) and ``rotationSchedule`` (``rate()``/``cron()``), both honoured as written (with
  neither: monthly, on a day and at an hour derived from the consumer's name, distinct from
  the other consumers' while free slots remain, see components/schedule.py),
  ``rotationWindow`` (default ``4h``), ``extraPolicyArns`` (managed policy ARNs to attach to
  the user), ``selfRead`` (``{"sourceCidrs": [...], "sourceVpces": [...],
  "restrictDataAccess": bool, "allowFromAnywhere": bool}``, for workloads outside AWS that
  read their own secret) and ``isolatedRotator`` (default false: the stack's shared rotation
  function; true: a dedicated function whose role reaches this consumer's user and secret only)
  and ``ownReaderPolicy`` (default false: readers use the stack's attribute-based reader policy;
  true: also a managed policy reading this consumer's secret only, the one releases up to
  5f8b18f created, so roles that attached it keep reading through a migration).
- ``rotatorConcurrency`` (default 10, 1-1000): reserved concurrency of the shared rotation
  function, so a fleet's rotations can neither starve the region's Lambda concurrency nor burst
  Secrets Manager's write quota (about 50 TPS).
- ``previousKeyGraceHours`` (default 24): how long the previous key stays active after a
  rotation; must end (plus the hourly sweep) before the next rotation can come.
- ``alarmEmail``: subscribe this address to the alarm topic the stack creates.
- ``alarmTopicArn``: send alarms to this existing SNS topic instead of creating one (its
  policy must let events.amazonaws.com and cloudwatch.amazonaws.com publish).
- ``kmsKeyArn``: customer KMS key for the secrets (default: the AWS-managed key).
- ``permissionsBoundaryArn``: permissions boundary for the consumers' IAM users and the
  rotation roles (the pipeline's deploy role creates neither without it).
- ``codeSigningConfigArn``: Lambda code signing configuration of the rotation functions.
- ``propagationTimeoutSeconds`` (default 60, at most 870): how long testSecret waits for a
  new key to work; the Lambda's timeout is this plus 30 s.
- ``logRetentionDays`` (default 30, a value CloudWatch Logs accepts).
- ``recoveryWindowDays`` (default 7; 0 or 7-30): how long a deleted secret can be restored.
- ``logLevel`` (default INFO): the rotation Lambda's log level.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from typing import Any

from components.iam_policies import parse_s3_uri, require_arn
from components.schedule import (
    DEFAULT_ROTATION_WINDOW,
    RotationSchedule,
    WindowSlot,
    check_grace_fits,
    rotation_schedule,
    spread_windows,
)

NAMESPACE = "ai-credential-rotation"

DEFAULT_PREVIOUS_KEY_GRACE_HOURS = 24.0
DEFAULT_PROPAGATION_TIMEOUT_SECONDS = 60
DEFAULT_LOG_RETENTION_DAYS = 30
DEFAULT_RECOVERY_WINDOW_DAYS = 7
DEFAULT_LOG_LEVEL = "INFO"
DEFAULT_ROTATOR_CONCURRENCY = 10
MAX_ROTATOR_CONCURRENCY = 1000

# Lambda's hard timeout is 900 s; the function gets the propagation wait plus this margin.
LAMBDA_TIMEOUT_MARGIN_SECONDS = 30
MAX_PROPAGATION_TIMEOUT_SECONDS = 900 - LAMBDA_TIMEOUT_MARGIN_SECONDS
# Derived names are RESOURCE_NAME_PREFIX + name + role (components.contract.ConsumerNames).
# The longest 64-character-limited one, the EventBridge rule "credrot-<name>-rotation-failed",
# plus Pulumi's 8-character auto-name suffix ("-1a2b3c4") is 8 + 32 + 16 + 8 = 64: exactly the
# limit of IAM role, Lambda function and EventBridge rule names. tests/program checks each.
MAX_NAME_LENGTH = 32
# IAM attaches at most 10 managed policies to a user; the data-access policy is one of them.
MAX_EXTRA_POLICIES = 9
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

STACK_KEYS = (
    "consumers",
    "previousKeyGraceHours",
    "alarmEmail",
    "alarmTopicArn",
    "kmsKeyArn",
    "permissionsBoundaryArn",
    "codeSigningConfigArn",
    "propagationTimeoutSeconds",
    "logRetentionDays",
    "recoveryWindowDays",
    "logLevel",
    "rotatorConcurrency",
)
CONSUMER_KEYS = (
    "name",
    "readPaths",
    "writePaths",
    "rotationDays",
    "rotationSchedule",
    "rotationWindow",
    "extraPolicyArns",
    "selfRead",
    "isolatedRotator",
    "ownReaderPolicy",
)
SELF_READ_KEYS = ("sourceCidrs", "sourceVpces", "restrictDataAccess", "allowFromAnywhere")

# The shortest prefixes sourceCidrs accepts: anything broader is "anywhere" in all but name,
# which is what allowFromAnywhere is for.
MIN_SOURCE_PREFIX = {4: 8, 6: 32}
# Address space that aws:SourceIp never carries: AWS sees the public address a request
# leaves from (after NAT or a proxy), and none at all through a VPC endpoint. A CIDR that
# overlaps any of these is a mistake (it grants nothing, or only its public part, which the
# operator did not mean). Listed explicitly, per the IANA special-purpose registries
# (RFC 6890 and updates): ipaddress's is_private mixes several of these categories, and
# its lists change between Python versions.
NEVER_SOURCE_IP: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved for IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved for benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved (including the broadcast address)"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped (AWS sees the IPv4 address)"),
    ("64:ff9b::/96", "NAT64 translation (AWS sees the IPv4 address)"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "private (unique local)"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)
# Every public IPv6 address is global unicast; the rest of the space is reserved.
IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# VPC endpoint ids: "vpce-" and 8 (older) or 17 lowercase hexadecimal digits.
_VPCE_ID = re.compile(r"vpce-(?:[0-9a-f]{8}|[0-9a-f]{17})")

# Pulumi.prod.yaml ships as an example: each value to fill in holds this marker, and a stack
# that still holds one is refused before anything is created, naming the value to replace.
PLACEHOLDER_MARKER = "REPLACE_ME"

_NAME = re.compile(rf"[a-z0-9](?:[a-z0-9-]{{0,{MAX_NAME_LENGTH - 2}}}[a-z0-9])?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class SelfRead:
    """Let the consumer's own key read its own secret (workloads outside AWS).

    ``source_cidrs`` (public egress networks) and ``source_vpces`` (VPC endpoints, for
    workloads that reach AWS through PrivateLink) limit that to the workload's origins: a
    request from either is allowed. ``allow_from_anywhere`` must be set to drop the limit.
    ``restrict_data_access`` applies the same limit to S3 access.
    """

    source_cidrs: tuple[str, ...] = ()
    restrict_data_access: bool = False
    allow_from_anywhere: bool = False
    source_vpces: tuple[str, ...] = ()


# How an error names a field: a library user reads the Python field they wrote
# ("read_paths[0]"), a stack's operator the config key ("ai-credential-rotation:consumers[0]
# .readPaths[0]"). The rules are the Args' own, whichever way the Args are built.
FieldNames = Callable[[str], str]


def _as_written(field: str) -> str:
    return field


@dataclass(frozen=True, kw_only=True)
class StackSettings:
    """The settings of the rotation functions, the same for every component of a stack.

    Validated (and normalised: tuples, an upper-case log level, hours as a float) on
    construction; a ValueError names the field and the value. ``field_names`` says how the
    errors name a field (default: the Python field; the config parser: the config key).
    """

    previous_key_grace_hours: float = DEFAULT_PREVIOUS_KEY_GRACE_HOURS
    propagation_timeout_seconds: int = DEFAULT_PROPAGATION_TIMEOUT_SECONDS
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    log_level: str = DEFAULT_LOG_LEVEL
    kms_key_arn: str | None = None
    permissions_boundary_arn: str | None = None
    code_signing_config_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    field_names: InitVar[FieldNames | None] = None

    def _check_settings(self, name: FieldNames) -> None:
        _set(
            self,
            previous_key_grace_hours=check_grace_hours(
                self.previous_key_grace_hours, name("previous_key_grace_hours")
            ),
            log_level=check_log_level(self.log_level, name("log_level")),
        )
        check_propagation_timeout(
            self.propagation_timeout_seconds, name("propagation_timeout_seconds")
        )
        check_log_retention(self.log_retention_days, name("log_retention_days"))
        KMS_KEY_ARN.check_optional(self.kms_key_arn, name("kms_key_arn"))
        POLICY_ARN.check_optional(self.permissions_boundary_arn, name("permissions_boundary_arn"))
        CODE_SIGNING_CONFIG_ARN.check_optional(
            self.code_signing_config_arn, name("code_signing_config_arn")
        )
        check_tags(self.tags)


@dataclass(frozen=True)
class RotatedAccessKeyArgs(StackSettings):
    """What one consumer gets; validated on construction (ValueError names field and value).

    ``rotation_days`` (1-90) and ``rotation_schedule`` (``rate()``/``cron()``) are mutually
    exclusive; with neither, the key rotates monthly in the slot the consumer's name hashes to
    (``schedule.window_slot``; the program spreads a fleet's slots, see ``StackConfig``). With
    ``isolated_rotator`` the consumer gets its own rotation function (the alarm topic and the
    sweep role stay the stack's SharedRotator's). ``self_read`` lets the consumer's own key
    read its own secret (from its CIDRs). ``own_reader_policy`` adds a managed policy reading
    this secret only, under the logical name releases up to 5f8b18f used: roles that attached
    it keep reading while their teams move to the stack's attribute-based reader policy.
    """

    read_paths: tuple[str, ...] = ()
    write_paths: tuple[str, ...] = ()
    rotation_days: int | None = None
    rotation_schedule: str | None = None
    rotation_window: str = DEFAULT_ROTATION_WINDOW
    extra_policy_arns: tuple[str, ...] = ()
    recovery_window_days: int = DEFAULT_RECOVERY_WINDOW_DAYS
    self_read: SelfRead | None = None
    isolated_rotator: bool = False
    own_reader_policy: bool = False
    # Derived from rotation_days/rotation_schedule/rotation_window by validation.
    rotation: RotationSchedule = field(init=False, repr=False, compare=False)

    def __post_init__(self, field_names: FieldNames | None) -> None:
        name = field_names or _as_written
        read_paths = check_s3_paths(self.read_paths, name("read_paths"))
        write_paths = check_s3_paths(self.write_paths, name("write_paths"))
        check_paths_given(read_paths, write_paths, name("read_paths/write_paths"))
        rotation = rotation_schedule(
            days=self.rotation_days,
            expression=self.rotation_schedule,
            window=self.rotation_window,
            days_field=name("rotation_days"),
            expression_field=name("rotation_schedule"),
            window_field=name("rotation_window"),
        )
        self._check_settings(name)
        check_grace_fits(
            self.previous_key_grace_hours,
            rotation,
            grace_field=name("previous_key_grace_hours"),
            schedule_field=(
                f"{name('rotation_days')} {rotation.days}"
                if rotation.days is not None
                else f"{name('rotation_schedule')} {rotation.expression!r}"
                if rotation.expression is not None
                else "the default monthly cadence"
            ),
        )
        check_recovery_window(self.recovery_window_days, name("recovery_window_days"))
        check_bool(self.isolated_rotator, name("isolated_rotator"))
        check_bool(self.own_reader_policy, name("own_reader_policy"))
        _set(
            self,
            read_paths=read_paths,
            write_paths=write_paths,
            rotation=rotation,
            extra_policy_arns=check_policy_arns(self.extra_policy_arns, name("extra_policy_arns")),
            self_read=None if self.self_read is None else check_self_read(self.self_read, name),
        )


@dataclass(frozen=True)
class SharedRotatorArgs(StackSettings):
    """The stack-wide settings; validated on construction (ValueError names field and value).

    ``rotator_id`` is the value of the rotator tag on every user this function may rotate
    ("<project>/<stack>" in the program). ``isolated_consumers`` are the consumers with their
    own function: the sweep role may invoke theirs too.
    """

    rotator_id: str
    concurrency: int = DEFAULT_ROTATOR_CONCURRENCY
    alarm_topic_arn: str | None = None
    alarm_email: str | None = None
    isolated_consumers: tuple[str, ...] = ()

    def __post_init__(self, field_names: FieldNames | None) -> None:
        name = field_names or _as_written
        if not isinstance(self.rotator_id, str) or not 1 <= len(self.rotator_id) <= 256:
            raise ValueError(f"rotator_id: {self.rotator_id!r} is not a tag value of 1-256 chars")
        check_rotator_concurrency(self.concurrency, name("concurrency"))
        self._check_settings(name)
        check_alarm_destination(
            self.alarm_email,
            self.alarm_topic_arn,
            email_field=name("alarm_email"),
            topic_field=name("alarm_topic_arn"),
        )
        for index, consumer in enumerate(self.isolated_consumers):
            check_name(consumer, f"{name('isolated_consumers')}[{index}]")
        _set(self, isolated_consumers=tuple(self.isolated_consumers))


def _set(args: StackSettings, **normalised: object) -> None:
    """Store validated values in frozen Args (during their construction only)."""
    for key, value in normalised.items():
        object.__setattr__(args, key, value)


@dataclass(frozen=True)
class StackConfig:
    """The stack's configuration: the components' Args, validated once, as they are built."""

    rotator: SharedRotatorArgs
    # By consumer name, in the order of the ``consumers`` list.
    consumers: Mapping[str, RotatedAccessKeyArgs]
    # The monthly slots of the default-cadence consumers, distinct while free slots remain
    # (each consumer's name alone would hash some onto one slot).
    window_slots: Mapping[str, WindowSlot]


# Stack keys read as numbers (pulumi.Config.get returns text), and those where "" is unset.
_NUMBER_KEYS = (
    "previousKeyGraceHours",
    "propagationTimeoutSeconds",
    "logRetentionDays",
    "recoveryWindowDays",
    "rotatorConcurrency",
)
_OPTIONAL_TEXT_KEYS = (
    "alarmEmail",
    "alarmTopicArn",
    "kmsKeyArn",
    "permissionsBoundaryArn",
    "codeSigningConfigArn",
)
# Which Args a stack key sets (the others set both).
_ROTATOR_ONLY_KEYS = ("alarmEmail", "alarmTopicArn", "rotatorConcurrency")
_CONSUMER_ONLY_KEYS = ("recoveryWindowDays",)
# A key is its Args field in camelCase, but for this one.
_FIELD_OF_KEY = {"rotatorConcurrency": "concurrency"}
_KEY_OF_FIELD = {field: key for key, field in _FIELD_OF_KEY.items()}


def _field(key: str) -> str:
    """The Args field a config key sets: ``readPaths`` -> ``read_paths``."""
    return _FIELD_OF_KEY.get(key) or re.sub(r"[A-Z]", lambda upper: f"_{upper[0].lower()}", key)


def _camel(field: str) -> str:
    return re.sub(r"_([a-z])", lambda letter: letter[1].upper(), field)


def _stack_key(field: str) -> str:
    """How errors name a stack-wide field: its stack config key."""
    return _key(_KEY_OF_FIELD.get(field) or _camel(field))


_STACK_FIELDS = frozenset(_field(key) for key in STACK_KEYS)


def _consumer_key(entry: str) -> FieldNames:
    """How errors name a field of the consumer at ``entry`` (``...:consumers[0]``)."""

    def name(field: str) -> str:
        return _stack_key(field) if field in _STACK_FIELDS else f"{entry}.{_camel(field)}"

    return name


def parse_stack_config(raw: Mapping[str, object], *, rotator_id: str) -> StackConfig:
    """Build the components' Args from the raw values of the stack's keys (unset keys absent
    or None); a ValueError names the config key, the bad value and the fix."""
    unknown = sorted(set(raw) - set(STACK_KEYS))
    if unknown:
        # A caller passing keys we do not read has a typo we would otherwise ignore.
        raise ValueError(f"{_key(unknown[0])}: unknown key; the keys are {', '.join(STACK_KEYS)}")

    consumers: object = None
    rotator_settings: dict[str, Any] = {}
    consumer_settings: dict[str, Any] = {}
    for key, found in raw.items():
        # consumers is JSON text as pulumi.Config.get returns it; the other keys are plain values.
        value = _decode_json(found, _key(key)) if key == "consumers" else found
        check_no_placeholder(value, _key(key))
        if key in _NUMBER_KEYS:
            value = _decode_number(value)
        if value is None or (value == "" and key in _OPTIONAL_TEXT_KEYS):
            continue
        if key == "consumers":
            consumers = value
            continue
        if key not in _CONSUMER_ONLY_KEYS:
            rotator_settings[_field(key)] = value
        if key not in _ROTATOR_ONLY_KEYS:
            consumer_settings[_field(key)] = value

    args = _parse_consumers(consumers, consumer_settings)
    return StackConfig(
        rotator=SharedRotatorArgs(
            rotator_id=rotator_id,
            isolated_consumers=tuple(name for name, one in args.items() if one.isolated_rotator),
            field_names=_stack_key,
            **rotator_settings,
        ),
        consumers=args,
        window_slots=spread_windows(
            [
                (name, one.rotation.window_hours)
                for name, one in args.items()
                if one.rotation.is_default
            ]
        ),
    )


def _parse_consumers(
    consumers: object, settings: Mapping[str, Any]
) -> dict[str, RotatedAccessKeyArgs]:
    field = _key("consumers")
    if consumers is None:
        raise ValueError(
            f"{field}: not set; give a list of consumers, e.g. "
            '[{"name": "support-bot", "readPaths": ["s3://bucket/prefix/"]}]'
        )
    if not isinstance(consumers, list):
        raise ValueError(f"{field}: {consumers!r} is not a list; give a list of consumer objects")
    if not consumers:
        raise ValueError(f"{field}: [] is empty; give at least one consumer")
    parsed: dict[str, RotatedAccessKeyArgs] = {}
    for index, entry in enumerate(consumers):
        at = f"{field}[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{at}: {entry!r} is not an object with name, readPaths, ...")
        check_known_keys(entry, CONSUMER_KEYS, at)
        name = check_name(entry.get("name"), f"{at}.name")
        if name in parsed:
            raise ValueError(
                f"{at}.name: {name!r} is already used by another consumer; names must be unique"
            )
        fields = {_field(key): value for key, value in entry.items() if key != "name"}
        if "rotation_days" in fields:
            fields["rotation_days"] = _decode_number(fields["rotation_days"])
        if "self_read" in fields:
            fields["self_read"] = _parse_self_read(fields["self_read"], f"{at}.selfRead")
        parsed[name] = RotatedAccessKeyArgs(**settings, **fields, field_names=_consumer_key(at))
    return parsed


def _parse_self_read(entry: object, field: str) -> SelfRead | None:
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ValueError(
            f"{field}: {entry!r} is not an object; write "
            '{"sourceCidrs": ["203.0.113.0/24"], "restrictDataAccess": true}'
        )
    check_known_keys(entry, SELF_READ_KEYS, field)
    # Validated (and its CIDRs normalised) by RotatedAccessKeyArgs, with the others.
    return SelfRead(**{_field(key): value for key, value in entry.items()})


def _key(name: str) -> str:
    return f"{NAMESPACE}:{name}"


def _decode_json(value: object, field: str) -> object:
    """Structured config arrives as JSON text from ``pulumi.Config.get``."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ValueError(f"{field}: {value!r} is not valid JSON; give a list of objects") from None


def _decode_number(value: object) -> object:
    """Numbers arrive as text from ``pulumi.Config.get``; anything else is left to the check."""
    if isinstance(value, str):
        for parse in (int, float):
            try:
                return parse(value)
            except ValueError:
                continue
    return value


# The rules of the Args: each check returns the value it accepted, typed.


def check_no_placeholder(value: object, field: str) -> None:
    """Refuse an example stack file's placeholder, wherever it sits in the value."""
    if isinstance(value, str) and PLACEHOLDER_MARKER in value:
        raise ValueError(
            f"{field}: {value!r} is a placeholder of the example stack file; replace it with"
            " this stack's real value before deploying"
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_no_placeholder(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_no_placeholder(item, f"{field}[{index}]")


def check_known_keys(entry: Mapping[str, object], known: Sequence[str], field: str) -> None:
    """Refuse keys not in ``known``: a typo would otherwise silently drop a setting."""
    unknown = sorted(str(key) for key in entry if key not in known)
    if unknown:
        raise ValueError(
            f"{field}.{unknown[0]}: unknown key {unknown[0]!r}; the keys are {', '.join(known)}"
        )


def check_name(value: object, field: str) -> str:
    """A consumer name: it prefixes every derived resource name."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(
            f"{field}: {value!r} is not a valid name; use 1-{MAX_NAME_LENGTH} lowercase letters,"
            " digits and dashes, starting and ending with a letter or digit"
        )
    return value


def check_s3_paths(value: object, field: str) -> tuple[str, ...]:
    """A list of ``s3://bucket/prefix/`` URIs."""
    if not isinstance(value, list | tuple):
        raise ValueError(f'{field}: {value!r} is not a list; write ["s3://bucket/prefix/"]')
    for index, path in enumerate(value):
        parse_s3_uri(path, field=f"{field}[{index}]")
    return tuple(value)


def check_paths_given(read_paths: Sequence[str], write_paths: Sequence[str], field: str) -> None:
    """A consumer without any data path would get a useless key."""
    if not read_paths and not write_paths:
        raise ValueError(f"{field}: both are empty; give at least one s3:// location")


@dataclass(frozen=True)
class ArnKind:
    """What an ARN setting must be: an ARN of ``service`` whose resource part holds
    ``marker``; ``expected`` says what it should be, and how to write it."""

    service: str
    marker: str
    expected: str

    def check(self, value: object, field: str) -> str:
        """``value``, if it is such an ARN; else a ValueError naming ``field``."""
        if not isinstance(value, str) or self.marker not in value:
            raise ValueError(f"{field}: {value!r} is not {self.expected}")
        return require_arn(value, field=field, service=self.service)

    def check_optional(self, value: object, field: str) -> str | None:
        """None (not set), or ``check``."""
        return None if value is None else self.check(value, field)


POLICY_ARN = ArnKind(
    "iam",
    ":policy/",
    "an IAM managed policy ARN; write arn:aws:iam::<account>:policy/<name> or"
    " arn:aws:iam::aws:policy/<name>",
)
# Not an alias: IAM policies can grant a key only by its key ARN.
KMS_KEY_ARN = ArnKind(
    "kms",
    ":key/",
    "a KMS key ARN; write arn:aws:kms:<region>:<account>:key/<key-id> (an alias ARN cannot be"
    " granted in the reader and Lambda policies)",
)
CODE_SIGNING_CONFIG_ARN = ArnKind(
    "lambda",
    ":code-signing-config:",
    "a code signing configuration ARN; write"
    " arn:aws:lambda:<region>:<account>:code-signing-config:csc-<id>",
)
SNS_TOPIC_ARN = ArnKind("sns", "", "an SNS topic ARN")


def check_policy_arns(value: object, field: str) -> tuple[str, ...]:
    """Extra managed policies: at most 9, distinct policy names (they name the attachments)."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"{field}: {value!r} is not a list of IAM policy ARNs")
    arns = tuple(POLICY_ARN.check(arn, f"{field}[{index}]") for index, arn in enumerate(value))
    if len(arns) > MAX_EXTRA_POLICIES:
        raise ValueError(
            f"{field}: {len(arns)} policies; IAM attaches at most 10 managed policies to a user"
            f" and the data-access policy is one, so give at most {MAX_EXTRA_POLICIES}"
        )
    names = [policy_name(arn) for arn in arns]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(
                f"{field}: policy name {name!r} appears twice; attach each policy once"
            )
    return arns


def policy_name(policy_arn: str) -> str:
    """The name part of a managed policy ARN (its last path segment)."""
    return policy_arn.rsplit("/", 1)[-1]


def check_email(value: object, field: str) -> str | None:
    """An email address for the alarm subscription, or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not _EMAIL.fullmatch(value):
        raise ValueError(f"{field}: {value!r} is not an email address; write name@example.com")
    return value


def check_alarm_destination(
    email: object, topic_arn: object, *, email_field: str, topic_field: str
) -> tuple[str | None, str | None]:
    """Validate both; an email can only subscribe to the topic this stack creates."""
    if email is not None and topic_arn is not None:
        raise ValueError(
            f"{email_field}: {email!r} would subscribe to a topic this stack does not own"
            f" ({topic_field} is {topic_arn!r}); subscribe the address on that topic instead,"
            f" or drop {topic_field} to let the stack create one"
        )
    return check_email(email, email_field), SNS_TOPIC_ARN.check_optional(topic_arn, topic_field)


def check_bool(value: object, field: str) -> bool:
    """A JSON boolean (not a string such as "false", which Python would take as true)."""
    if not isinstance(value, bool):
        raise ValueError(f"{field}: {value!r} is not true or false")
    return value


def check_grace_hours(value: object, field: str) -> float:
    """The previous key's grace: a finite number of hours > 0 (fractions allowed)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{field}: {value!r} is not a positive number of hours, e.g. 24")
    return float(value)


def check_int(value: object, field: str, low: int, high: int, unit: str) -> int:
    """A whole number within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{field}: {value!r} is not a whole number of {unit} from {low} to {high}")
    return value


def check_propagation_timeout(value: object, field: str) -> int:
    """Seconds testSecret waits for a new key; the Lambda's timeout adds a margin to it."""
    return check_int(value, field, 1, MAX_PROPAGATION_TIMEOUT_SECONDS, "seconds")


def check_rotator_concurrency(value: object, field: str) -> int:
    """Reserved concurrency of the shared rotation function."""
    return check_int(value, field, 1, MAX_ROTATOR_CONCURRENCY, "concurrent executions")


def check_log_retention(value: object, field: str) -> int:
    """One of the retention periods CloudWatch Logs accepts."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"{field}: {value!r} is not a retention CloudWatch Logs accepts; use one of "
            f"{', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return value


def check_recovery_window(value: object, field: str) -> int:
    """0 (delete at once) or 7-30 days, as Secrets Manager accepts."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not (value == 0 or 7 <= value <= 30)
    ):
        raise ValueError(
            f"{field}: {value!r} is not a recovery window Secrets Manager accepts; use 7-30 days,"
            " or 0 to delete without recovery"
        )
    return value


def check_log_level(value: object, field: str) -> str:
    """A level the rotation Lambda understands."""
    if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
        raise ValueError(
            f"{field}: {value!r} is not a log level; use one of {', '.join(LOG_LEVELS)}"
        )
    return value.upper()


def check_cidrs(value: object, field: str) -> tuple[str, ...]:
    """Public source networks in CIDR notation, normalised.

    Refused, each with the fix: a set that covers a whole address family in pieces, a prefix
    broader than /8 (IPv4) or /32 (IPv6), and any CIDR overlapping space that ``aws:SourceIp``
    never carries (``NEVER_SOURCE_IP``, and IPv6 outside global unicast 2000::/3).
    """
    if not isinstance(value, list | tuple):
        raise ValueError(f'{field}: {value!r} is not a list of CIDRs, e.g. ["192.0.32.0/20"]')
    networks = [_parse_cidr(cidr, f"{field}[{index}]") for index, cidr in enumerate(value)]
    _check_not_everywhere(networks, field)
    for index, network in enumerate(networks):
        _check_source_network(network, f"{field}[{index}]")
    return tuple(str(network) for network in networks)


_ANYWHERE_FIX = (
    "give the workload's public egress networks, or drop sourceCidrs and set"
    " allowFromAnywhere: true if reads from anywhere are really intended"
)


def _parse_cidr(cidr: object, field: str) -> _Network:
    if not isinstance(cidr, str):
        raise ValueError(f"{field}: {cidr!r} is not a CIDR string")
    try:
        return ipaddress.ip_network(cidr)
    except ValueError as error:
        raise ValueError(
            f"{field}: {cidr!r} is not a network in CIDR notation ({error}); "
            "write e.g. 192.0.32.0/20 with the host bits zero"
        ) from None


def _check_not_everywhere(networks: Sequence[_Network], field: str) -> None:
    """Pieces that add up to a whole family (two /1s, four /2s, ...) are the whole internet."""
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    for family, collapsed, everything in (
        (v4, list(ipaddress.collapse_addresses(v4)), "0.0.0.0/0"),
        (v6, list(ipaddress.collapse_addresses(v6)), "::/0"),
    ):
        if len(family) > 1 and [str(n) for n in collapsed] == [everything]:
            given = [str(n) for n in family]
            raise ValueError(
                f"{field}: {given!r} together cover the whole IPv{family[0].version} address"
                f" space ({everything}); {_ANYWHERE_FIX}"
            )


def _check_source_network(network: _Network, field: str) -> None:
    if network.prefixlen == 0:
        raise ValueError(f"{field}: {str(network)!r} is the whole internet; {_ANYWHERE_FIX}")
    shortest = MIN_SOURCE_PREFIX[network.version]
    if network.prefixlen < shortest:
        raise ValueError(
            f"{field}: {str(network)!r} is broader than /{shortest} (the shortest prefix"
            f" accepted for IPv{network.version}); {_ANYWHERE_FIX}"
        )
    special = never_source_ip(network)
    if special is not None:
        raise ValueError(
            f"{field}: {str(network)!r} overlaps {special}, which aws:SourceIp never carries:"
            " AWS sees the public address the workload's requests leave from (its NAT"
            " gateway or proxy); give that public egress CIDR, or use sourceVpces if the"
            " workload reaches AWS through a VPC endpoint"
        )


def never_source_ip(network: _Network) -> str | None:
    """The special-purpose block ``network`` overlaps, described, or None if it is public."""
    first, last = int(network.network_address), int(network.broadcast_address)
    for cidr, category in NEVER_SOURCE_IP:
        special = ipaddress.ip_network(cidr)
        if special.version == network.version and (
            first <= int(special.broadcast_address) and int(special.network_address) <= last
        ):
            return f"{cidr}, {category} address space"
    unicast = IPV6_GLOBAL_UNICAST
    if network.version == 6 and not (
        int(unicast.network_address) <= first and last <= int(unicast.broadcast_address)
    ):
        return f"reserved address space (outside {unicast}, IPv6 global unicast)"
    return None


def check_vpces(value: object, field: str) -> tuple[str, ...]:
    """VPC endpoint ids (``vpce-`` and 8 or 17 hex digits), for ``aws:SourceVpce``."""
    if not isinstance(value, list | tuple):
        raise ValueError(
            f'{field}: {value!r} is not a list of VPC endpoint ids, e.g. ["vpce-1a2b3c4d"]'
        )
    for index, vpce in enumerate(value):
        if not isinstance(vpce, str) or not _VPCE_ID.fullmatch(vpce):
            raise ValueError(
                f"{field}[{index}]: {vpce!r} is not a VPC endpoint id; write vpce- followed by"
                " 8 or 17 lowercase hexadecimal digits, e.g. vpce-0a1b2c3d4e5f67890 (the"
                " endpoint's id, not its DNS name or its VPC's id)"
            )
    return tuple(value)


def check_self_read(self_read: object, name: FieldNames) -> SelfRead:
    """Self-read needs source CIDRs or VPC endpoints, unless the operator explicitly allows
    anywhere (which then contradicts both). Returns it with its CIDRs normalised.

    Without a source limit, a leaked key can read every future key from its own secret,
    so rotation would never evict the leak.
    """
    if not isinstance(self_read, SelfRead):
        raise ValueError(f"{name('self_read')}: {self_read!r} is not a SelfRead")
    cidrs_field, vpces_field = name("self_read.source_cidrs"), name("self_read.source_vpces")
    restrict_field = name("self_read.restrict_data_access")
    anywhere_field = name("self_read.allow_from_anywhere")
    checked = SelfRead(
        source_cidrs=check_cidrs(self_read.source_cidrs, cidrs_field),
        source_vpces=check_vpces(self_read.source_vpces, vpces_field),
        restrict_data_access=check_bool(self_read.restrict_data_access, restrict_field),
        allow_from_anywhere=check_bool(self_read.allow_from_anywhere, anywhere_field),
    )
    limited = bool(checked.source_cidrs or checked.source_vpces)
    if checked.allow_from_anywhere and limited:
        given_field, given = (
            (cidrs_field, checked.source_cidrs)
            if checked.source_cidrs
            else (vpces_field, checked.source_vpces)
        )
        raise ValueError(
            f"{anywhere_field}: true contradicts {given_field} {list(given)!r}; keep only one"
        )
    if not checked.allow_from_anywhere and not limited:
        raise ValueError(
            f"{cidrs_field}: [] is empty and so is {vpces_field}; give the workload's public"
            f' egress networks (e.g. ["192.0.32.0/20"]) or its VPC endpoints, or set'
            f" {anywhere_field}: true to accept reads from anywhere"
        )
    if checked.restrict_data_access and not limited:
        raise ValueError(
            f"{restrict_field}: true needs {cidrs_field} or {vpces_field}, which are empty;"
            " give the workload's networks or endpoints, or drop restrictDataAccess"
        )
    return checked


def check_tags(tags: Mapping[str, str]) -> None:
    """Tags the components add to every resource: keys and values as AWS accepts them."""
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            raise ValueError(
                f"tags: key {key!r} is not a valid AWS tag key; use 1-128 characters, not"
                " starting with 'aws:'"
            )
        if not isinstance(value, str) or len(value) > 256:
            raise ValueError(f"tags[{key!r}]: {value!r} is not a string of at most 256 characters")
