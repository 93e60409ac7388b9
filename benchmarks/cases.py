"""The cases the benchmarks measure, and the three ways of declaring one config in each:

- (a) an in-stack `Function` each, SQS on failure and SNS on success (destination objects, shared queue and topic);
- (b) an imported function with its role, SQS on failure (a destination object);
- (c) an imported function, settings only.

Every config declares retry attempts 1 and a maximum event age of 1 hour, through AsyncInvokeConfig, the native
`aws_lambda.EventInvokeConfig`, or `custom_resources.AwsCustomResource` (a Put on Create and Update, a Delete on
Delete). Used by template_size.py, stack_cost.py and peers.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "constructs"))

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_iam as iam  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from aws_cdk import aws_lambda_destinations as destinations  # noqa: E402
from aws_cdk import aws_sns as sns  # noqa: E402
from aws_cdk import aws_sqs as sqs  # noqa: E402
from aws_cdk import custom_resources as cr  # noqa: E402

ENV = cdk.Environment(account="123456789012", region="us-east-1")
RETRY_ATTEMPTS = 1
MAX_EVENT_AGE = cdk.Duration.hours(1)
OURS, NATIVE, PEER = "AsyncInvokeConfig", "native EventInvokeConfig", "AwsCustomResource"


@dataclass(frozen=True)
class Shared:
    """What every config of a stack may send to."""

    queue: sqs.Queue
    topic: sns.Topic


@dataclass(frozen=True)
class Target:
    """One config's function and its destinations (objects, as a user passes them)."""

    function: lambda_.IFunction
    on_success: lambda_.IDestination | None = None
    on_failure: lambda_.IDestination | None = None


CaseBuild = Callable[[cdk.Stack, Shared, int], Target]
Declare = Callable[[cdk.Stack, str, Target], None]


def in_stack_function(stack: cdk.Stack, shared: Shared, index: int) -> Target:
    """(a) an in-stack function, SQS on failure and SNS on success."""
    function = lambda_.Function(
        stack,
        f"Fn{index}",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    return Target(function, destinations.SnsDestination(shared.topic), destinations.SqsDestination(shared.queue))


def imported_arn(index: int) -> str:
    return f"arn:aws:lambda:{ENV.region}:{ENV.account}:function:orders-function-{index:03d}"


def imported_with_role(stack: cdk.Stack, shared: Shared, index: int) -> Target:
    """(b) an imported function with its role, SQS on failure."""
    role = iam.Role.from_role_arn(stack, f"Role{index}", f"arn:aws:iam::{ENV.account}:role/orders-role-{index:03d}")
    function = lambda_.Function.from_function_attributes(
        stack, f"Fn{index}", function_arn=imported_arn(index), role=role
    )
    return Target(function, on_failure=destinations.SqsDestination(shared.queue))


def imported_settings_only(stack: cdk.Stack, shared: Shared, index: int) -> Target:
    """(c) an imported function, settings only."""
    return Target(lambda_.Function.from_function_arn(stack, f"Fn{index}", imported_arn(index)))


CASES: dict[str, tuple[str, CaseBuild]] = {
    "a": ("in-stack Function, SQS on failure + SNS on success", in_stack_function),
    "b": ("imported function with role, SQS destination object", imported_with_role),
    "c": ("imported function, settings only", imported_settings_only),
}


def props(target: Target) -> dict[str, Any]:
    """The props of one config, the same for AsyncInvokeConfig and the native L2 (same names)."""
    return {
        "function": target.function,
        "retry_attempts": RETRY_ATTEMPTS,
        "max_event_age": MAX_EVENT_AGE,
        "on_success": target.on_success,
        "on_failure": target.on_failure,
    }


def ours(stack: cdk.Stack, id_: str, target: Target) -> None:
    # Imported here, so that an app of the other constructs (`--app`) does not pay for importing this library.
    from async_invoke_config import AsyncInvokeConfig

    AsyncInvokeConfig(stack, id_, **props(target))


def native(stack: cdk.Stack, id_: str, target: Target) -> None:
    lambda_.EventInvokeConfig(stack, id_, **props(target))


def aws_custom_resource(stack: cdk.Stack, id_: str, target: Target) -> None:
    """The same config through `AwsCustomResource`: a Put on Create and Update, a Delete on Delete. Destinations are
    bound as the native L2 binds them (the function's role gets the send permission)."""
    scope = cdk.Stack.of(stack)
    function = target.function
    parameters: dict[str, object] = {
        "FunctionName": function.function_name,
        "MaximumRetryAttempts": RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": MAX_EVENT_AGE.to_seconds(),
    }
    halves = {}
    for half, destination, kind in (
        ("OnSuccess", target.on_success, lambda_.DestinationType.SUCCESS),
        ("OnFailure", target.on_failure, lambda_.DestinationType.FAILURE),
    ):
        if destination is not None:
            halves[half] = {"Destination": destination.bind(scope, function, type=kind).destination}
    if halves:
        parameters["DestinationConfig"] = halves
    put = cr.AwsSdkCall(
        service="Lambda",
        action="putFunctionEventInvokeConfig",
        parameters=parameters,
        physical_resource_id=cr.PhysicalResourceId.of(f"{function.function_name}:$LATEST"),
    )
    delete = cr.AwsSdkCall(
        service="Lambda",
        action="deleteFunctionEventInvokeConfig",
        parameters={"FunctionName": function.function_name},
    )
    cr.AwsCustomResource(
        stack,
        id_,
        on_create=put,
        on_update=put,
        on_delete=delete,
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=[function.function_arn]),
        install_latest_aws_sdk=False,
    )


CONSTRUCTS: dict[str, Declare] = {
    OURS: ours,
    NATIVE: native,
    PEER: aws_custom_resource,
}
