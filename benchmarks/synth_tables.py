"""The synth sections of benchmarks/compare.py: the calls across the jsii bridge each config costs (counted), synth
time in process (jsii kernel warm) and as `cdk synth` runs the app (a new process), and an app of several stacks
against one. Ratios to the native L2 are taken pair by pair within a run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cases import CASES, CONSTRUCTS, NATIVE, OURS, PEER, CaseBuild, Declare
from figures import Plan, spread
from jsii._kernel.providers import process
from template_size import RESOURCE_LIMIT, synth

ROOT = Path(__file__).resolve().parent.parent


def bridge_calls(case: CaseBuild, declare: Declare, count: int) -> int:
    """The requests the Python side sends to the jsii kernel while an app of `count` configs is built and
    synthesized."""
    sent = 0
    send = process._NodeProcess.send

    def counting(self: Any, request: Any, response_type: Any) -> Any:
        nonlocal sent
        sent += 1
        return send(self, request, response_type)

    process._NodeProcess.send = counting  # type: ignore[method-assign]
    try:
        synth(case, declare, count)
    finally:
        process._NodeProcess.send = send  # type: ignore[method-assign]
    return sent


def bridge(plan: Plan) -> None:
    low, high = plan.sizes[-2], plan.sizes[-1]
    print("\n## Calls across the jsii bridge per config (counted, not timed)\n")
    print(
        "Each call from Python to aws-cdk-lib's JavaScript kernel is a round trip between the Python process and the "
        f"kernel's Node process. Per config: (calls at {high} configs - calls at {low}) / {high - low}, each config "
        "built and synthesized as its case does (the function or its import, and the destinations, included).\n"
    )
    print(f"| case | {' | '.join(CONSTRUCTS)} |\n|---|---|---|---|")
    for key, (title, case) in CASES.items():
        synth(case, CONSTRUCTS[OURS], 1)  # the kernel's first use of each type, not counted
        per = [bridge_calls(case, declare, high) - bridge_calls(case, declare, low) for declare in CONSTRUCTS.values()]
        print(f"| ({key}) {title} | {' | '.join(f'{n / (high - low):.1f}' for n in per)} |")


SYNTH_HEADER = (
    f"| case | configs | {OURS} | {NATIVE} | {PEER} | ours / native | {PEER} / native |\n|---|---|---|---|---|---|---|"
)


def app_process(key: str, name: str, count: int) -> float:
    """Seconds from spawning a new interpreter that runs one app (template_size.py --app: imports, construct, synth into
    a new cdk.out) to its exit, as `cdk synth` runs the app."""
    with tempfile.TemporaryDirectory() as work:
        outdir = Path(work) / "cdk.out"
        command = [sys.executable, str(ROOT / "benchmarks" / "template_size.py"), "--app", key, name, str(count)]
        env = os.environ | {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
        started = time.perf_counter()
        run = subprocess.run([*command, str(outdir)], capture_output=True, text=True, env=env, cwd=ROOT, check=False)
        seconds = time.perf_counter() - started
        if run.returncode != 0 or not (outdir / "Stack0.template.json").is_file():
            raise RuntimeError(f"the app {command[2:]} wrote no Stack0 template (exit {run.returncode}): {run.stderr}")
    return seconds


def synth_row(key: str, count: int, seconds: dict[str, list[float]], note: str) -> str:
    ours = [a / b for a, b in zip(seconds[OURS], seconds[NATIVE], strict=True)]
    peer = [a / b for a, b in zip(seconds[PEER], seconds[NATIVE], strict=True)]
    return (
        f"| ({key}) {CASES[key][0]} | {count} | {spread(seconds[OURS])} | {spread(seconds[NATIVE])} "
        f"| {spread(seconds[PEER])}{note} | {spread(ours)} | {spread(peer)} |"
    )


def synth_times(plan: Plan) -> None:
    print("\n## Synth time (seconds; ratio to the native L2 pair by pair)\n")
    print("### Synth time in process (construct + synth, jsii kernel warm)\n")
    print(SYNTH_HEADER)
    notes: dict[tuple[str, int], str] = {}
    for key, count in plan.synth_sizes:
        case = CASES[key][1]
        synth(case, CONSTRUCTS[OURS], 1)  # warm the jsii kernel's caches for this case
        seconds: dict[str, list[float]] = {name: [] for name in CONSTRUCTS}
        over = False
        for _ in range(plan.runs):
            for name, declare in CONSTRUCTS.items():
                one = synth(case, declare, count)
                seconds[name].append(one.seconds)
                over |= name == PEER and not one.deployable
        notes[key, count] = f" (over {RESOURCE_LIMIT} resources)" if over else ""
        print(synth_row(key, count, seconds, notes[key, count]), flush=True)

    print("\n### Synth time as `cdk synth` runs the app (new process: interpreter, imports, construct, synth)\n")
    print(
        "From spawning the interpreter on benchmarks/template_size.py --app (the constructs' modules imported, one "
        "stack built and synthesized into a new cdk.out) to its exit.\n"
    )
    print(SYNTH_HEADER)
    for key, count in plan.synth_sizes:
        seconds = {name: [] for name in CONSTRUCTS}
        for _ in range(plan.runs):
            for name in CONSTRUCTS:
                seconds[name].append(app_process(key, name, count))
        print(synth_row(key, count, seconds, notes[key, count]), flush=True)


def linearity(plan: Plan) -> None:
    stacks, count = plan.linear
    title, case = CASES["c"]
    print(f"\n## Linearity: an app of {stacks} stacks x {count} configs against one stack of {count} ({title})\n")
    print(f"| construct | 1 x {count}, s | {stacks} x {count}, s | ratio (linear: {stacks}) |\n|---|---|---|---|")
    for name in (OURS, NATIVE):
        one: list[float] = []
        many: list[float] = []
        for _ in range(plan.runs):
            one.append(synth(case, CONSTRUCTS[name], count).seconds)
            many.append(synth(case, CONSTRUCTS[name], count, stacks=stacks).seconds)
        ratios = [b / a for a, b in zip(one, many, strict=True)]
        print(f"| {name} | {spread(one)} | {spread(many)} | {spread(ratios)} |")
