"""The embedded emulator: real handler wiring, AWS-like failure semantics, IAM authentication,
and a consumer provisioned with the component's own policy documents."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from components import iam_policies
from components.config import SelfRead
from credrot.sandbox.emulator import (
    CALLER_CIDR,
    AccessKeyPair,
    Emulator,
    absent_keys_condition_holds,
    source_ip_condition_holds,
)
from credrot.sandbox.provision import EMULATOR_ONLY_POLICY, USER_PATH, provision_consumer


def steps_of(emulator: Emulator, token: str) -> list[str]:
    return [i.step for i in emulator.invocations if i.token == token]


def rotate_secret(emulator: Emulator, consumer: Any) -> str:
    token: str = emulator.client("secretsmanager").rotate_secret(
        SecretId=consumer.secret_arn, RotationLambdaARN=consumer.function_arn
    )["VersionId"]
    return token


def sts_code(emulator: Emulator, credentials: AccessKeyPair) -> str:
    try:
        emulator.client("sts", credentials).get_caller_identity()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def test_rotate_secret_runs_the_real_handler_for_the_four_steps(
    consumer: Any, emulator: Any, aws: Any
) -> None:
    token = rotate_secret(emulator, consumer)
    assert steps_of(emulator, token) == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    create = next(i for i in emulator.invocations if i.token == token)
    assert create.api_calls["iam:CreateAccessKey"] == 1
    assert aws.stages(consumer)[token][0] == "AWSCURRENT"
    assert "AWSPENDING" not in aws.stages(consumer)[token]


def test_a_failed_step_leaves_the_rotation_pending_and_awscurrent_unchanged(
    consumer: Any, emulator: Any, aws: Any
) -> None:
    current = aws.current_value(consumer)
    failures_before = emulator.handler_failures
    emulator.fail_step("testSecret")
    token = rotate_secret(emulator, consumer)
    assert steps_of(emulator, token) == ["createSecret", "setSecret", "testSecret"]
    assert emulator.handler_failures == failures_before + 1
    assert aws.stages(consumer)[token] == ["AWSPENDING"]
    assert aws.current_value(consumer) == current
    plain = emulator.client("secretsmanager").get_secret_value(SecretId=consumer.secret_arn)
    assert json.loads(plain["SecretString"]) == current


def test_rotate_secret_refuses_to_start_while_another_version_is_pending(
    consumer: Any, emulator: Any
) -> None:
    emulator.fail_step("finishSecret")
    rotate_secret(emulator, consumer)
    with pytest.raises(ClientError, match="previous rotation isn't complete"):
        rotate_secret(emulator, consumer)


def test_deleted_inactive_and_forged_keys_are_rejected(
    consumer: Any, emulator: Any, aws: Any
) -> None:
    iam = emulator.client("iam")
    key = iam.create_access_key(UserName=consumer.reader_user_name)["AccessKey"]
    live = AccessKeyPair(key["AccessKeyId"], key["SecretAccessKey"])
    assert sts_code(emulator, live) == "ok"
    assert sts_code(emulator, AccessKeyPair(live.access_key_id, "forged")) == (
        "SignatureDoesNotMatch"
    )
    iam.update_access_key(
        UserName=consumer.reader_user_name, AccessKeyId=live.access_key_id, Status="Inactive"
    )
    assert sts_code(emulator, live) == "InvalidClientTokenId"
    iam.delete_access_key(UserName=consumer.reader_user_name, AccessKeyId=live.access_key_id)
    assert sts_code(emulator, live) == "InvalidClientTokenId"


def test_the_reader_may_read_its_secret_and_nothing_else(consumer: Any, emulator: Any) -> None:
    secrets = emulator.client("secretsmanager", consumer.reader)
    assert secrets.get_secret_value(SecretId=consumer.secret_arn, VersionStage="AWSCURRENT")
    with pytest.raises(ClientError) as error:
        emulator.client("iam", consumer.reader).list_access_keys(UserName=consumer.user_name)
    assert error.value.response["Error"]["Code"] == "AccessDenied"


def managed_document(iam: Any, principal_policies: dict[str, Any], name: str) -> Any:
    arn = next(
        p["PolicyArn"] for p in principal_policies["AttachedPolicies"] if p["PolicyName"] == name
    )
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


def function_environment(emulator: Emulator, function_name: str) -> dict[str, str]:
    """A function's variables, as ListFunctions reports them. Call it with IAM
    authentication off: moto's Lambda read APIs fail their signature check under it."""
    [function] = [
        function
        for function in emulator.client("lambda").list_functions()["Functions"]
        if function["FunctionName"] == function_name
    ]
    variables: dict[str, str] = function["Environment"]["Variables"]
    return variables


def tags(listed: list[dict[str, str]]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in listed}


def test_the_consumer_gets_the_components_policy_documents_unchanged(
    consumer: Any, emulator: Any
) -> None:
    iam = emulator.client("iam")
    assert iam.get_user(UserName=consumer.user_name)["User"]["Path"] == USER_PATH
    data = iam.get_user_policy(
        UserName=consumer.user_name, PolicyName=f"credrot-{consumer.name}-data-access"
    )
    assert data["PolicyDocument"] == iam_policies.consumer_user_policy(
        [f"s3://{consumer.bucket}/data/"], []
    )
    assert consumer.shared_function is True
    # The stack's function: credrot-_shared-rotator, or _shared2... for other grace settings.
    base = consumer.function_name.removesuffix("-rotator")
    assert base.startswith("credrot-_shared")
    role = consumer.role_arn.rsplit("/", 1)[-1]
    assert role == f"{base}-rotation-role"
    rotation = iam.get_role_policy(RoleName=role, PolicyName=f"{base}-rotation-policy")
    arns = iam_policies.ArnParts(partition="aws", region="us-east-1", account="123456789012")
    assert rotation["PolicyDocument"] == iam_policies.shared_rotation_function_policy(
        arns=arns,
        function_arn=consumer.function_arn,
        iam_path=USER_PATH,
        secret_name_prefix="credrot-",
        rotator_tag="ai-credential-rotation:rotator",
        rotator_id="drill",
        log_group_arn=f"arn:aws:logs:us-east-1:123456789012:log-group:{base}-rotation-logs",
    )
    reader = iam.list_attached_user_policies(UserName=consumer.reader_user_name)
    assert managed_document(iam, reader, "credrot-_shared-reader") == (
        iam_policies.abac_reader_policy(
            arns=arns, secret_name_prefix="credrot-", consumer_tag="ai-credential-rotation:consumer"
        )
    )
    assert tags(iam.list_user_tags(UserName=consumer.reader_user_name)["Tags"]) == {
        "ai-credential-rotation:consumer": consumer.name
    }
    # The emulator-only allowance is separate, named, and never on the consumer itself.
    assert EMULATOR_ONLY_POLICY in iam.list_role_policies(RoleName=role)["PolicyNames"]
    user_inline = iam.list_user_policies(UserName=consumer.user_name)["PolicyNames"]
    assert EMULATOR_ONLY_POLICY not in user_inline
    assert consumer.emulator_only_policies == (
        f"role/{role}",
        f"user/{consumer.reader_user_name}",
    )


def test_the_user_and_the_secret_carry_the_binding_tags_the_shared_function_follows(
    consumer: Any, emulator: Any
) -> None:
    user_tags = tags(emulator.client("iam").list_user_tags(UserName=consumer.user_name)["Tags"])
    assert user_tags == {
        "ai-credential-rotation:consumer": consumer.name,
        "ai-credential-rotation:secret": consumer.secret_arn,
        "ai-credential-rotation:rotator": "drill",
    }
    described = emulator.client("secretsmanager").describe_secret(SecretId=consumer.secret_arn)
    assert described["Name"] == f"credrot-{consumer.name}-secret"
    assert tags(described["Tags"]) == {
        "ai-credential-rotation:consumer": consumer.name,
        "ai-credential-rotation:user": consumer.user_name,
    }


def test_consumers_share_one_function_whose_environment_names_no_user_or_secret(
    consumer: Any, bootstrap_consumer: Any, emulator: Any
) -> None:
    # Provisioned with other grace settings: the shared function is the stack's, not the
    # consumer's, so it is another stack's function, shared in turn.
    emulator.disable_iam_authentication()
    other = provision_consumer(emulator, "neighbour", previous_key_grace_hours=0)
    environment = function_environment(emulator, consumer.function_name)
    emulator.enable_iam_authentication()
    assert other.function_arn == consumer.function_arn
    assert bootstrap_consumer.function_arn != consumer.function_arn
    assert bootstrap_consumer.shared_function is True
    assert environment["IAM_USER_PATH"] == USER_PATH
    assert environment["SECRET_NAME_PREFIX"] == "credrot-"
    assert not {"IAM_USER_NAME", "IAM_USER_ARN", "SECRET_ARN"} & set(environment)


def test_rotation_is_enabled_by_a_configuration_test_before_the_first_key_is_minted(
    emulator: Any,
) -> None:
    emulator.disable_iam_authentication()
    before = len(emulator.invocations)
    created = provision_consumer(emulator, "ordered", previous_key_grace_hours=0)
    emulator.enable_iam_authentication()
    mine = [i for i in emulator.invocations[before:] if i.function_arn == created.function_arn]
    assert [i.step for i in mine] == ["testSecret", "ProvisionKey"]
    assert not any(i.failed for i in mine)
    assert mine[0].api_calls["iam:CreateAccessKey"] == 0  # the test mints nothing
    described = emulator.client("secretsmanager").describe_secret(SecretId=created.secret_arn)
    assert described["RotationEnabled"] is True
    # The configuration test's version is gone; nothing is left pending.
    assert mine[0].token not in described["VersionIdsToStages"]
    assert not any("AWSPENDING" in s for s in described["VersionIdsToStages"].values())


def test_an_isolated_consumer_gets_its_own_function_bound_to_its_user_and_secret(
    emulator: Any, aws: Any
) -> None:
    emulator.disable_iam_authentication()
    isolated = provision_consumer(emulator, "alone", isolated=True, previous_key_grace_hours=0)
    environment = function_environment(emulator, isolated.function_name)
    emulator.enable_iam_authentication()
    assert isolated.shared_function is False
    assert isolated.function_name == "credrot-alone-rotator"
    assert environment["IAM_USER_NAME"] == isolated.user_name
    assert environment["SECRET_ARN"] == isolated.secret_arn
    rotation = emulator.client("iam").get_role_policy(
        RoleName="credrot-alone-rotation-role", PolicyName="credrot-alone-rotation-policy"
    )
    assert rotation["PolicyDocument"] == iam_policies.rotation_function_policy(
        user_arn=isolated.user_arn,
        secret_arn=isolated.secret_arn,
        log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:credrot-alone-rotation-logs",
    )
    before = aws.current_value(isolated)["AccessKeyId"]
    token = rotate_secret(emulator, isolated)
    assert {i.function_arn for i in emulator.invocations if i.token == token} == {
        isolated.function_arn
    }
    assert aws.current_value(isolated)["AccessKeyId"] != before


def test_the_consumer_reads_only_its_data_prefix(consumer: Any, emulator: Any, aws: Any) -> None:
    s3 = emulator.client("s3", aws.current_key(consumer))
    assert s3.get_object(Bucket=consumer.bucket, Key=consumer.object_keys[0])["Body"].read()
    emulator.client("s3").put_object(Bucket=consumer.bucket, Key="private/x", Body=b"x")
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=consumer.bucket, Key="private/x")
    assert error.value.response["Error"]["Code"] == "AccessDenied"


def test_lambda_invoke_runs_the_sweep_with_an_overridden_environment(
    consumer: Any, emulator: Any, aws: Any
) -> None:
    previous = aws.current_value(consumer)["AccessKeyId"]
    current = aws.rotate(consumer)
    with emulator.function_environment(consumer.function_name, PREVIOUS_KEY_GRACE_HOURS="0"):
        response = emulator.client("lambda").invoke(
            FunctionName=consumer.function_name,
            Payload=json.dumps({"Action": "RetirePreviousKey", "SecretId": consumer.secret_arn}),
        )
    assert "FunctionError" not in response
    assert aws.user_keys(consumer) == {previous: "Inactive", current: "Active"}
    assert emulator.invocations[-1].step == "RetirePreviousKey"


def test_a_handler_error_reaches_lambda_invoke_as_a_function_error(
    consumer: Any, emulator: Any
) -> None:
    response = emulator.client("lambda").invoke(
        FunctionName=consumer.function_name, Payload=json.dumps({"Nonsense": True})
    )
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "InvalidEventError"


def test_environ_points_boto3_at_the_emulator_and_restores_the_environment(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "https://sts.amazonaws.com")
    before = dict(os.environ)
    with emulator.environ():
        assert "AWS_PROFILE" not in os.environ
        assert "AWS_ENDPOINT_URL_STS" not in os.environ
        arn = boto3.client("sts").get_caller_identity()["Arn"]
        assert arn.endswith(":user/emulator-operator")
    assert dict(os.environ) == before


def test_only_one_emulator_may_run_at_a_time(emulator: Any) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        Emulator().start()
    assert emulator.client("sts").get_caller_identity()  # the running one is unharmed


@pytest.mark.parametrize(
    ("source_cidrs", "restrict", "reads", "lists"),
    [
        ((CALLER_CIDR,), True, "ok", "ok"),
        (("203.0.113.0/24",), False, "denied", "ok"),
        (("203.0.113.0/24",), True, "denied", "denied"),
    ],
)
def test_self_read_is_provisioned_as_deployed_and_its_source_ip_condition_is_enforced(
    emulator: Any, aws: Any, source_cidrs: tuple[str, ...], restrict: bool, reads: str, lists: str
) -> None:
    emulator.disable_iam_authentication()
    self_read = SelfRead(source_cidrs=source_cidrs, restrict_data_access=restrict)
    consumer = provision_consumer(
        emulator, f"ip{len(source_cidrs[0])}{restrict:d}", self_read=self_read
    )
    iam = emulator.client("iam")
    assert iam.list_attached_user_policies(UserName=consumer.user_name)["AttachedPolicies"] == []
    document = iam.get_user_policy(
        UserName=consumer.user_name, PolicyName=f"credrot-{consumer.name}-data-access"
    )["PolicyDocument"]
    assert document == iam_policies.consumer_user_policy(
        [f"s3://{consumer.bucket}/data/"],
        [],
        self_read_secret_arn=consumer.secret_arn,
        source_cidrs=source_cidrs,
        restrict_data_access=restrict,
    )
    emulator.enable_iam_authentication()
    try:
        key = aws.current_key(consumer)

        sm, s3 = emulator.client("secretsmanager", key), emulator.client("s3", key)
        assert (
            _outcome(
                lambda: sm.get_secret_value(SecretId=consumer.secret_arn, VersionStage="AWSCURRENT")
            )
            == reads
        )
        assert _outcome(lambda: s3.list_objects_v2(Bucket=consumer.bucket, Prefix="data/")) == lists
    finally:
        emulator.disable_iam_authentication()


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (None, True),
        ({"StringEquals": {"aws:username": "x"}}, True),
        ({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, True),
        ({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "127.0.0.1/32"]}}, True),
        ({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}}, False),
        ({"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8"]}}, False),
        ({"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}, True),
    ],
)
def test_source_ip_conditions_are_evaluated_against_the_callers_address(
    condition: Any, holds: bool
) -> None:
    assert source_ip_condition_holds(condition, "127.0.0.1") is holds


@pytest.mark.parametrize(
    ("condition", "temporary", "holds"),
    [
        (None, False, True),
        ({"Null": {"aws:TokenIssueTime": "false"}}, False, False),
        ({"Null": {"aws:TokenIssueTime": "false"}}, True, True),
        ({"Null": {"aws:TokenIssueTime": "true"}}, False, True),
        ({"Null": {"aws:TokenIssueTime": "true"}}, True, False),
        ({"StringEquals": {"aws:SourceVpce": ["vpce-1a2b3c4d"]}}, False, False),
        ({"StringNotEquals": {"aws:SourceVpce": ["vpce-1a2b3c4d"]}}, False, True),
        ({"StringEqualsIfExists": {"aws:SourceVpce": ["vpce-1a2b3c4d"]}}, False, True),
        ({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}, False, True),
    ],
)
def test_source_vpce_is_absent_and_token_issue_time_present_only_for_session_credentials(
    condition: Any, temporary: bool, holds: bool
) -> None:
    assert absent_keys_condition_holds(condition, temporary) is holds


@pytest.mark.parametrize(
    ("source_cidrs", "source_vpces", "outcomes"),
    [
        ((), ("vpce-1a2b3c4d",), ("denied", "denied")),
        ((CALLER_CIDR,), ("vpce-1a2b3c4d",), ("ok", "ok")),
    ],
)
def test_vpc_endpoint_statements_let_no_caller_from_the_internet_in_and_cidrs_still_do(
    emulator: Any,
    aws: Any,
    source_cidrs: tuple[str, ...],
    source_vpces: tuple[str, ...],
    outcomes: tuple[str, str],
) -> None:
    # Nothing reaches the emulator through a VPC endpoint, as nothing from the internet
    # reaches AWS through one: only the aws:SourceIp statement can let the caller in.
    emulator.disable_iam_authentication()
    self_read = SelfRead(
        source_cidrs=source_cidrs, source_vpces=source_vpces, restrict_data_access=True
    )
    consumer = provision_consumer(emulator, f"vpce{len(source_cidrs)}", self_read=self_read)
    key = aws.current_key(consumer)
    emulator.enable_iam_authentication()
    try:
        sm, s3 = emulator.client("secretsmanager", key), emulator.client("s3", key)
        assert (
            _outcome(
                lambda: sm.get_secret_value(SecretId=consumer.secret_arn, VersionStage="AWSCURRENT")
            ),
            _outcome(lambda: s3.list_objects_v2(Bucket=consumer.bucket, Prefix="data/")),
        ) == outcomes
    finally:
        emulator.disable_iam_authentication()


def test_the_long_term_key_keeps_working_under_its_deny_of_temporary_credentials(
    emulator: Any, aws: Any, self_read_consumer: Any
) -> None:
    # moto alone ignores the Null condition and would apply the Deny to every request; the
    # emulator evaluates it as AWS does, so this shows the product's document, as attached,
    # leaves the key's own requests alone. (Session credentials from sts:GetSessionToken
    # cannot be shown denied here: moto authenticates them as no user at all.)
    document = emulator.client("iam").get_user_policy(
        UserName=self_read_consumer.user_name,
        PolicyName=f"credrot-{self_read_consumer.name}-data-access",
    )["PolicyDocument"]
    assert document["Statement"][-1] == iam_policies.deny_temporary_credentials()
    key = aws.current_key(self_read_consumer)
    emulator.enable_iam_authentication()
    try:
        sm, s3 = emulator.client("secretsmanager", key), emulator.client("s3", key)
        secret_arn = self_read_consumer.secret_arn
        read = sm.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")
        assert json.loads(read["SecretString"])["AccessKeyId"] == key.access_key_id
        listed = s3.list_objects_v2(Bucket=self_read_consumer.bucket, Prefix="data/")
        assert [o["Key"] for o in listed["Contents"]] == list(self_read_consumer.object_keys)
    finally:
        emulator.disable_iam_authentication()


def _outcome(call: Any) -> str:
    try:
        call()
    except ClientError:
        return "denied"
    return "ok"
