"""``credrot sandbox``: the embedded emulator with one provisioned consumer, for practice.

The emulator runs in this process (moto's server on 127.0.0.1, IAM authentication on, the
real rotation Lambda); ``environment`` is what another shell needs to point the credrot
command and any AWS SDK at it, as the emulator's operator. Nothing reaches real AWS: the
variables name the emulator's endpoint and its own, initially empty, AWS config files.
"""

from __future__ import annotations

import shlex

from credrot.sandbox.emulator import CALLER_CIDR, Emulator
from credrot.sandbox.provision import Consumer, provision_consumer

__all__ = ["environment", "start", "usage"]


def start(name: str) -> tuple[Emulator, Consumer]:
    """A started emulator holding consumer ``name`` (one key, selfRead from 127.0.0.1)."""
    from components.config import SelfRead

    emulator = Emulator().start()
    try:
        consumer = provision_consumer(
            emulator, name, self_read=SelfRead(source_cidrs=(CALLER_CIDR,))
        )
        emulator.enable_iam_authentication()
    except BaseException:
        emulator.stop()
        raise
    return emulator, consumer


def environment(emulator: Emulator, consumer: Consumer) -> dict[str, str]:
    """The operator's environment for the sandbox, plus CREDROT_SECRET (the secret's ARN)."""
    return {**emulator.env(), "CREDROT_SECRET": consumer.secret_arn}


def usage(emulator: Emulator, consumer: Consumer) -> str:
    """The text ``credrot sandbox`` prints: shell exports, then commands to try."""
    lines = [
        f"# credrot sandbox: consumer {consumer.name} (user {consumer.user_name}) in an",
        f"# emulator at {emulator.endpoint_url}. In another shell, paste:",
    ]
    lines += [
        f"export {name}={shlex.quote(value)}"
        for name, value in environment(emulator, consumer).items()
    ]
    lines += [
        "# then try:",
        '#   credrot status "$CREDROT_SECRET"',
        '#   credrot rotate "$CREDROT_SECRET" --force',
        '#   credrot revoke "$CREDROT_SECRET" --json',
        '#   credrot export "$CREDROT_SECRET" --profile practice',
        "#   env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=practice \\",
        "#     aws sts get-caller-identity      # any SDK, through credential_process",
        "# The emulator stops with this command (Ctrl-C); its state is lost.",
    ]
    return "\n".join(lines)
