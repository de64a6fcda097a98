"""Lambda entry point: parse the event, read the settings, dispatch, log any failure.

Events: Secrets Manager's steps {"Step", "SecretId", "ClientRequestToken"}; actions
{"Action": "RetirePreviousKey"|"ProvisionKey", "SecretId"} from the hourly schedule and the
deploy's first-key step, which records the result (a decision and a key id, never secret
material). Failures are logged (cause only) and re-raised, so Secrets Manager retries the
rotation and the function's error alarms fire.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from rotation_lambda import protocol
from rotation_lambda.clients import Clients
from rotation_lambda.errors import InvalidEventError
from rotation_lambda.logs import error_fields, log_decision, logger
from rotation_lambda.settings import Settings

ACTIONS: dict[str, Callable[[Clients, str, Settings], dict[str, Any]]] = {
    "RetirePreviousKey": protocol.retire_replaced_keys,
    "ProvisionKey": protocol.provision_key,
}
_EXPECTED = (
    'expected {"Step": <step>, "SecretId": ..., "ClientRequestToken": ...} from Secrets Manager'
    ' or {"Action": "RetirePreviousKey"|"ProvisionKey", "SecretId": ...}'
)


@dataclass(frozen=True)
class RotationRequest:
    """A Secrets Manager rotation step."""

    step: protocol.Step
    secret_id: str
    token: str


@dataclass(frozen=True)
class ActionRequest:
    """A scheduled maintenance action."""

    action: str
    secret_id: str


def parse_event(event: object) -> RotationRequest | ActionRequest:
    """Validate the event; raise InvalidEventError naming the field at fault."""
    if not isinstance(event, dict):
        raise InvalidEventError(f"event is a {type(event).__name__}, not an object: {_EXPECTED}")
    if ("Step" in event) == ("Action" in event):
        raise InvalidEventError(f"event must have exactly one of Step and Action: {_EXPECTED}")
    secret_id = _text_field(event, "SecretId")
    if "Action" in event:
        action = _text_field(event, "Action")
        if action not in ACTIONS:
            raise InvalidEventError(
                f"Action {action!r:.80} is unknown: use one of {', '.join(ACTIONS)}"
            )
        return ActionRequest(action, secret_id)
    step = _text_field(event, "Step")
    if step not in protocol.STEPS:
        raise InvalidEventError(
            f"Step {step!r:.80} is unknown: use one of {', '.join(protocol.STEPS)}"
        )
    return RotationRequest(
        cast(protocol.Step, step), secret_id, _text_field(event, "ClientRequestToken")
    )


def _text_field(event: dict[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value.strip():
        problem = "is missing" if value is None else "is not a non-empty string"
        raise InvalidEventError(f"event field {name} {problem}: {_EXPECTED}")
    return value


def lambda_handler(event: Any, context: Any) -> dict[str, Any] | None:
    """Run one rotation step or action; log and re-raise on failure.

    Returns an action's result (a rotation step returns nothing)."""
    try:
        settings = Settings.from_environ(os.environ)
        logger.setLevel(settings.log_level)
        request = parse_event(event)
        clients = Clients(settings.region)
        if isinstance(request, RotationRequest):
            protocol.run_step(clients, request.step, request.secret_id, request.token, settings)
            return None
        return ACTIONS[request.action](clients, request.secret_id, settings)
    except Exception as error:
        ids = _event_ids(event)
        log_decision(
            step=ids.get("step", "unknown"),
            secret=ids.get("secret", "unknown"),
            token=ids.get("token"),
            decision="fail",
            outcome="error",
            level=logging.ERROR,
            **error_fields(error),
        )
        raise


def _event_ids(event: object) -> dict[str, str]:
    """The event's ids for the failure log (never the whole event: it could be anything)."""
    fields: dict[str, str] = {}
    if isinstance(event, dict):
        for field, name in (
            ("step", "Step"),
            ("step", "Action"),
            ("secret", "SecretId"),
            ("token", "ClientRequestToken"),
        ):
            if isinstance(event.get(name), str):
                fields[field] = event[name][:200]
    return fields
