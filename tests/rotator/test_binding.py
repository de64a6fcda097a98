"""Shared mode's binding of an invocation to one user, decided on DescribeSecret's answer alone
(pure: plain dicts, no AWS)."""

from __future__ import annotations

import pytest

from rotation_lambda.errors import SecretStateError
from rotation_lambda.settings import SECRET_USER_TAG, Settings, SharedScope, bind

SHARED = Settings("", "", shared=SharedScope("/ai-credential-rotation/", "credrot-"))
ARN = "arn:aws-cn:secretsmanager:cn-north-1:210987654321:secret:credrot-chatbot-secret-AbCdEf"


def described(name="credrot-chatbot-secret", arn=ARN, tags=None):
    if tags is None:
        tags = [{"Key": SECRET_USER_TAG, "Value": "credrot-chatbot-user"}]
    return {"ARN": arn, "Name": name, "Tags": tags}


def test_the_user_comes_from_the_secrets_tag_and_its_arn_from_the_secrets_account_and_path():
    bound = bind(SHARED, described())

    assert bound.iam_user_name == "credrot-chatbot-user"
    assert bound.iam_user_arn == (
        "arn:aws-cn:iam::210987654321:user/ai-credential-rotation/credrot-chatbot-user"
    )
    assert bound.secret_arn == ARN  # so the user's reverse tag is checked before IAM writes


def test_isolated_or_already_bound_settings_are_left_as_they_are():
    isolated = Settings("app", "arn:aws:iam::123456789012:user/app")
    bound = bind(SHARED, described())

    assert bind(isolated, described(tags=[])) is isolated
    assert bind(bound, described(name="other", tags=[])) is bound


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (
            described(name="ai-apps/chatbot"),
            "name does not start with SECRET_NAME_PREFIX 'credrot-'",
        ),
        (described(tags=[]), f"its tag {SECRET_USER_TAG}='' names no IAM user.*re-deploy"),
        (described(tags=[{"Key": "other", "Value": "x"}]), f"its tag {SECRET_USER_TAG}=''"),
        (
            described(tags=[{"Key": SECRET_USER_TAG, "Value": "a b" * 100}]),
            f"its tag {SECRET_USER_TAG}='a ba b.*'... names no IAM user.*restore the tag",
        ),
        (described(arn="not-an-arn"), "is not one this function may rotate"),
    ],
)
def test_a_secret_that_cannot_name_its_user_is_refused_with_the_secret_and_fix(secret, message):
    with pytest.raises(SecretStateError, match=message) as error:
        bind(SHARED, secret)

    assert len(str(error.value)) < 600
