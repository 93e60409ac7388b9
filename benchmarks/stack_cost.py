"""AsyncInvokeConfig's template taken apart, in case (c) of cases.py: what a stack gains with its first config (the
handler's resources, the fixed part) and with none, and what each further config adds, resource by resource. A
resource's bytes are those of the template file (indent 1, path metadata on) less those of the same file without it.
Used by benchmarks/compare.py.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from cases import CASES, ENV, RETRY_ATTEMPTS, imported_arn, native, ours
from template_size import synth

PROVIDER_ID = "AsyncInvokeConfigProvider"  # the handler's resources: the construct path every stack's holds


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
    `none`, resources and bytes a stack without a config gains in each situation named; `options`, those a stack of
    one config gains with each per-stack option named; the handler's code asset."""

    fixed: list[Part]
    fixed_bytes: int
    first_bytes: int
    first_resources: int
    second: list[Part]
    own: dict[str, int]
    native: dict[str, int]
    none: dict[str, tuple[int, int]] = field(default_factory=dict)
    options: dict[str, tuple[int, int]] = field(default_factory=dict)
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


def gained(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, int]:
    """The resources and template bytes `after` has beyond `before`."""
    resources = len(after.get("Resources", {})) - len(before.get("Resources", {}))
    return resources, file_bytes(after) - file_bytes(before)


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
    none = {label: gained(base, template_of(populate)) for label, populate in situations.items()}

    def one_config(stack: cdk.Stack) -> None:
        function = lambda_.Function.from_function_arn(stack, "Fn0", imported_arn(0))
        AsyncInvokeConfig(stack, "Config0", function=function, retry_attempts=RETRY_ATTEMPTS)

    def both(option: Callable[[cdk.Stack], object]) -> Callable[[cdk.Stack], object]:
        def populate(stack: cdk.Stack) -> None:
            one_config(stack)
            option(stack)

        return populate

    with_one = template_of(one_config)
    options: dict[str, Callable[[cdk.Stack], object]] = {
        "`configure_drift_check(schedule=Duration.hours(6))`": (
            lambda stack: AsyncInvokeConfig.configure_drift_check(stack, schedule=cdk.Duration.hours(6))
        ),
        "`configure_drift_check(on_deploy=False)`": (
            lambda stack: AsyncInvokeConfig.configure_drift_check(stack, on_deploy=False)
        ),
    }
    optional = {label: gained(with_one, template_of(both(option))) for label, option in options.items()}
    return StackCost(
        fixed=fixed,
        fixed_bytes=2 * sizes[1] - sizes[0] - sizes[2],
        first_bytes=sizes[1] - sizes[0],
        first_resources=len(one) - len(zero),
        second=second,
        own=resource_parts(templates[2], own_key),
        native=resource_parts(native_template, native_key),
        none=none,
        options=optional,
        asset_files=len(files),
        asset_bytes=sum(path.stat().st_size for path in files),
    )
