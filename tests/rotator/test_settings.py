"""Settings from the environment: defaults and parsing."""

from __future__ import annotations

import logging
from datetime import timedelta

from rotation_lambda.settings import Settings

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
