"""Settings from the environment: defaults and parsing."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from rotation_lambda.errors import ConfigurationError
from rotation_lambda.settings import Settings, SharedScope

ARN = "arn:aws:iam::123456789012:user/ai/apps/app"


def test_only_the_user_name_and_arn_are_required_and_defaults_apply():
    settings = Settings.from_environ(
        {"IAM_USER_NAME": "app", "IAM_USER_ARN": ARN, "AWS_REGION": "eu-west-1"}
    )

    assert settings == Settings(
        iam_user_name="app",
        iam_user_arn=ARN,
        propagation_timeout_seconds=60.0,
        previous_key_grace=timedelta(hours=24),
        log_level=logging.INFO,
        region="eu-west-1",
        secret_arn=None,
    )


def test_every_variable_is_read():
    settings = Settings.from_environ(
        {
            "IAM_USER_NAME": "app",
            "IAM_USER_ARN": "arn:aws:iam::123456789012:user/ai/apps/app",
            "PROPAGATION_TIMEOUT_SECONDS": "12.5",
            "PREVIOUS_KEY_GRACE_HOURS": "0.5",
            "LOG_LEVEL": "debug",
            "AWS_DEFAULT_REGION": "us-west-2",
        }
    )

    assert settings.iam_user_arn == "arn:aws:iam::123456789012:user/ai/apps/app"
    assert settings.propagation_timeout_seconds == 12.5
    assert settings.previous_key_grace == timedelta(minutes=30)
    assert settings.log_level == logging.DEBUG
    assert settings.region == "us-west-2"


def test_empty_optional_variables_mean_unset():
    settings = Settings.from_environ(
        {
            "IAM_USER_NAME": "app",
            "IAM_USER_ARN": ARN,
            "SECRET_ARN": "",
            "PROPAGATION_TIMEOUT_SECONDS": " ",
        }
    )

    assert (settings.secret_arn, settings.propagation_timeout_seconds) == (None, 60.0)


SHARED = {"IAM_USER_PATH": "/ai-credential-rotation/", "SECRET_NAME_PREFIX": "credrot-"}


def test_without_a_user_name_the_user_path_and_prefix_make_a_shared_unbound_function():
    settings = Settings.from_environ({**SHARED, "PREVIOUS_KEY_GRACE_HOURS": "2"})

    assert settings.shared == SharedScope("/ai-credential-rotation/", "credrot-")
    assert (settings.iam_user_name, settings.iam_user_arn, settings.secret_arn) == ("", "", None)
    assert settings.previous_key_grace == timedelta(hours=2)


def test_a_user_name_makes_the_function_isolated_whatever_else_is_set():
    settings = Settings.from_environ({**SHARED, "IAM_USER_NAME": "app", "IAM_USER_ARN": ARN})

    assert (settings.shared, settings.iam_user_name) == (None, "app")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, r"IAM_USER_NAME is not set, nor is IAM_USER_PATH.*set IAM_USER_PATH and SECRET_"),
        ({"IAM_USER_PATH": "/a/"}, "SECRET_NAME_PREFIX='' is not .*: set it to"),
        ({**SHARED, "IAM_USER_PATH": "ai"}, "IAM_USER_PATH='ai' is not an IAM path"),
        ({**SHARED, "IAM_USER_PATH": "/a b/"}, "is not an IAM path: set it"),
        ({**SHARED, "SECRET_NAME_PREFIX": "no spaces"}, "SECRET_NAME_PREFIX='no spaces' is not"),
        ({**SHARED, "IAM_USER_PATH": "/" + "p" * 5000 + "/"}, r"'/ppp.*\.\.\. is not"),
    ],
)
def test_a_bad_shared_configuration_is_refused_naming_the_variable_and_fix(environ, message):
    with pytest.raises(ConfigurationError, match=message) as error:
        Settings.from_environ(environ)

    assert len(str(error.value)) < 400  # values echoed cut short
