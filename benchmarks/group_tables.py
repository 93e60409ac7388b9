"""The section on many configs per resource: this library's configs carried together (`apply_defaults`, and
`carry_together` for cases (a)-(c)) beside one resource per config and beside aws-cdk-lib's native
`AWS::Lambda::EventInvokeConfig`: template bytes per config, resources, and synth seconds in process."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import template_size
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cases import (
    CASES,
    ENV,
    MAX_EVENT_AGE,
    NATIVE,
    OURS,
    RETRY_ATTEMPTS,
    CaseBuild,
    Declare,
    Shared,
    Target,
    native,
    ours,
    props,
)

TOGETHER = f"{OURS}, carried together"
Populate = Callable[[cdk.Stack, int], None]


def together(stack: cdk.Stack, id_: str, target: Target) -> None:
    from async_invoke_config import AsyncInvokeConfig

    AsyncInvokeConfig.carry_together(stack)
    AsyncInvokeConfig(stack, id_, **props(target))


def functions(stack: cdk.Stack, count: int, **async_props: Any) -> sqs.Queue:
    queue = sqs.Queue(stack, "Queue")
    for index in range(count):
        lambda_.Function(
            stack,
            f"Fn{index}",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
            **async_props,
        )
    return queue


def under_defaults(stack: cdk.Stack, count: int) -> None:
    """In-stack functions, the team's rule through `apply_defaults`: SQS on failure."""
    from async_invoke_config import AsyncInvokeConfig

    queue = functions(stack, count)
    AsyncInvokeConfig.apply_defaults(
        stack,
        retry_attempts=RETRY_ATTEMPTS,
        max_event_age=MAX_EVENT_AGE,
        on_failure=destinations.SqsDestination(queue),
    )


def native_props(stack: cdk.Stack, count: int) -> None:
    """The same rule as aws-cdk-lib gives it: each Function's own async props (an EventInvokeConfig each)."""
    queue = sqs.Queue(stack, "Dlq")
    functions(
        stack,
        count,
        retry_attempts=RETRY_ATTEMPTS,
        max_event_age=MAX_EVENT_AGE,
        on_failure=destinations.SqsDestination(queue),
    )


def synth(populate: Populate, count: int) -> template_size.Synth:
    started = time.perf_counter()
    app = cdk.App(context={"@aws-cdk/core:stackResourceLimit": 0, "async-invoke-config:deploy-token": "fixed"})
    stack = cdk.Stack(app, "Stack0", env=ENV)
    cdk.Validations.of(stack).acknowledge(
        cdk.Acknowledgment(id="CloudFormation-Validate::F0007", reason="measured past the limit on purpose")
    )
    populate(stack, count)
    artifact = app.synth().get_stack_by_name("Stack0")
    seconds = time.perf_counter() - started
    return template_size.Synth(
        len(artifact.template["Resources"]),
        os.path.getsize(artifact.template_full_path),
        seconds,
        artifact.template_full_path,
    )


def of_case(case: CaseBuild, declare: Declare) -> Populate:
    def populate(stack: cdk.Stack, count: int) -> None:
        shared = Shared(sqs.Queue(stack, "Queue"), sns.Topic(stack, "Topic"))
        for index in range(count):
            declare(stack, f"Config{index}", case(stack, shared, index))

    return populate


def rows(sizes: tuple[int, int], runs: int) -> None:
    low, high = sizes
    print(
        "\n## Many configs per resource\n\n"
        f"Template bytes per config: the slope between {low} and {high} configs of the whole template (the function, "
        "its role and the destination grant included, for every construct alike). Synth: seconds in process to "
        f"construct and synthesize the app at {high} configs, median of {runs} runs. `apply_defaults` carries its "
        f"configs together; `{TOGETHER}` is `AsyncInvokeConfig.carry_together(stack)` with the same configs.\n"
    )
    print("| case | construct | resources at " + f"{high} | bytes at {high} | bytes per config | synth s at {high} |")
    print("|---|---|---|---|---|---|")
    table: list[tuple[str, str, Populate]] = [
        ("defaults over in-stack functions, SQS on failure", f"{OURS} `apply_defaults`", under_defaults),
        ("defaults over in-stack functions, SQS on failure", f"{NATIVE} (Function async props)", native_props),
    ]
    for key, (title, case) in CASES.items():
        for name, declare in ((TOGETHER, together), (OURS, ours), (NATIVE, native)):
            table.append((f"({key}) {title}", name, of_case(case, declare)))
    for title, name, populate in table:
        small, large = synth(populate, low), synth(populate, high)
        seconds = statistics.median([large.seconds] + [synth(populate, high).seconds for _ in range(runs - 1)])
        per = (large.bytes - small.bytes) / (high - low)
        print(f"| {title} | {name} | {large.resources} | {large.bytes:,} | {per:,.0f} | {seconds:.1f} |")


if __name__ == "__main__":
    import sys

    rows((int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (60, 220), 1)
