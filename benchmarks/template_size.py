"""Template size and synth time of one stack of N configs, for AsyncInvokeConfig, the native EventInvokeConfig and
`custom_resources.AwsCustomResource`, in three cases:

- (a) an in-stack `Function` each, SQS on failure and SNS on success (destination objects, shared queue and topic);
- (b) an imported function with its role, SQS on failure (a destination object);
- (c) an imported function, settings only.

Every config declares retry attempts 1 and a maximum event age of 1 hour. Bytes are those of the template file
`cdk synth` writes (indent 1, path metadata on). The stack resource limit is lifted while measuring, so that a stack
past 500 resources still shows its size (it would not deploy).

    .venv/bin/python benchmarks/template_size.py     (the tables alone; benchmarks/compare.py prints them all)
    .venv/bin/python benchmarks/template_size.py --app CASE CONSTRUCT COUNT OUTDIR
                                                     (one app, synthesized into OUTDIR as `cdk synth` runs it)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
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
RESOURCE_LIMIT = 500
RETRY_ATTEMPTS = 1
MAX_EVENT_AGE = cdk.Duration.hours(1)


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
    "AsyncInvokeConfig": ours,
    "native EventInvokeConfig": native,
    "AwsCustomResource": aws_custom_resource,
}


@dataclass(frozen=True)
class Synth:
    resources: int
    bytes: int
    seconds: float
    template_path: str

    @property
    def deployable(self) -> bool:
        return self.resources <= RESOURCE_LIMIT


def build_stack(app: cdk.App, name: str, case: CaseBuild, declare: Declare, count: int, first: int = 0) -> cdk.Stack:
    """A stack of `count` configs on functions numbered from `first` (stacks of one app configure distinct ones)."""
    stack = cdk.Stack(app, name, env=ENV)
    cdk.Validations.of(stack).acknowledge(
        cdk.Acknowledgment(id="CloudFormation-Validate::F0007", reason="measured past the limit on purpose")
    )
    shared = Shared(sqs.Queue(stack, "Queue"), sns.Topic(stack, "Topic"))
    for index in range(first, first + count):
        declare(stack, f"Config{index}", case(stack, shared, index))
    return stack


def synth(case: CaseBuild, declare: Declare, count: int, stacks: int = 1, outdir: str | None = None) -> Synth:
    """Construct and synthesize an app of `stacks` stacks of `count` configs (into `outdir`, a temporary directory when
    None); the first stack's template measured."""
    started = time.perf_counter()
    context = {"aws:cdk:enable-path-metadata": True, "@aws-cdk/core:stackResourceLimit": 0}
    app = cdk.App(outdir=outdir, context=context)
    for number in range(stacks):
        build_stack(app, f"Stack{number}", case, declare, count, first=number * count)
    assembly = app.synth()
    seconds = time.perf_counter() - started
    artifact = assembly.get_stack_by_name("Stack0")
    path = artifact.template_full_path
    return Synth(len(artifact.template["Resources"]), os.path.getsize(path), seconds, path)


def most_configs(case: CaseBuild, declare: Declare, at_one: Synth, at_many: Synth, many: int) -> int:
    """The most configs one stack holds under the resource limit: estimated from 1 and `many` configs, then confirmed
    by synth (the largest count whose stack has at most 500 resources)."""
    per_config = (at_many.resources - at_one.resources) / (many - 1)
    fixed = at_one.resources - per_config
    count = max(1, int((RESOURCE_LIMIT - fixed) // per_config))
    while count > 1 and synth(case, declare, count).resources > RESOURCE_LIMIT:
        count -= 1
    while synth(case, declare, count + 1).resources <= RESOURCE_LIMIT:
        count += 1
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--app", nargs=4, metavar=("CASE", "CONSTRUCT", "COUNT", "OUTDIR"), help="synthesize one app")
    args = parser.parse_args(argv)
    if args.app:
        key, name, count, outdir = args.app
        if key not in CASES:
            parser.error(f"--app: CASE must be one of {', '.join(CASES)}, not {key!r}")
        if name not in CONSTRUCTS:
            parser.error(f"--app: CONSTRUCT must be one of {', '.join(map(repr, CONSTRUCTS))}, not {name!r}")
        if not count.isdigit():
            parser.error(f"--app: COUNT must be a whole number, not {count!r}")
        synth(CASES[key][1], CONSTRUCTS[name], int(count), outdir=outdir)
        return
    print("| case | construct | configs | resources | template bytes | bytes per config |\n|---|---|---|---|---|---|")
    for key, (title, case) in CASES.items():
        for name, declare in CONSTRUCTS.items():
            base = synth(case, declare, 0)
            for count in (1, 100, 400):
                measured = synth(case, declare, count)
                per = (measured.bytes - base.bytes) / count
                row = f"| ({key}) {title} | {name} | {count} | {measured.resources} | {measured.bytes:,} | {per:,.0f} |"
                print(row)


if __name__ == "__main__":
    main()
