"""Validation of the custom resource's properties (as CloudFormation sends them: strings) before any write."""

from __future__ import annotations

import pytest
from contract import InvalidProperty, is_config_arn
from settings import Settings, Target, from_properties

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:dlq"
BUCKET = "arn:aws:s3:::failed-events"


def props(**extra):
    return {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:Handler",
        "FunctionName": "orders",
        "MaximumRetryAttempts": "1",
        **extra,
    }


@pytest.mark.parametrize(
    ("function_name", "qualifier", "expected"),
    [
        ("orders", None, Target("orders", "$LATEST")),
        ("orders:live", None, Target("orders:live", "live")),
        ("orders:7", "7", Target("orders:7", "7")),
        ("123456789012:function:orders", None, Target("123456789012:function:orders", "$LATEST")),
        (ARN, "live", Target(ARN, "live")),
        (f"{ARN}:live", None, Target(f"{ARN}:live", "live")),
        ("a" * 64, None, Target("a" * 64, "$LATEST")),
    ],
)
def test_function_name_forms_accepted(function_name, qualifier, expected):
    extra = {"FunctionName": function_name} | ({"Qualifier": qualifier} if qualifier else {})

    assert from_properties(props(**extra)).target == expected


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({"FunctionName": "bad name!"}, ["`FunctionName`", "'bad name!'"]),
        ({"FunctionName": "a" * 65}, ["`FunctionName`", "a" * 65]),
        ({"FunctionName": ARN + ":" + "x" * 129}, ["`FunctionName`", "x" * 129]),
        ({"FunctionName": "1" * 12 + ":function:" + "f" * 64 + ":" + "x" * 180}, ["`FunctionName`"]),
        ({"FunctionName": ""}, ["`FunctionName`", "''"]),
        ({"Qualifier": "bad qualifier!"}, ["`Qualifier`", "'bad qualifier!'"]),
        ({"Qualifier": "q" * 129}, ["`Qualifier`"]),
        ({"FunctionName": "orders:live", "Qualifier": "7"}, ["`Qualifier`", "'7'", "'live'"]),
        ({"MaximumRetryAttempts": "3"}, ["`MaximumRetryAttempts`", "3"]),
        ({"MaximumRetryAttempts": "-1"}, ["`MaximumRetryAttempts`", "-1"]),
        ({"MaximumRetryAttempts": "one"}, ["`MaximumRetryAttempts`", "'one'"]),
        ({"MaximumRetryAttempts": "1.5"}, ["`MaximumRetryAttempts`", "'1.5'"]),
        ({"MaximumEventAgeInSeconds": "59"}, ["`MaximumEventAgeInSeconds`", "59"]),
        ({"MaximumEventAgeInSeconds": "21601"}, ["`MaximumEventAgeInSeconds`", "21601"]),
        ({"DestinationConfig": {"OnSuccess": {"Destination": BUCKET}}}, ["OnSuccess", BUCKET]),
        (
            {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:iam::123456789012:role/x"}}},
            ["OnFailure", "iam"],
        ),
        ({"DestinationConfig": {"OnFailure": {"Destination": "not-an-arn"}}}, ["OnFailure", "'not-an-arn'"]),
        ({"DestinationConfig": {"OnFailure": {"Destination": QUEUE + ".fifo"}}}, ["OnFailure", "FIFO", "dlq.fifo"]),
        ({"DestinationConfig": {"OnFailure": {"Destination": ARN + ":live"}}}, ["OnFailure", "its own destination"]),
        ({"DestinationConfig": {"OnError": {"Destination": QUEUE}}}, ["`DestinationConfig`", "OnError"]),
        ({"DestinationConfig": "arn"}, ["`DestinationConfig`", "'arn'"]),
        ({"RemovalPolicy": "snapshot"}, ["`RemovalPolicy`", "'snapshot'"]),
        ({"MaximumRetryAttemps": "1"}, ["MaximumRetryAttemps"]),
        ({"MaximumRetryAttempts": None}, ["at least one"]),
    ],
    ids=lambda value: str(value)[:60] if isinstance(value, dict) else None,
)
def test_invalid_properties_rejected_naming_the_property_and_value(extra, names):
    with pytest.raises(InvalidProperty) as raised:
        from_properties({key: value for key, value in props(**extra).items() if value is not None})

    for name in names:
        assert name in str(raised.value)


def test_missing_function_name_rejected():
    with pytest.raises(InvalidProperty, match="`FunctionName` is required"):
        from_properties({"MaximumRetryAttempts": "1"})


def test_string_values_parsed_into_settings():
    declared = from_properties(
        props(
            MaximumRetryAttempts="0",
            MaximumEventAgeInSeconds="21600",
            DestinationConfig={"OnSuccess": {"Destination": QUEUE}, "OnFailure": {"Destination": BUCKET}},
            RemovalPolicy="retain",
        )
    )

    assert declared.settings == Settings(retry_attempts=0, max_event_age=21600, on_success=QUEUE, on_failure=BUCKET)
    assert declared.removal_policy == "retain"


def test_empty_destination_is_no_destination():
    declared = from_properties(props(DestinationConfig={"OnSuccess": {"Destination": ""}, "OnFailure": {}}))

    assert declared.settings == Settings(retry_attempts=1)


def test_another_functions_destination_is_not_self():
    other = "arn:aws:lambda:us-east-1:123456789012:function:orders-dlq"

    declared = from_properties(props(FunctionName=ARN, DestinationConfig={"OnFailure": {"Destination": other}}))

    assert declared.settings.on_failure == other


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST", True),
        ("arn:aws:lambda:us-east-1:123456789012:function:orders:live", True),
        ("arn:aws:lambda:us-east-1:123456789012:function:orders", False),
        ("orders:live", False),
        ("not-created:Config", False),
        ("", False),
    ],
)
def test_config_arn_is_a_fully_qualified_function_arn(value, expected):
    assert is_config_arn(value) is expected
