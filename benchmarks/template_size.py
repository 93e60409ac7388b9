"""Template size and synth time of one stack of N configs, for each construct and case of cases.py. Bytes are those of
the template file `cdk synth` writes (indent 1, path metadata on). The stack resource limit is lifted while measuring,
so that a stack past 500 resources still shows its size (it would not deploy).

    .venv/bin/python benchmarks/template_size.py     (the tables alone; benchmarks/compare.py prints them all)
    .venv/bin/python benchmarks/template_size.py --app CASE CONSTRUCT COUNT OUTDIR
                                                     (one app, synthesized into OUTDIR as `cdk synth` runs it)
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_sns as sns  # noqa: E402
from aws_cdk import aws_sqs as sqs  # noqa: E402
from cases import CASES, CONSTRUCTS, ENV, CaseBuild, Declare, Shared  # noqa: E402

RESOURCE_LIMIT = 500


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
