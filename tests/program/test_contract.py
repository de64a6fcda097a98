"""components.contract: the one description of the deployed product that the component, the
emulator (credrot.sandbox.provision) and the packaged Lambda must agree on; and it loads no
Pulumi."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest

from components import config, contract, rotation_function, shared_rotator
from components import rotated_access_key as component
from rotation_lambda import protocol
from rotation_lambda.handler import ACTIONS
from rotation_lambda.settings import SECRET_USER_TAG, Settings, SharedScope

ROOT = Path(__file__).resolve().parents[2]
USER_ARN = "arn:aws:iam::123456789012:user/ai-credential-rotation/support-bot-user"


@pytest.mark.parametrize("hours", [24, 12.5, 0.1, 1 / 3, 0])
def test_the_function_environment_is_what_the_lambda_reads_exactly(hours: float) -> None:
    environment = contract.function_environment(
        user_name="support-bot-user",
        user_arn=USER_ARN,
        propagation_timeout_seconds=120,
        previous_key_grace_hours=hours,
        log_level="DEBUG",
    )
    settings = Settings.from_environ({k: str(v) for k, v in environment.items()})
    assert settings.iam_user_name == "support-bot-user"
    assert settings.iam_user_arn == USER_ARN
    assert settings.propagation_timeout_seconds == 120
    assert settings.previous_key_grace == timedelta(hours=hours)  # no rounding on the way
    assert environment["PREVIOUS_KEY_GRACE_HOURS"] != "24.0"


def test_the_sweep_event_names_an_action_the_lambda_dispatches() -> None:
    event = contract.sweep_event("arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf")
    assert event["Action"] in ACTIONS


@pytest.mark.parametrize("module", [component, shared_rotator, rotation_function, config])
def test_the_component_modules_use_the_contract_not_copies_of_it(module: ModuleType) -> None:
    shared = ("IAM_PATH", "HANDLER", "RUNTIME", "ARCHITECTURE", "sweep_event", "provision_event")
    held = [name for name in shared if hasattr(module, name)]
    for name in held:
        assert getattr(module, name) is getattr(contract, name), name
    assert held or module is not component  # the component itself builds from the contract


def test_the_first_key_event_names_an_action_the_lambda_dispatches() -> None:
    event = contract.provision_event("arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbC")
    assert event["Action"] in ACTIONS


def test_the_lambda_reads_the_binding_tags_the_component_writes() -> None:
    assert contract.USER_SECRET_TAG == protocol.USER_SECRET_TAG
    assert contract.SECRET_USER_TAG == SECRET_USER_TAG


def test_the_shared_function_environment_is_what_the_lambda_reads_exactly() -> None:
    environment = contract.shared_function_environment(
        user_path=contract.IAM_PATH,
        secret_name_prefix=contract.RESOURCE_NAME_PREFIX,
        propagation_timeout_seconds=120,
        previous_key_grace_hours=1 / 3,
        log_level="DEBUG",
    )
    settings = Settings.from_environ(environment)
    assert settings.shared == SharedScope(contract.IAM_PATH, contract.RESOURCE_NAME_PREFIX)
    assert (settings.iam_user_name, settings.secret_arn) == ("", None)  # bound per secret
    assert settings.propagation_timeout_seconds == 120
    assert settings.previous_key_grace == timedelta(hours=1 / 3)


def test_the_contract_and_the_emulators_provisioning_load_no_pulumi() -> None:
    code = (
        "import sys, components.contract, credrot.sandbox.provision; "
        "assert not [m for m in sys.modules if m.split('.')[0].startswith('pulumi')]"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)  # noqa: S603
