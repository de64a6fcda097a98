"""The secret value's format: parsing, validation and serialisation."""

from __future__ import annotations

import json

import pytest

from rotation_lambda.errors import SecretValueError, UserMismatchError
from rotation_lambda.secret_value import SecretValue, parse_secret_value, require_user

WHERE = "AWSCURRENT value of secret s"


def parse(value):
    return parse_secret_value({"SecretString": json.dumps(value)}, WHERE)


def test_a_bootstrap_value_has_a_user_and_no_key():
    assert parse({"UserName": "app"}) == SecretValue("app")


def test_a_full_value_round_trips_with_exactly_the_contracts_keys():
    value = SecretValue("app", "AKIAEXAMPLE", "s3cr3t")

    assert json.loads(value.to_json()) == {
        "UserName": "app",
        "AccessKeyId": "AKIAEXAMPLE",
        "SecretAccessKey": "s3cr3t",
    }
    assert parse_secret_value({"SecretString": value.to_json()}, WHERE) == value
    assert json.loads(SecretValue("app").to_json()) == {"UserName": "app"}


def test_the_repr_hides_the_secret_access_key():
    assert "s3cr3t" not in repr(SecretValue("app", "AKIAEXAMPLE", "s3cr3t"))


@pytest.mark.parametrize(
    "value",
    [
        {"UserName": "app", "SecretAccessKey": "s3cr3t"},
        {"UserName": "app", "AccessKeyId": "AKIA", "SecretAccessKey": ""},
        {"UserName": "app", "AccessKeyId": 1, "SecretAccessKey": "s3cr3t"},
    ],
)
def test_a_half_key_is_refused_without_echoing_it(value):
    with pytest.raises(SecretValueError, match="both AccessKeyId and SecretAccessKey") as error:
        parse(value)

    assert "s3cr3t" not in str(error.value)


def test_a_non_json_value_is_refused_without_echoing_it():
    with pytest.raises(SecretValueError, match=f"^{WHERE} is not JSON") as error:
        parse_secret_value({"SecretString": "s3cr3t"}, WHERE)

    assert "s3cr3t" not in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_a_value_naming_another_user_is_refused():
    with pytest.raises(
        UserMismatchError, match="'other' but this function only rotates 'app' for it"
    ):
        require_user(SecretValue("other"), "app", WHERE)
