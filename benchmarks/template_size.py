"""Prints template resources and bytes per config at 1, 100 and 400 configs, next to the native EventInvokeConfig.

    .venv/bin/python benchmarks/template_size.py

Each config: a function given by name, retry attempts, max event age and an SQS on-failure destination. Bytes are
the minified template as `cdk synth` writes it (path metadata on).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "constructs"))

import aws_cdk as cdk  # noqa: E402
from async_invoke_config import AsyncInvokeConfig  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from aws_cdk import aws_lambda_destinations as destinations  # noqa: E402
from aws_cdk import aws_sqs as sqs  # noqa: E402

Build = Callable[[cdk.Stack, sqs.Queue, int], None]


def ours(stack: cdk.Stack, queue: sqs.Queue, index: int) -> None:
    AsyncInvokeConfig(
        stack,
        f"Config{index}",
        function=f"orders-function-{index:03d}",
        retry_attempts=1,
        max_event_age=cdk.Duration.hours(1),
        on_failure=destinations.SqsDestination(queue),
    )


def native(stack: cdk.Stack, queue: sqs.Queue, index: int) -> None:
    function = lambda_.Function.from_function_attributes(
        stack,
        f"Fn{index}",
        function_arn=stack.format_arn(
            service="lambda",
            resource="function",
            resource_name=f"orders-function-{index:03d}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        ),
        role=cdk.aws_iam.Role.from_role_name(stack, f"Role{index}", f"orders-role-{index:03d}"),
    )
    lambda_.EventInvokeConfig(
        stack,
        f"Config{index}",
        function=function,
        retry_attempts=1,
        max_event_age=cdk.Duration.hours(1),
        on_failure=destinations.SqsDestination(queue),
    )


def measure(build: Build, count: int) -> tuple[int, int]:
    app = cdk.App(context={"aws:cdk:enable-path-metadata": True})
    stack = cdk.Stack(app, "Stack")
    queue = sqs.Queue(stack, "Dlq")
    for index in range(count):
        build(stack, queue, index)
    template = app.synth().get_stack_by_name("Stack").template
    return len(template["Resources"]), len(json.dumps(template, separators=(",", ":")))


def main() -> None:
    print("| construct | configs | resources | template bytes | bytes per config (marginal) |")
    print("|---|---|---|---|---|")
    for name, build in (("AsyncInvokeConfig", ours), ("native EventInvokeConfig", native)):
        base_resources, base_bytes = measure(build, 0)
        for count in (1, 100, 400):
            try:
                resources, size = measure(build, count)
            except RuntimeError as error:  # jsii relays CDK's TooManyResourcesInStack
                print(f"| {name} | {count} | does not synthesize: {str(error).split(':')[2].strip()} | | |")
                continue
            marginal = (size - base_bytes) / count
            print(
                f"| {name} | {count} | {resources} ({resources - base_resources} for the configs) | {size:,} "
                f"| {marginal:,.0f} |"
            )


if __name__ == "__main__":
    main()
