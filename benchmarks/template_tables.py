"""The template sections of benchmarks/compare.py: template size per case and construct, the most configs one stack
holds, and what a stack pays for AsyncInvokeConfig (its fixed part, and each config)."""

from __future__ import annotations

from dataclasses import dataclass

import stack_cost
import template_size
from calls import PATHS, PathCalls
from cases import CASES, CONSTRUCTS, NATIVE, OURS
from figures import Plan
from template_size import RESOURCE_LIMIT, synth

FIRST_DELETE = next(step.name for step in PATHS if step.kind == "Delete")


@dataclass(frozen=True)
class Marginal:
    """What each config adds between the plan's two largest sizes: resources and template bytes."""

    resources: float
    bytes: float


def templates(plan: Plan) -> dict[tuple[str, str], Marginal]:
    """The template-size tables; returns each (case, construct)'s marginal figures."""
    print("\n## Template size (one stack; bytes of the template file, indent 1, path metadata on)\n")
    print(
        "Per config: (bytes - bytes of the same stack with no config) / configs; marginal: the bytes each config adds "
        f"between {plan.sizes[-2]} and {plan.sizes[-1]} configs, and that figure above the native L2's.\n"
    )
    print("| case | construct | configs | resources | template bytes | per config | marginal | above native |")
    print("|---|---|---|---|---|---|---|---|")
    most: dict[tuple[str, str], str] = {}
    marginals: dict[tuple[str, str], Marginal] = {}
    for key, (title, case) in CASES.items():
        measured: dict[str, dict[int, template_size.Synth]] = {}
        base: dict[str, template_size.Synth] = {}
        marginal: dict[str, float] = {}
        for name, declare in CONSTRUCTS.items():
            base[name] = synth(case, declare, 0)
            measured[name] = {count: synth(case, declare, count) for count in plan.sizes}
            low, high = measured[name][plan.sizes[-2]], measured[name][plan.sizes[-1]]
            marginal[name] = (high.bytes - low.bytes) / (plan.sizes[-1] - plan.sizes[-2])
            resources = (high.resources - low.resources) / (plan.sizes[-1] - plan.sizes[-2])
            marginals[key, name] = Marginal(resources, marginal[name])
        for name, declare in CONSTRUCTS.items():
            for count, one in measured[name].items():
                over = "" if one.deployable else f" (over {RESOURCE_LIMIT}: does not deploy)"
                last = count == plan.sizes[-1]
                extra = f"| {marginal[name]:,.0f} | {marginal[name] - marginal[NATIVE]:+,.0f} |" if last else "| | |"
                print(
                    f"| ({key}) {title} | {name} | {count} | {one.resources}{over} | {one.bytes:,} "
                    f"| {(one.bytes - base[name].bytes) / count:,.0f} {extra}"
                )
            first, high = measured[name][plan.sizes[0]], measured[name][plan.sizes[-1]]
            if plan.most:
                most[(key, name)] = str(template_size.most_configs(case, declare, first, high, plan.sizes[-1]))
            else:
                per = (high.resources - first.resources) / (plan.sizes[-1] - plan.sizes[0])
                most[(key, name)] = f"~{int((RESOURCE_LIMIT - (first.resources - per)) // per)} (estimated)"
    print(f"\n### Most configs one stack holds (at most {RESOURCE_LIMIT} resources, confirmed by synth)\n")
    print(f"| case | {' | '.join(CONSTRUCTS)} |\n|---|---|---|---|")
    for key, (title, _) in CASES.items():
        print(f"| ({key}) {title} | {' | '.join(most[(key, name)] for name in CONSTRUCTS)} |")
    return marginals


def costs(plan: Plan, marginals: dict[tuple[str, str], Marginal], paths: dict[str, PathCalls]) -> None:
    cost = stack_cost.stack_cost()
    print(f"\n## What a stack pays for {OURS}: the fixed part, and each config\n")
    print(
        f"Taken apart in case (c) ({CASES['c'][0]}). A resource's bytes are those of the template file (indent 1, "
        "path metadata on) less those of the same file without it; construct paths are the stack's.\n"
    )
    print("### With no config\n\n| stack | resources it gains | template bytes it gains |\n|---|---|---|")
    for label, (resources, size) in cost.none.items():
        print(f"| {label} | {resources} | {size:,} |")

    print("\n### With its first config: the handler's resources (the fixed part)\n")
    print("| resource | type | bytes, one config | each further config adds |\n|---|---|---|---|")
    for part in cost.fixed:
        adds = f"{part.adds}: `{part.text}`" if part.adds else ""
        print(f"| {part.path} | {part.type} | {part.bytes:,} | {adds} |")
    print(f"| all {len(cost.fixed)} | | {sum(part.bytes for part in cost.fixed):,} | |")
    print(
        f"\nThe first config adds {cost.first_resources} resources (its own and the {len(cost.fixed)} above) and "
        f"{cost.first_bytes:,} bytes; less what the second config adds, the fixed part is {cost.fixed_bytes:,} bytes. "
        f"The handler's code is one asset for both functions: {cost.asset_files} files, {cost.asset_bytes:,} bytes "
        "before zipping."
    )

    print("\nPer-stack options, over a stack of one config:\n")
    print("| option | resources it adds | template bytes it adds |\n|---|---|---|")
    for label, (resources, size) in cost.options.items():
        print(f"| {label} | {resources:+} | {size:+,} |")

    print("\n### Each config\n\nWhat the second config adds, by resource:\n")
    print("| resource | type | bytes | what |\n|---|---|---|---|")
    for part in cost.second:
        what = f"`{part.text}`" if part.text else "its own resource"
        print(f"| {part.path} | {part.type} | {part.bytes:,} | {what} |")
    print(f"\nIts own resource by part, beside the {NATIVE} resource of the same config:\n")
    print(f"| part | {OURS} | {NATIVE} |\n|---|---|---|")
    for name in dict.fromkeys([*cost.own, *cost.native]):
        mine, theirs = cost.own.get(name), cost.native.get(name)
        print(f"| {name} | {'' if mine is None else mine} | {'' if theirs is None else theirs} |")
    print(f"| all | {sum(cost.own.values())} | {sum(cost.native.values())} |")

    low, high = plan.sizes[-2], plan.sizes[-1]
    print(f"\nAt scale, what each config adds between {low} and {high} configs ({NATIVE}'s in brackets):\n")
    print("| case | resources | template bytes |\n|---|---|---|")
    for key, (title, _) in CASES.items():
        ours, native = marginals[key, OURS], marginals[key, NATIVE]
        print(
            f"| ({key}) {title} | {ours.resources:.2f} ({native.resources:.2f}) | {ours.bytes:,.0f} "
            f"({native.bytes:,.0f}) |"
        )
    created, deleted = paths[PATHS[0].name], paths[FIRST_DELETE]
    left = sum(path.locks_left for path in paths.values())
    print(
        f"\nSSM parameters per config (outside CloudFormation): {created.claims} claim once it is created "
        f"({deleted.claims} once deleted), and {created.locks} lock while each of its events runs, deleted by that "
        f"event (left after all the paths of the calls table: {left}). Its API calls per path are in that table."
    )
