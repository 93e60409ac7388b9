"""Synth-time validation: each rule with one accepted and one rejected input; errors name the prop and the value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from async_invoke_config import AsyncInvokeConfig, InvalidProperty
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from test_construct import function as fn

ENV = cdk.Environment(account="123456789012", region="us-east-1")
QUEUE = "arn:aws:sqs:us-east-1:123456789012:dlq"
BUCKET = "arn:aws:s3:::failed-events"


def build(stack: cdk.Stack, **props: Any) -> AsyncInvokeConfig:
    props.setdefault("function", "orders")
    if not any(key in props for key in ("retry_attempts", "max_event_age", "on_success", "on_failure")):
        props["retry_attempts"] = 1
    return AsyncInvokeConfig(stack, f"Config{len(stack.node.children)}", **props)


Case = Callable[[cdk.Stack], dict[str, Any]]

RULES: list[tuple[str, Case, Case, list[str]]] = [
    (
        "retry_attempts range",
        lambda s: {"retry_attempts": 2},
        lambda s: {"retry_attempts": 3},
        ["`retry_attempts`", "3"],
    ),
    (
        "retry_attempts below range",
        lambda s: {"retry_attempts": 0},
        lambda s: {"retry_attempts": -1},
        ["`retry_attempts`", "-1"],
    ),
    (
        "retry_attempts type",
        lambda s: {"retry_attempts": 1},
        lambda s: {"retry_attempts": "1"},
        ["`retry_attempts` must be an int", "'1'"],
    ),
    (
        "retry_attempts not a bool",
        lambda s: {"retry_attempts": 0},
        lambda s: {"retry_attempts": True},
        ["`retry_attempts` must be an int", "True"],
    ),
    (
        "max_event_age type",
        lambda s: {"max_event_age": cdk.Duration.minutes(5)},
        lambda s: {"max_event_age": 300},
        ["`max_event_age` must be a Duration", "300"],
    ),
    (
        "max_event_age in whole seconds",
        lambda s: {"max_event_age": cdk.Duration.millis(60000)},
        lambda s: {"max_event_age": cdk.Duration.millis(60500)},
        ["`max_event_age` must be a whole number of seconds", "60500"],
    ),
    (
        "max_event_age minimum",
        lambda s: {"max_event_age": cdk.Duration.seconds(60)},
        lambda s: {"max_event_age": cdk.Duration.seconds(59)},
        ["`max_event_age`", "59 seconds"],
    ),
    (
        "max_event_age maximum",
        lambda s: {"max_event_age": cdk.Duration.hours(6)},
        lambda s: {"max_event_age": cdk.Duration.seconds(21601)},
        ["`max_event_age`", "21601"],
    ),
    ("at least one setting", lambda s: {"on_failure": QUEUE}, lambda s: {"retry_attempts": None}, ["at least one of"]),
    (
        "S3 only on failure (ARN)",
        lambda s: {"on_failure": BUCKET},
        lambda s: {"on_success": BUCKET},
        ["`on_success`", BUCKET],
    ),
    (
        "S3 only on failure (object)",
        lambda s: {"on_failure": destinations.S3Destination(s3.Bucket(s, "B"))},
        lambda s: {"on_success": destinations.S3Destination(s3.Bucket(s, "B"))},
        ["`on_success`", "S3"],
    ),
    (
        "destination service",
        lambda s: {"on_failure": "arn:aws:sns:us-east-1:123456789012:topic"},
        lambda s: {"on_failure": "arn:aws:iam::123456789012:role/r"},
        ["`on_failure`", "arn:aws:iam::123456789012:role/r"],
    ),
    (
        "no FIFO destination",
        lambda s: {"on_failure": QUEUE},
        lambda s: {"on_failure": QUEUE + ".fifo"},
        ["`on_failure`", "dlq.fifo"],
    ),
    (
        "qualifier form",
        lambda s: {"qualifier": "live"},
        lambda s: {"qualifier": "bad qualifier!"},
        ["`qualifier`", "'bad qualifier!'"],
    ),
    ("qualifier length", lambda s: {"qualifier": "q" * 128}, lambda s: {"qualifier": "q" * 129}, ["`qualifier`"]),
    (
        "function name form",
        lambda s: {"function": "123456789012:function:orders"},
        lambda s: {"function": "bad name!"},
        ["`function`", "'bad name!'"],
    ),
    (
        "function name length",
        lambda s: {"function": "f" * 64},
        lambda s: {"function": "f" * 65},
        ["`function`", "f" * 65],
    ),
    (
        "qualifier agrees with the name",
        lambda s: {"function": "orders:live", "qualifier": "live"},
        lambda s: {"function": "orders:live", "qualifier": "v2"},
        ["`qualifier`", "'v2'", "'live'"],
    ),
    (
        "qualifier agrees with the alias",
        lambda s: {
            "function": lambda_.Alias(s, "A", alias_name="live", version=fn(s).current_version),
            "qualifier": "live",
        },
        lambda s: {
            "function": lambda_.Alias(s, "A", alias_name="live", version=fn(s).current_version),
            "qualifier": "beta",
        },
        ["`qualifier`", "'beta'", "'live'"],
    ),
    (
        "not its own destination (ARN)",
        lambda s: {"function": "orders", "on_failure": "arn:aws:lambda:us-east-1:123456789012:function:orders-dlq"},
        lambda s: {"function": "orders", "on_failure": "arn:aws:lambda:us-east-1:123456789012:function:orders"},
        ["`on_failure`", "its own destination"],
    ),
    (
        "not its own destination (object)",
        lambda s: {"function": fn(s), "on_failure": destinations.LambdaDestination(fn(s, "Other"))},
        lambda s: (lambda f: {"function": f, "on_failure": destinations.LambdaDestination(f)})(fn(s)),
        ["`on_failure`", "its own destination"],
    ),
    (
        "function in the stack's account and region",
        lambda s: {"function": "arn:aws:lambda:us-east-1:123456789012:function:orders"},
        lambda s: {"function": "arn:aws:lambda:eu-west-1:123456789012:function:orders"},
        ["`function`", "eu-west-1"],
    ),
    (
        "removal policy",
        lambda s: {"removal_policy": cdk.RemovalPolicy.RETAIN},
        lambda s: {"removal_policy": cdk.RemovalPolicy.SNAPSHOT},
        ["`removal_policy`"],
    ),
]


@pytest.mark.parametrize(("accepted", "rejected", "names"), [rule[1:] for rule in RULES], ids=[r[0] for r in RULES])
def test_rule_accepts_and_rejects(accepted, rejected, names):
    good = cdk.Stack(cdk.App(), "Good", env=ENV)
    build(good, **accepted(good))
    Template.from_stack(good)
    bad = cdk.Stack(cdk.App(), "Bad", env=ENV)

    with pytest.raises(InvalidProperty) as raised:  # a ValueError, importable from the package
        build(bad, **rejected(bad))

    for name in names:
        assert name in str(raised.value)


def test_two_configs_for_one_function_and_qualifier_are_rejected_across_the_app():
    app = cdk.App()
    first = cdk.Stack(app, "First", env=ENV)
    second = cdk.Stack(app, "Second", env=ENV)
    build(first, function="orders", qualifier="live")
    build(first, function="orders")

    with pytest.raises(ValueError) as raised:
        build(second, function="arn:aws:lambda:us-east-1:123456789012:function:orders:live")

    assert "orders" in str(raised.value)
    assert "First/Config" in str(raised.value)


def test_two_configs_for_one_in_stack_function_are_rejected():
    stack = cdk.Stack(cdk.App(), "Stack")
    function = fn(stack)
    build(stack, function=function)

    with pytest.raises(ValueError, match="already has an AsyncInvokeConfig"):
        build(stack, function=function, max_event_age=cdk.Duration.minutes(5))


def test_one_in_app_function_configured_from_two_stacks_is_rejected():
    app = cdk.App()
    home = cdk.Stack(app, "Home", env=ENV)
    function = fn(home)
    build(home, function=function)

    with pytest.raises(ValueError, match="already has an AsyncInvokeConfig at Home/Config"):
        build(cdk.Stack(app, "Elsewhere", env=ENV), function=function)


@pytest.mark.parametrize(
    "other",
    [
        lambda stack: "orders",
        lambda stack: lambda_.Function.from_function_name(stack, "Imported", "orders"),
        lambda stack: "arn:aws:lambda:us-east-1:123456789012:function:orders",
    ],
    ids=["by name", "imported by name", "by ARN"],
)
def test_an_in_app_function_and_its_name_are_one_function(other):
    stack = cdk.Stack(cdk.App(), "Stack", env=ENV)
    build(stack, function=fn(stack, name="orders"))

    with pytest.raises(ValueError, match="`function` orders .*already has an AsyncInvokeConfig at Stack/Config"):
        build(stack, function=other(stack))


def test_environment_agnostic_stages_may_name_the_same_function():
    app = cdk.App()
    for stage in ("Beta", "Prod"):
        build(cdk.Stack(cdk.Stage(app, stage), "Service"), function="orders")

    build(cdk.Stack(cdk.Stage(app, "Gamma"), "Service", env=ENV), function="orders")
    with pytest.raises(ValueError, match="already has an AsyncInvokeConfig at Gamma/Service/Config"):
        build(cdk.Stack(cdk.Stage(app, "Delta"), "Service", env=ENV), function="orders:$LATEST")


def test_unresolved_tokens_skip_the_checks_they_cannot_make():
    stack = cdk.Stack(cdk.App(), "Stack")
    retries = cdk.CfnParameter(stack, "Retries", type="Number")
    name = cdk.CfnParameter(stack, "Name")

    build(
        stack,
        function=name.value_as_string,
        retry_attempts=retries.value_as_number,
        qualifier=cdk.CfnParameter(stack, "Qualifier").value_as_string,
        on_failure=cdk.CfnParameter(stack, "Dlq").value_as_string,
    )

    Template.from_stack(stack).resource_count_is("Custom::LambdaAsyncInvokeConfig", 1)


def test_the_id_is_called_id_as_in_aws_cdk_lib_and_may_be_given_either_way():
    stack = cdk.Stack(cdk.App(), "Stack", env=ENV)

    by_keyword = AsyncInvokeConfig(scope=stack, id="ByKeyword", function="orders", retry_attempts=0)
    by_position = AsyncInvokeConfig(stack, "ByPosition", function="billing", retry_attempts=0)

    assert [by_keyword.node.id, by_position.node.id] == ["ByKeyword", "ByPosition"]
