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
        "Function": "orders",
        "RetryAttempts": "1",
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
    extra = {"Function": function_name} | ({"Qualifier": qualifier} if qualifier else {})

    assert from_properties(props(**extra)).target == expected


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({"Function": "bad name!"}, ["`Function`", "'bad name!'"]),
        ({"Function": "a" * 65}, ["`Function`", "a" * 65]),
        ({"Function": ARN + ":" + "x" * 129}, ["`Function`", "x" * 129]),
        ({"Function": "1" * 12 + ":function:" + "f" * 64 + ":" + "x" * 180}, ["`Function`"]),
        ({"Function": ""}, ["`Function`", "''"]),
        ({"Qualifier": "bad qualifier!"}, ["`Qualifier`", "'bad qualifier!'"]),
        ({"Qualifier": "q" * 129}, ["`Qualifier`"]),
        ({"Function": "orders:live", "Qualifier": "7"}, ["`Qualifier`", "'7'", "'live'"]),
        ({"RetryAttempts": "3"}, ["`RetryAttempts`", "3"]),
        ({"RetryAttempts": "-1"}, ["`RetryAttempts`", "-1"]),
        ({"RetryAttempts": "one"}, ["`RetryAttempts`", "'one'"]),
        ({"RetryAttempts": "1.5"}, ["`RetryAttempts`", "'1.5'"]),
        ({"MaxEventAge": "59"}, ["`MaxEventAge`", "59"]),
        ({"MaxEventAge": "21601"}, ["`MaxEventAge`", "21601"]),
        ({"OnSuccess": BUCKET}, ["OnSuccess", BUCKET]),
        (
            {"OnFailure": "arn:aws:iam::123456789012:role/x"},
            ["OnFailure", "iam"],
        ),
        ({"OnFailure": "not-an-arn"}, ["OnFailure", "'not-an-arn'"]),
        ({"OnFailure": QUEUE + ".fifo"}, ["OnFailure", "FIFO", "dlq.fifo"]),
        ({"OnFailure": ARN + ":live"}, ["OnFailure", "its own destination"]),
        ({"OnFailure": {"Destination": QUEUE}}, ["`OnFailure`", "ARN string", QUEUE]),
        ({"OnError": QUEUE}, ["OnError"]),
        ({"RemovalPolicy": "snapshot"}, ["`RemovalPolicy`", "'snapshot'"]),
        ({"MaximumRetryAttemps": "1"}, ["MaximumRetryAttemps"]),
        ({"RetryAttempts": None}, ["at least one"]),
    ],
    ids=lambda value: str(value)[:60] if isinstance(value, dict) else None,
)
def test_invalid_properties_rejected_naming_the_property_and_value(extra, names):
    with pytest.raises(InvalidProperty) as raised:
        from_properties({key: value for key, value in props(**extra).items() if value is not None})

    for name in names:
        assert name in str(raised.value)


def test_missing_function_name_rejected():
    with pytest.raises(InvalidProperty, match="`Function` is required"):
        from_properties({"RetryAttempts": "1"})


def test_string_values_parsed_into_settings():
    declared = from_properties(
        props(
            RetryAttempts="0",
            MaxEventAge="21600",
            OnSuccess=QUEUE,
            OnFailure=BUCKET,
            RemovalPolicy="retain",
        )
    )

    assert declared.settings == Settings(retry_attempts=0, max_event_age=21600, on_success=QUEUE, on_failure=BUCKET)
    assert declared.removal_policy == "retain"


def test_empty_destination_is_no_destination():
    declared = from_properties(props(OnSuccess=""))

    assert declared.settings == Settings(retry_attempts=1)


def test_another_functions_destination_is_not_self():
    other = "arn:aws:lambda:us-east-1:123456789012:function:orders-dlq"

    declared = from_properties(props(Function=ARN, OnFailure=other))

    assert declared.settings.on_failure == other


def test_properties_in_the_earlier_shape_read_as_the_current_ones():
    earlier = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:Handler",
        "FunctionName": "orders",
        "Qualifier": "live",
        "MaximumRetryAttempts": "0",
        "MaximumEventAgeInSeconds": "600",
        "DestinationConfig": {"OnSuccess": {"Destination": QUEUE}, "OnFailure": {}},
        "RemovalPolicy": "retain",
    }
    current = props(Qualifier="live", RetryAttempts="0", MaxEventAge="600", OnSuccess=QUEUE, RemovalPolicy="retain")

    assert from_properties(earlier) == from_properties(current)
    assert from_properties(earlier).settings == Settings(retry_attempts=0, max_event_age=600, on_success=QUEUE)


@pytest.mark.parametrize(
    ("config", "names"),
    [
        ({"OnError": {"Destination": QUEUE}}, ["`DestinationConfig`", "OnError"]),
        ("arn", ["`DestinationConfig`", "'arn'"]),
        ({"OnFailure": QUEUE}, ["`DestinationConfig.OnFailure`", QUEUE]),
    ],
)
def test_an_invalid_destination_config_of_the_earlier_shape_is_named(config, names):
    with pytest.raises(InvalidProperty) as raised:
        from_properties({"FunctionName": "orders", "DestinationConfig": config})

    for name in names:
        assert name in str(raised.value)


def test_properties_mixing_the_two_shapes_are_refused():
    with pytest.raises(InvalidProperty, match="mixed"):
        from_properties(props(MaximumEventAgeInSeconds="600"))


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
