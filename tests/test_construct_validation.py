"""Synth-time validation: each rule with one accepted and one rejected input; errors name the config's path, the prop
and the value, and one error lists every problem of a config."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from async_invoke_config import AsyncInvokeConfig, InvalidProperty
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
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
        "no FIFO queue object",
        lambda s: {"on_failure": destinations.SqsDestination(sqs.Queue(s, "Dlq"))},
        lambda s: {"on_failure": destinations.SqsDestination(sqs.Queue(s, "Dlq", fifo=True))},
        ["`on_failure` is the FIFO queue Bad/Dlq", "pass a standard queue"],
    ),
    (
        "no FIFO queue object, FIFO by its name",
        lambda s: {"on_failure": destinations.SqsDestination(sqs.Queue(s, "Dlq", queue_name="dlq"))},
        lambda s: {"on_failure": destinations.SqsDestination(sqs.Queue(s, "Dlq", queue_name="dlq.fifo"))},
        ["`on_failure` is the FIFO queue Bad/Dlq"],
    ),
    (
        "no FIFO queue object, imported by a literal ARN",
        lambda s: {"on_failure": destinations.SqsDestination(sqs.Queue.from_queue_arn(s, "Dlq", QUEUE))},
        lambda s: {"on_failure": destinations.SqsDestination(sqs.Queue.from_queue_arn(s, "Dlq", QUEUE + ".fifo"))},
        ["`on_failure`", "dlq.fifo"],
    ),
    (
        "no FIFO topic object",
        lambda s: {"on_success": destinations.SnsDestination(sns.Topic(s, "Done"))},
        lambda s: {"on_success": destinations.SnsDestination(sns.Topic(s, "Done", fifo=True))},
        ["`on_success` is the FIFO topic Bad/Done", "pass a standard topic"],
    ),
    (
        "a queue is not a destination",
        lambda s: {"on_failure": destinations.SqsDestination(sqs.Queue(s, "Dlq"))},
        lambda s: {"on_failure": sqs.Queue(s, "Dlq")},
        ["`on_failure` is the queue Bad/Dlq, not a destination", "`aws_lambda_destinations.SqsDestination(queue)`"],
    ),
    (
        "a FIFO queue is not a destination either",
        lambda s: {"on_failure": QUEUE},
        lambda s: {"on_failure": sqs.Queue(s, "Dlq", fifo=True)},
        ["`on_failure` is the FIFO queue Bad/Dlq, not a destination", "pass a standard queue"],
    ),
    (
        "a topic is not a destination",
        lambda s: {"on_success": destinations.SnsDestination(sns.Topic(s, "Done"))},
        lambda s: {"on_success": sns.Topic(s, "Done")},
        ["`on_success` is the topic Bad/Done, not a destination", "SnsDestination(topic)"],
    ),
    (
        "a function is not a destination",
        lambda s: {"on_failure": destinations.LambdaDestination(fn(s, "Failed"))},
        lambda s: {"on_failure": fn(s, "Failed")},
        ["`on_failure` is the function Bad/Failed, not a destination", "LambdaDestination(function)"],
    ),
    (
        "an event bus is not a destination",
        lambda s: {"on_failure": destinations.EventBridgeDestination(events.EventBus(s, "Bus"))},
        lambda s: {"on_failure": events.EventBus(s, "Bus")},
        ["`on_failure` is the event bus Bad/Bus, not a destination", "EventBridgeDestination(bus)"],
    ),
    (
        "a bucket is not a destination",
        lambda s: {"on_failure": destinations.S3Destination(s3.Bucket(s, "B"))},
        lambda s: {"on_failure": s3.Bucket(s, "B")},
        ["`on_failure` is the bucket Bad/B, not a destination", "S3Destination(bucket)"],
    ),
    (
        "a number is not a destination",
        lambda s: {"on_failure": QUEUE},
        lambda s: {"on_failure": 1},
        ["`on_failure` must be a destination", "got 1."],
    ),
    (
        "function type",
        lambda s: {"function": "orders"},
        lambda s: {"function": 42},
        ["`function` must be an `aws_lambda.IFunction`", "got 42."],
    ),
    (
        "qualifier type",
        lambda s: {"qualifier": "1"},
        lambda s: {"qualifier": 1},
        ["`qualifier` must be a str", "got 1."],
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

    assert re.match(r"Bad/Config\d+: \S", str(raised.value)), str(raised.value)  # the config's path, then the problem
    for name in names:
        assert name in str(raised.value)


def test_every_problem_of_a_config_is_reported_in_one_error_naming_its_path():
    stack = cdk.Stack(cdk.App(), "Stack", env=ENV)
    queue = sqs.Queue(stack, "Dlq")

    with pytest.raises(InvalidProperty) as raised:
        AsyncInvokeConfig(
            stack,
            "OrdersAsync",
            function="orders",
            qualifier="bad qualifier!",
            retry_attempts=3,
            max_event_age=cdk.Duration.seconds(10),
            on_success=destinations.SnsDestination(sns.Topic(stack, "Done", fifo=True)),
            on_failure=queue,  # type: ignore[arg-type]  # as a user without mypy writes it
        )

    first, *problems = str(raised.value).splitlines()
    assert first == "Stack/OrdersAsync: 5 invalid props:"
    assert problems == [
        "  - `qualifier` must be a version number, an alias name or $LATEST; got 'bad qualifier!'.",
        "  - `retry_attempts` must be between 0 and 2; got 3.",
        "  - `max_event_age` must be between 60 seconds and 6 hours; got 10 seconds (10 s).",
        "  - `on_failure` is the queue Stack/Dlq, not a destination: pass "
        "`aws_lambda_destinations.SqsDestination(queue)` or the queue's ARN.",
        "  - `on_success` is the FIFO topic Stack/Done, which Lambda cannot send to: pass a standard topic.",
    ]


def test_two_configs_for_one_function_and_qualifier_are_rejected_across_the_app():
    app = cdk.App()
    first = cdk.Stack(app, "First", env=ENV)
    second = cdk.Stack(app, "Second", env=ENV)
    build(first, function="orders", qualifier="live")
    build(first, function="orders")

    with pytest.raises(ValueError) as raised:
        build(second, function="arn:aws:lambda:us-east-1:123456789012:function:orders:live")

    assert str(raised.value).startswith("Second/Config0: `function` orders (qualifier live) already has")
    assert "an AsyncInvokeConfig at First/Config0" in str(raised.value)


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


def test_a_config_that_fails_grants_its_destination_nothing():
    stack = cdk.Stack(cdk.App(), "Stack", env=ENV)
    orders = fn(stack, "Orders")

    with pytest.raises(InvalidProperty, match="`retry_attempts`"):
        build(stack, function=orders, retry_attempts=3, on_failure=destinations.SqsDestination(sqs.Queue(stack, "Dlq")))

    assert orders.role is not None
    assert orders.role.node.try_find_child("DefaultPolicy") is None


def test_a_queue_whose_fifo_ness_is_not_known_at_synth_is_not_refused():
    """Only what is certain is refused: an imported queue whose ARN is a token may be FIFO or not (Lambda says so
    at deploy), whatever `fifo` it was imported with."""
    stack = cdk.Stack(cdk.App(), "Stack", env=ENV)
    arn = cdk.CfnParameter(stack, "DlqArn").value_as_string
    queue = sqs.Queue.from_queue_attributes(stack, "Dlq", queue_arn=arn, fifo=True)

    build(stack, on_failure=destinations.SqsDestination(queue))

    Template.from_stack(stack).has_resource_properties(
        "Custom::LambdaAsyncInvokeConfig", {"OnFailure": {"Ref": "DlqArn"}}
    )


def test_apply_defaults_reports_every_problem_of_its_settings_naming_its_scope():
    stack = cdk.Stack(cdk.App(), "Team", env=ENV)

    with pytest.raises(InvalidProperty) as raised:
        AsyncInvokeConfig.apply_defaults(stack, retry_attempts=3, on_failure=sqs.Queue(stack, "Dlq"))  # type: ignore[arg-type]

    assert str(raised.value).splitlines() == [
        "`apply_defaults` on Team: 2 invalid props:",
        "  - `retry_attempts` must be between 0 and 2; got 3.",
        "  - `on_failure` is the queue Team/Dlq, not a destination: pass "
        "`aws_lambda_destinations.SqsDestination(queue)` or the queue's ARN.",
    ]


def test_a_fifo_queue_given_to_apply_defaults_fails_the_synth_naming_the_defaulted_config():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    AsyncInvokeConfig.apply_defaults(stack, on_failure=destinations.SqsDestination(sqs.Queue(stack, "Dlq", fifo=True)))
    fn(stack, "Orders")

    with pytest.raises(Exception, match="Team/Orders/AsyncInvokeConfig: `on_failure` is the FIFO queue Team/Dlq"):
        app.synth()
