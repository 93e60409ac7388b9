"""Moving a function's async settings from the native resource (`aws_lambda.EventInvokeConfig`, or a Function's own
`on_success`/`on_failure`/`retry_attempts`/`max_event_age`) to AsyncInvokeConfig: the synth refuses both at once, and
the documented two deploys keep the live config at every step, where a one-deploy swap loses it in the cleanup."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from async_invoke_config import AsyncInvokeConfig
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from test_construct import function, make_stack
from test_scenarios import ok, owner

HOUR = cdk.Duration.hours(1)


def synth_error(build) -> str:
    stack = make_stack()
    build(stack)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - aws-cdk-lib raises its validation errors as RuntimeError
        cdk.App.of(stack).synth()  # type: ignore[union-attr]
    return str(raised.value)


def test_a_native_config_and_an_async_invoke_config_on_one_function_fail_the_synth_naming_both():
    def build(stack: cdk.Stack) -> None:
        fn = function(stack)
        lambda_.EventInvokeConfig(stack, "Native", function=fn, retry_attempts=1)
        AsyncInvokeConfig(stack, "Ours", function=fn, retry_attempts=1)

    message = synth_error(build)

    assert "Stack/Ours" in message and "Stack/Native/Resource" in message
    assert "(qualifier $LATEST) has two async-invoke configs" in message


def test_a_functions_own_async_settings_count_as_a_native_config():
    def build(stack: cdk.Stack) -> None:
        fn = function(stack, on_failure=destinations.SqsDestination(sqs.Queue(stack, "Dlq")))
        AsyncInvokeConfig(stack, "Ours", function=fn, max_event_age=HOUR)

    message = synth_error(build)

    assert "Stack/Ours" in message and "Stack/Fn/EventInvokeConfig/Resource" in message


@pytest.mark.parametrize(
    "ours",
    [{"function": "orders"}, {"function": "arn:aws:lambda:us-east-1:123456789012:function:orders"}],
    ids=["name", "full ARN"],
)
def test_a_name_and_an_imported_function_of_that_name_are_the_same_function(ours):
    def build(stack: cdk.Stack) -> None:
        imported = lambda_.Function.from_function_name(stack, "Imported", "orders")
        lambda_.EventInvokeConfig(stack, "Native", function=imported, retry_attempts=1)
        AsyncInvokeConfig(stack, "Ours", retry_attempts=0, **ours)

    stack = make_stack(env=cdk.Environment(account="123456789012", region="us-east-1"))
    build(stack)
    with pytest.raises(Exception, match="two async-invoke configs"):  # noqa: PT011
        cdk.App.of(stack).synth()  # type: ignore[union-attr]


def test_other_qualifiers_and_other_functions_do_not_conflict():
    stack = make_stack()
    fn, other = function(stack), function(stack, "Other")
    live = lambda_.Alias(stack, "Live", alias_name="live", version=fn.current_version)
    lambda_.EventInvokeConfig(stack, "NativeLive", function=fn, qualifier="live", retry_attempts=1)
    lambda_.EventInvokeConfig(stack, "NativeOther", function=other, retry_attempts=1)
    AsyncInvokeConfig(stack, "OursLatest", function=fn, retry_attempts=0)
    AsyncInvokeConfig(stack, "OursBeta", function=fn, qualifier="beta", retry_attempts=0)
    assert live.alias_name == "live"

    cdk.App.of(stack).synth()  # type: ignore[union-attr]


def native(function_name: str, *, retain: bool = False):
    """A stack whose function (outside it, by name) gets its async settings from the native L2."""

    def build(stack: cdk.Stack) -> None:
        AsyncInvokeConfig.configure_drift_check(stack)  # the stack has the handler already (it uses the construct)
        fn = lambda_.Function.from_function_name(stack, "Fn", function_name)
        config = lambda_.EventInvokeConfig(stack, "Native", function=fn, retry_attempts=1, max_event_age=HOUR)
        if retain:  # the documented first deploy: nothing changes but what CloudFormation does when it goes
            config.apply_removal_policy(cdk.RemovalPolicy.RETAIN)

    return build


def ours(function_name: str):
    def build(stack: cdk.Stack) -> None:
        AsyncInvokeConfig(stack, "Ours", function=function_name, retry_attempts=1, max_event_age=HOUR)

    return build


DECLARED = {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 3600}


def test_swapping_in_one_deploy_loses_the_config_in_the_cleanup(h):
    """The negative control: the native resource's Delete comes in the cleanup, after AsyncInvokeConfig adopted it."""
    name = h.function("swap")
    ok(h.deploy("Swap", native(name)), "CREATE_COMPLETE")
    assert h.live(name) == DECLARED

    swapped = ok(h.deploy("Swap", ours(name)), "UPDATE_COMPLETE")

    assert [(s.phase, s.request) for s in swapped.sent if s.logical_id.startswith("Ours")] == [
        ("UPDATE_IN_PROGRESS", "Create")
    ]
    assert h.live(name) is None


def test_the_documented_migration_keeps_the_config_after_every_deploy(h):
    name = h.function("migrate")
    ok(h.deploy("Migrate", native(name)), "CREATE_COMPLETE")
    assert h.live(name) == DECLARED

    ok(h.deploy("Migrate", native(name, retain=True)), "UPDATE_COMPLETE")
    assert h.live(name) == DECLARED

    ok(h.deploy("Migrate", ours(name)), "UPDATE_COMPLETE")
    assert h.live(name) == DECLARED
    assert owner(h, name) == ("Migrate", "Ours")
    assert h.stacks["Migrate"].cloud.native_configs() == {}
