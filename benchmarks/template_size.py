"""Template size and synth time of one stack of N configs, for AsyncInvokeConfig, the native EventInvokeConfig and
`custom_resources.AwsCustomResource`, in three cases:

- (a) an in-stack `Function` each, SQS on failure and SNS on success (destination objects, shared queue and topic);
- (b) an imported function with its role, SQS on failure (a destination object);
- (c) an imported function, settings only.

`stack_cost` takes AsyncInvokeConfig's template apart: what a stack gains with its first config (the handler's
resources, the fixed part) and with none, and what each further config adds, resource by resource.

Every config declares retry attempts 1 and a maximum event age of 1 hour. Bytes are those of the template file
`cdk synth` writes (indent 1, path metadata on). The stack resource limit is lifted while measuring, so that a stack
past 500 resources still shows its size (it would not deploy).

    .venv/bin/python benchmarks/template_size.py     (the tables alone; benchmarks/compare.py prints them all)
    .venv/bin/python benchmarks/template_size.py --app CASE CONSTRUCT COUNT OUTDIR
                                                     (one app, synthesized into OUTDIR as `cdk synth` runs it)
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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

PROVIDER_ID = "AsyncInvokeConfigProvider"  # the handler's resources: the construct path every stack's holds
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


def file_bytes(template: dict[str, Any]) -> int:
    """The bytes of a template as `cdk synth` writes it (JSON, indent 1)."""
    return len(json.dumps(template, indent=1, ensure_ascii=False).encode())


def without(template: dict[str, Any], logical_id: str, key: str | None = None, prop: str | None = None) -> int:
    """The bytes one resource (or one of its keys, or one of its properties) takes in the template file: the file's
    bytes less those of the same file without it."""
    resources = dict(template["Resources"])
    if key is None:
        del resources[logical_id]
    elif prop is None:
        resources[logical_id] = {k: v for k, v in resources[logical_id].items() if k != key}
    else:
        properties = {k: v for k, v in resources[logical_id]["Properties"].items() if k != prop}
        resources[logical_id] = resources[logical_id] | {"Properties": properties}
    return file_bytes(template) - file_bytes(template | {"Resources": resources})


def inserted(before: str, after: str) -> str:
    """The text `after` inserts into `before` (what it changes in place, a digest say, left out)."""
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return " ".join(after[j1:j2] for tag, _, _, j1, j2 in matcher.get_opcodes() if tag == "insert")


def by_path(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The template's resources by construct path (less the stack's name): (logical id, resource)."""
    return {
        str(resource.get("Metadata", {}).get("aws:cdk:path", key)).split("/", 1)[-1]: (key, resource)
        for key, resource in template.get("Resources", {}).items()
    }


@dataclass(frozen=True)
class Part:
    """One resource of a template: its construct path, type and bytes in the file; `adds`: what the next config
    writes into it (bytes, and the text when it is one insertion)."""

    path: str
    type: str
    bytes: int
    adds: int = 0
    text: str = ""


@dataclass(frozen=True)
class StackCost:
    """What AsyncInvokeConfig costs a stack (case (c)): `fixed`, the handler's resources with one config (their
    bytes include that config's entries, `adds` is what the next config writes into each); `fixed_bytes`, the
    template's growth from no config to one, less what the second config adds; `second`, what the second config
    adds, resource by resource; `own`, its own resource's bytes by key, beside the native resource's (`native`);
    `none`, resources and bytes a stack without a config gains in each situation named; the handler's code asset."""

    fixed: list[Part]
    fixed_bytes: int
    first_bytes: int
    first_resources: int
    second: list[Part]
    own: dict[str, int]
    native: dict[str, int]
    none: dict[str, tuple[int, int]] = field(default_factory=dict)
    asset_files: int = 0
    asset_bytes: int = 0


def template_of(populate: Callable[[cdk.Stack], object], outdir: str | None = None) -> dict[str, Any]:
    """The template of one stack (path metadata on) that `populate` fills."""
    app = cdk.App(outdir=outdir, context={"aws:cdk:enable-path-metadata": True})
    stack = cdk.Stack(app, "Stack0", env=ENV)
    cdk.Validations.of(stack).acknowledge(
        cdk.Acknowledgment(id="CloudFormation-Validate::F0001", reason="a stack with no resource, measured")
    )
    populate(stack)
    template: dict[str, Any] = app.synth().get_stack_by_name("Stack0").template
    return template


def resource_parts(template: dict[str, Any], logical_id: str) -> dict[str, int]:
    """One resource's bytes in the file by part: each property, each other key, and the rest (its logical id,
    braces and separators)."""
    resource = template["Resources"][logical_id]
    parts: dict[str, int] = {}
    for key, value in resource.items():
        if key == "Properties":
            parts |= {f"Properties.{name}": without(template, logical_id, key, name) for name in value}
            parts["Properties (the key)"] = without(template, logical_id, key) - sum(
                n for part, n in parts.items() if part.startswith("Properties.")
            )
        elif key != "Type":
            parts[key] = without(template, logical_id, key)
    parts["Type, logical id, braces"] = without(template, logical_id) - sum(parts.values())
    return parts


def stack_cost() -> StackCost:
    """AsyncInvokeConfig's template taken apart, in case (c) (imported functions, settings only)."""
    case = CASES["c"][1]
    with_configs = {count: synth(case, ours, count) for count in (0, 1, 2)}
    templates = {count: json.loads(Path(one.template_path).read_text()) for count, one in with_configs.items()}
    sizes = {count: one.bytes for count, one in with_configs.items()}
    zero, one, two = (by_path(templates[count]) for count in (0, 1, 2))

    def text(path: str, template: dict[str, Any]) -> str:
        """One resource as the file holds it, less the deploy token (a new value at each synth)."""
        resource = template["Resources"][by_path(template)[path][0]]
        properties = {k: v for k, v in resource.get("Properties", {}).items() if k != "DeployToken"}
        return json.dumps(resource | {"Properties": properties}, indent=1)

    fixed = []
    for path, (key, resource) in one.items():
        if path.startswith(PROVIDER_ID + "/"):
            size = without(templates[1], key)
            grown = without(templates[2], two[path][0]) - size
            added = inserted(text(path, templates[1]), text(path, templates[2]))
            fixed.append(Part(path, resource["Type"], size, grown, added))
    second = [Part(p.path, p.type, p.adds, text=p.text) for p in fixed if p.adds]
    own_path = next(path for path in two if path not in one and not path.startswith(PROVIDER_ID + "/"))
    own_key, own = two[own_path]
    second.insert(0, Part(own_path, own["Type"], without(templates[2], own_key)))

    native_template = json.loads(Path(synth(case, native, 2).template_path).read_text())
    native_key = by_path(native_template)[own_path][0]

    handler = next(resource for path, (_, resource) in one.items() if path == f"{PROVIDER_ID}/Handler/Resource")
    asset = Path(with_configs[1].template_path).parent / f"asset.{handler['Properties']['Code']['S3Key'][:-4]}"
    files = [path for path in asset.rglob("*") if path.is_file()]

    from async_invoke_config import AsyncInvokeConfig

    base = template_of(lambda stack: None)
    situations: dict[str, Callable[[cdk.Stack], object]] = {
        "no config: `apply_defaults` over a stack with no function": (
            lambda stack: AsyncInvokeConfig.apply_defaults(stack, retry_attempts=RETRY_ATTEMPTS)
        ),
        "no config, `configure_handler` called": AsyncInvokeConfig.configure_handler,
        "no config, `configure_drift_check` called (no schedule)": AsyncInvokeConfig.configure_drift_check,
    }
    none = {}
    for label, populate in situations.items():
        template = template_of(populate)
        gained = len(template.get("Resources", {})) - len(base.get("Resources", {}))
        none[label] = (gained, file_bytes(template) - file_bytes(base))
    return StackCost(
        fixed=fixed,
        fixed_bytes=2 * sizes[1] - sizes[0] - sizes[2],
        first_bytes=sizes[1] - sizes[0],
        first_resources=len(one) - len(zero),
        second=second,
        own=resource_parts(templates[2], own_key),
        native=resource_parts(native_template, native_key),
        none=none,
        asset_files=len(files),
        asset_bytes=sum(path.stat().st_size for path in files),
    )


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
