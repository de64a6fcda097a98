"""The stack's configuration, parsed and validated before any resource exists.

Pure: no Pulumi, no AWS. ``parse_stack_config`` takes the raw values of the
``ai-credential-rotation:*`` keys (strings as ``pulumi.Config.get`` returns them, or already
decoded values as read from a ``Pulumi.<stack>.yaml``) and returns frozen, typed objects, or
raises a ValueError naming the key, the bad value and the fix. The ``check_*`` functions are
shared with ``RotatedAccessKeyArgs``, which validates the same rules under its field names.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from components.iam_policies import parse_s3_uri, require_arn
from components.schedule import (
    DEFAULT_ROTATION_WINDOW,
    RotationSchedule,
    check_grace_fits,
    rotation_schedule,
    spread_windows,
    with_slot,
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


@dataclass(frozen=True)
class ConsumerConfig:
    """One entry of ``consumers``, validated."""

    name: str
    read_paths: tuple[str, ...]
    write_paths: tuple[str, ...]
    rotation: RotationSchedule
    extra_policy_arns: tuple[str, ...] = ()
    self_read: SelfRead | None = None
    isolated_rotator: bool = False
    own_reader_policy: bool = False


@dataclass(frozen=True)
class StackConfig:
    """The whole stack's configuration, validated."""

    consumers: tuple[ConsumerConfig, ...]
    previous_key_grace_hours: float = DEFAULT_PREVIOUS_KEY_GRACE_HOURS
    propagation_timeout_seconds: int = DEFAULT_PROPAGATION_TIMEOUT_SECONDS
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    recovery_window_days: int = DEFAULT_RECOVERY_WINDOW_DAYS
    log_level: str = DEFAULT_LOG_LEVEL
    alarm_email: str | None = None
    alarm_topic_arn: str | None = None
    kms_key_arn: str | None = None
    permissions_boundary_arn: str | None = None
    code_signing_config_arn: str | None = None
    rotator_concurrency: int = DEFAULT_ROTATOR_CONCURRENCY


def parse_stack_config(raw: Mapping[str, object]) -> StackConfig:
    """Validate the raw values of the stack's keys (unset keys absent or None)."""
    unknown = sorted(set(raw) - set(STACK_KEYS))
    if unknown:
        # A caller passing keys we do not read has a typo we would otherwise ignore.
        raise ValueError(f"{_key(unknown[0])}: unknown key; the keys are {', '.join(STACK_KEYS)}")

    for key, found in raw.items():
        # consumers is JSON text as pulumi.Config.get returns it; the other keys are plain values.
        decoded = _decode_json(found, _key(key)) if key == "consumers" else found
        check_no_placeholder(decoded, _key(key))

    def value(key: str, default: object = None) -> object:
        found = raw.get(key)
        return default if found is None else found

    grace_field = _key("previousKeyGraceHours")
    grace = check_grace_hours(
        _decode_number(value("previousKeyGraceHours", DEFAULT_PREVIOUS_KEY_GRACE_HOURS)),
        grace_field,
    )
    consumers = _spread_default_windows(
        _parse_consumers(_decode_json(value("consumers"), _key("consumers")))
    )
    for index, consumer in enumerate(consumers):
        check_grace_fits(
            grace,
            consumer.rotation,
            grace_field=grace_field,
            schedule_field=_schedule_field(f"{_key('consumers')}[{index}]", consumer.rotation),
        )
    alarm_email, alarm_topic_arn = check_alarm_destination(
        _optional_text(value("alarmEmail")),
        _optional_text(value("alarmTopicArn")),
        email_field=_key("alarmEmail"),
        topic_field=_key("alarmTopicArn"),
    )
    return StackConfig(
        consumers=consumers,
        previous_key_grace_hours=grace,
        propagation_timeout_seconds=check_propagation_timeout(
            _decode_number(value("propagationTimeoutSeconds", DEFAULT_PROPAGATION_TIMEOUT_SECONDS)),
            _key("propagationTimeoutSeconds"),
        ),
        log_retention_days=check_log_retention(
            _decode_number(value("logRetentionDays", DEFAULT_LOG_RETENTION_DAYS)),
            _key("logRetentionDays"),
        ),
        recovery_window_days=check_recovery_window(
            _decode_number(value("recoveryWindowDays", DEFAULT_RECOVERY_WINDOW_DAYS)),
            _key("recoveryWindowDays"),
        ),
        log_level=check_log_level(value("logLevel", DEFAULT_LOG_LEVEL), _key("logLevel")),
        alarm_email=alarm_email,
        alarm_topic_arn=alarm_topic_arn,
        kms_key_arn=check_kms_key_arn(_optional_text(value("kmsKeyArn")), _key("kmsKeyArn")),
        permissions_boundary_arn=check_optional_policy_arn(
            _optional_text(value("permissionsBoundaryArn")), _key("permissionsBoundaryArn")
        ),
        code_signing_config_arn=check_code_signing_config_arn(
            _optional_text(value("codeSigningConfigArn")), _key("codeSigningConfigArn")
        ),
        rotator_concurrency=check_rotator_concurrency(
            _decode_number(value("rotatorConcurrency", DEFAULT_ROTATOR_CONCURRENCY)),
            _key("rotatorConcurrency"),
        ),
    )


def _spread_default_windows(consumers: tuple[ConsumerConfig, ...]) -> tuple[ConsumerConfig, ...]:
    """Give every default-cadence consumer its monthly slot, distinct from the others'."""
    slots = spread_windows(
        [(c.name, c.rotation.window_hours) for c in consumers if c.rotation.is_default]
    )
    return tuple(
        replace(c, rotation=with_slot(c.rotation, slots[c.name])) if c.name in slots else c
        for c in consumers
    )


def _parse_consumers(consumers: object) -> tuple[ConsumerConfig, ...]:
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
    parsed: list[ConsumerConfig] = []
    for index, entry in enumerate(consumers):
        consumer = _parse_consumer(entry, f"{field}[{index}]")
        if any(seen.name == consumer.name for seen in parsed):
            raise ValueError(
                f"{field}[{index}].name: {consumer.name!r} is already used by another consumer;"
                " names must be unique"
            )
        parsed.append(consumer)
    return tuple(parsed)


def _parse_consumer(entry: object, field: str) -> ConsumerConfig:
    if not isinstance(entry, dict):
        raise ValueError(f"{field}: {entry!r} is not an object with name, readPaths, ...")
    check_known_keys(entry, CONSUMER_KEYS, field)
    name = check_name(entry.get("name"), f"{field}.name")
    read_paths = check_s3_paths(entry.get("readPaths", []), f"{field}.readPaths")
    write_paths = check_s3_paths(entry.get("writePaths", []), f"{field}.writePaths")
    check_paths_given(read_paths, write_paths, f"{field}.readPaths/writePaths")
    rotation = rotation_schedule(
        days=_decode_number(entry.get("rotationDays")),
        expression=entry.get("rotationSchedule"),
        window=entry.get("rotationWindow", DEFAULT_ROTATION_WINDOW),
        days_field=f"{field}.rotationDays",
        expression_field=f"{field}.rotationSchedule",
        window_field=f"{field}.rotationWindow",
    )
    extra = check_policy_arns(entry.get("extraPolicyArns", []), f"{field}.extraPolicyArns")
    self_read = entry.get("selfRead")
    return ConsumerConfig(
        name=name,
        read_paths=read_paths,
        write_paths=write_paths,
        rotation=rotation,
        extra_policy_arns=extra,
        self_read=None if self_read is None else _parse_self_read(self_read, f"{field}.selfRead"),
        isolated_rotator=check_bool(
            entry.get("isolatedRotator", False), f"{field}.isolatedRotator"
        ),
        own_reader_policy=check_bool(
            entry.get("ownReaderPolicy", False), f"{field}.ownReaderPolicy"
        ),
    )


def _parse_self_read(entry: object, field: str) -> SelfRead:
    if not isinstance(entry, dict):
        raise ValueError(
            f"{field}: {entry!r} is not an object; write "
            '{"sourceCidrs": ["203.0.113.0/24"], "restrictDataAccess": true}'
        )
    check_known_keys(entry, SELF_READ_KEYS, field)
    return check_self_read(
        SelfRead(
            source_cidrs=check_cidrs(entry.get("sourceCidrs", []), f"{field}.sourceCidrs"),
            source_vpces=check_vpces(entry.get("sourceVpces", []), f"{field}.sourceVpces"),
            restrict_data_access=check_bool(
                entry.get("restrictDataAccess", False), f"{field}.restrictDataAccess"
            ),
            allow_from_anywhere=check_bool(
                entry.get("allowFromAnywhere", False), f"{field}.allowFromAnywhere"
            ),
        ),
        cidrs_field=f"{field}.sourceCidrs",
        vpces_field=f"{field}.sourceVpces",
        restrict_field=f"{field}.restrictDataAccess",
        anywhere_field=f"{field}.allowFromAnywhere",
    )


def _key(name: str) -> str:
    return f"{NAMESPACE}:{name}"


def _schedule_field(prefix: str, rotation: RotationSchedule) -> str:
    if rotation.days is not None:
        return f"{prefix}.rotationDays {rotation.days}"
    return f"{prefix}.rotationSchedule {rotation.expression!r}"


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


def _optional_text(value: object) -> object:
    return None if value == "" else value


# Checks shared with RotatedAccessKeyArgs: each returns the value it accepted, typed.


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


def check_policy_arn(value: object, field: str) -> str:
    """An IAM managed policy ARN (customer or AWS-managed)."""
    if not isinstance(value, str) or ":policy/" not in value:
        raise ValueError(
            f"{field}: {value!r} is not an IAM managed policy ARN; write "
            "arn:aws:iam::<account>:policy/<name> or arn:aws:iam::aws:policy/<name>"
        )
    return require_arn(value, field=field, service="iam")


def check_optional_policy_arn(value: object, field: str) -> str | None:
    """A permissions boundary: an IAM managed policy ARN, or None."""
    return None if value is None else check_policy_arn(value, field)


def check_policy_arns(value: object, field: str) -> tuple[str, ...]:
    """Extra managed policies: at most 9, distinct policy names (they name the attachments)."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"{field}: {value!r} is not a list of IAM policy ARNs")
    arns = tuple(check_policy_arn(arn, f"{field}[{index}]") for index, arn in enumerate(value))
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


def check_kms_key_arn(value: object, field: str) -> str | None:
    """A KMS key ARN (not an alias: IAM policies can grant a key only by its key ARN)."""
    if value is None:
        return None
    if not isinstance(value, str) or ":key/" not in value:
        raise ValueError(
            f"{field}: {value!r} is not a KMS key ARN; write arn:aws:kms:<region>:<account>:"
            "key/<key-id> (an alias ARN cannot be granted in the reader and Lambda policies)"
        )
    return require_arn(value, field=field, service="kms")


def check_code_signing_config_arn(value: object, field: str) -> str | None:
    """A Lambda code signing configuration ARN, or None."""
    if value is None:
        return None
    if not isinstance(value, str) or ":code-signing-config:" not in value:
        raise ValueError(
            f"{field}: {value!r} is not a code signing configuration ARN; write "
            "arn:aws:lambda:<region>:<account>:code-signing-config:csc-<id>"
        )
    return require_arn(value, field=field, service="lambda")


def check_topic_arn(value: object, field: str) -> str | None:
    """An SNS topic ARN, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field}: {value!r} is not an SNS topic ARN")
    return require_arn(value, field=field, service="sns")


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
    return check_email(email, email_field), check_topic_arn(topic_arn, topic_field)


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


def check_self_read(
    self_read: SelfRead,
    *,
    cidrs_field: str,
    vpces_field: str,
    restrict_field: str,
    anywhere_field: str,
) -> SelfRead:
    """Self-read needs source CIDRs or VPC endpoints, unless the operator explicitly allows
    anywhere (which then contradicts both).

    Without a source limit, a leaked key can read every future key from its own secret,
    so rotation would never evict the leak.
    """
    check_cidrs(list(self_read.source_cidrs), cidrs_field)
    check_vpces(list(self_read.source_vpces), vpces_field)
    check_bool(self_read.restrict_data_access, restrict_field)
    check_bool(self_read.allow_from_anywhere, anywhere_field)
    limited = bool(self_read.source_cidrs or self_read.source_vpces)
    if self_read.allow_from_anywhere and limited:
        given_field, given = (
            (cidrs_field, self_read.source_cidrs)
            if self_read.source_cidrs
            else (vpces_field, self_read.source_vpces)
        )
        raise ValueError(
            f"{anywhere_field}: true contradicts {given_field} {list(given)!r}; keep only one"
        )
    if not self_read.allow_from_anywhere and not limited:
        raise ValueError(
            f"{cidrs_field}: [] is empty and so is {vpces_field}; give the workload's public"
            f' egress networks (e.g. ["192.0.32.0/20"]) or its VPC endpoints, or set'
            f" {anywhere_field}: true to accept reads from anywhere"
        )
    if self_read.restrict_data_access and not limited:
        raise ValueError(
            f"{restrict_field}: true needs {cidrs_field} or {vpces_field}, which are empty;"
            " give the workload's networks or endpoints, or drop restrictDataAccess"
        )
    return self_read
