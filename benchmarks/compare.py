"""AsyncInvokeConfig beside the native `aws_lambda.EventInvokeConfig` and `custom_resources.AwsCustomResource`, in one
run: template size, synth time, API calls per life-cycle path (every service), what a stack pays for
AsyncInvokeConfig (the fixed part and each config), handler latency, and the drift check.

    .venv/bin/python benchmarks/compare.py           # the full run (BENCHMARKS.md holds one)
    .venv/bin/python benchmarks/compare.py --quick   # a smoke run: tiny sizes, one run each

Each timing is the median of RUNS runs, with min and max; ratios are taken pair by pair within a run (ours and the
native L2 synthesized one after the other), then summarized the same way, so that a machine shared with other work
shifts both sides of a pair alike. LocalStack is started on a free loopback port (or EMULATOR_ENDPOINT is used).
Cases, the template measure and the stack's fixed part: benchmarks/template_size.py; calls per path:
benchmarks/handler.py and benchmarks/peers.py; the drift check: benchmarks/drift_check.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "handler"), str(ROOT / "tools")]

import drift_check  # noqa: E402
import emulator  # noqa: E402
import peers  # noqa: E402
import template_size  # noqa: E402
from template_size import CASES, CONSTRUCTS, RESOURCE_LIMIT, synth  # noqa: E402

import handler  # noqa: E402
from handler import SERVICES, PathCalls, by_service, detail  # noqa: E402

OURS, NATIVE, PEER = list(CONSTRUCTS)


@dataclass(frozen=True)
class Plan:
    runs: int
    sizes: tuple[int, ...]
    synth_sizes: tuple[tuple[str, int], ...]
    linear: tuple[int, int]
    drift_sizes: tuple[int, ...]
    cycles: int
    most: bool


FULL = Plan(5, (1, 100, 400), (("c", 100), ("c", 400), ("b", 100), ("a", 100)), (3, 300), (1, 50, 400), 10, True)
QUICK = Plan(1, (1, 2), (("c", 2),), (3, 2), (1, 2), 1, False)


def spread(values: list[float], unit: str = "", digits: int = 2) -> str:
    """Median (min-max) of a run's values."""
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.{digits}f}{unit}"
    return f"{median:.{digits}f}{unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def machine() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    memory = next((int(line.split()[1]) // 1024**2 for line in meminfo if "MemTotal" in line), 0)
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        node = "not found"
    return [
        f"- CPU: {cpu}, {os.cpu_count()} CPUs (shared with other work); RAM: {memory} GiB",
        f"- Python {platform.python_version()}, Node {node}, aws-cdk-lib {metadata.version('aws-cdk-lib')}, "
        f"boto3 {metadata.version('boto3')}",
    ]


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


def calls_per_path(calls: dict[str, dict[str, PathCalls]], why: str | None) -> None:
    print("\n## API calls per life-cycle path (a config with retry attempts, age and an SQS destination)\n")
    print(
        "Every call each handler makes, by service and operation. Ours: counted in its process; Lambda: the config; "
        "SSM: the config's claim (created only if absent, kept while the config is ours) and the lock its resource "
        "holds while an event runs (written and deleted by that event); CloudFormation: its stack's status, read as "
        "a Create or Update begins and again as it ends (the event undoes itself when its stack is no longer "
        "deploying). A redeploy in sync sends a config no event: ours is the drift check's Update, which reads the "
        f"config. {PEER}'s: counted by a proxy between its Node handler and LocalStack. SSM parameters: the config's "
        "claims once the event is answered (the locks its event held meanwhile).\n"
    )
    names = list(SERVICES.values())
    print(f"| path | handler | all calls | {' | '.join(names)} | SSM parameters | the calls |")
    print(f"|---|---|---|{'---|' * len(names)}---|---|")
    for path, ours in calls[OURS].items():
        print(
            f"| {path} | {OURS} | {sum(ours.calls.values())} | {' | '.join(map(str, by_service(ours.calls)))} "
            f"| {ours.parameters} | {detail(ours.calls)} |"
        )
        if PEER not in calls:
            print(f"| {path} | {PEER} | not run: {why} |{' |' * (len(names) + 2)}")
            continue
        peer = calls[PEER].get(path, PathCalls()).calls
        what = detail(peer) or peers.NO_EVENT.get(path, "none")
        print(f"| {path} | {PEER} | {sum(peer.values())} | {' | '.join(map(str, by_service(peer)))} | 0 | {what} |")


def handlers(plan: Plan, endpoint: str) -> dict[str, PathCalls]:
    """The calls per path of both handlers and their latency; returns ours' calls per path."""
    why = peers.unavailable()
    work = peers.workdir()
    asset = None
    if why is None:
        try:
            asset = peers.peer_asset(work / "cdk.out")
        except (FileNotFoundError, ValueError) as error:
            why = str(error)
    calls: dict[str, dict[str, PathCalls]] = {}
    lam = emulator.client(endpoint, "lambda")
    queue = emulator.client(endpoint, "sqs").create_queue(QueueName=f"bench-{os.getpid()}")["QueueUrl"]
    queue_arn = emulator.client(endpoint, "sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    calls[OURS] = handler.paths(endpoint, queue_arn)
    with contextlib.ExitStack() as context:
        log = context.enter_context((work / "handlers.log").open("wb"))
        try:
            server, cert = context.enter_context(peers.https_answers(work))
        except OSError as error:  # AwsCustomResource's handler answers on port 443 only; ours runs on any port
            why, asset = str(error), None
            server, cert = context.enter_context(peers.https_answers(work, port=0))
        sides = peers.sides(endpoint, cert, asset, server.url)
        if asset is not None:
            counted = peers.peer_path_calls(server, sides[1], lam, queue_arn, log)
            calls[PEER] = {path: PathCalls(found) for path, found in counted.items()}
        calls_per_path(calls, why)

        print("\n## Handler latency against LocalStack (ms; answer PUT over https to a loopback server included)\n")
        print(
            f"Warm: one process per run, {plan.cycles} cycles of Create (new, with a destination), Update (one field "
            f"changed), Delete after a warm-up cycle; p50 and p95 of each run, then median (min-max) over {plan.runs} "
            "runs. Cold: a new process's first event (a Create), from spawn to its answer, and in the process from "
            "before its first import.\n"
        )
        print("| handler | event | warm p50 | warm p95 |\n|---|---|---|---|")
        colds: dict[str, tuple[list[float], list[float]]] = {}
        for side in sides:
            runs = [peers.lifecycle_latency(server, side, lam, queue_arn, plan.cycles, log) for _ in range(plan.runs)]
            for kind in ("Create", "Update", "Delete"):
                p50 = [percentile(run[kind], 0.5) for run in runs]
                p95 = [percentile(run[kind], 0.95) for run in runs]
                print(f"| {side.name} | {kind} | {spread(p50, digits=1)} | {spread(p95, digits=1)} |")
            cold = [peers.cold_start(server, side, lam, queue_arn, log) for _ in range(plan.runs)]
            colds[side.name] = ([wall for wall, _ in cold], [inner for _, inner in cold])
        if asset is None:
            print(f"| {PEER} | - | not run: {why} | |")
        print("\n| handler | cold start: spawn to answer | import + first event, in process |\n|---|---|---|")
        for name, (wall, inner) in colds.items():
            print(f"| {name} | {spread(wall, digits=0)} | {spread(inner, digits=0)} |")
    return calls[OURS]


def stack_cost(plan: Plan, marginals: dict[tuple[str, str], Marginal], paths: dict[str, PathCalls]) -> None:
    cost = template_size.stack_cost()
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
    created = paths["create new"]
    left = sum(path.locks_left for path in paths.values())
    print(
        f"\nSSM parameters per config (outside CloudFormation): {created.claims} claim once it is created "
        f"({paths['delete'].claims} once deleted), and {created.locks} lock while each of its events runs, deleted "
        f"by that event (left after the paths above: {left}). API calls per config, by path:"
    )
    names = list(SERVICES.values())
    for path, found in paths.items():
        services = ", ".join(f"{name} {n}" for name, n in zip(names, by_service(found.calls), strict=True))
        print(f"- {path}: {sum(found.calls.values())} ({services})")


def drift(plan: Plan, endpoint: str) -> None:
    print("\n## Drift check (ours only: neither peer reads the live config)\n")
    print("One in ten configs changed out of band before the check; time of the check's Update event.\n")
    names = list(SERVICES.values())
    print(f"| configs | time, s | result | all calls | {' | '.join(names)} | the calls |")
    print(f"|---|---|---|---|{'---|' * len(names)}---|")
    for count in plan.drift_sizes:
        checks = [drift_check.run(endpoint, count) for _ in range(plan.runs)]
        last = checks[-1]
        print(
            f"| {count} | {spread([check.seconds for check in checks])} | {last.checked} checked, "
            f"{last.corrected} corrected | {sum(last.calls.values())} | {' | '.join(map(str, by_service(last.calls)))} "
            f"| {detail(last.calls)} |"
        )


Result = TypeVar("Result")


def timed(section: Callable[[], Result]) -> Result:
    started = time.perf_counter()
    result = section()
    print(f"\n({time.perf_counter() - started:.0f} s)", flush=True)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each: a smoke run")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    print(f"# {OURS} beside {NATIVE} and {PEER}{' (--quick: a smoke run)' if args.quick else ''}\n")
    print("\n".join(machine()))
    print(f"- runs per figure: {plan.runs}; each config: retry attempts 1, maximum event age 1 hour")
    marginals = timed(lambda: templates(plan))
    timed(lambda: synth_times(plan))
    timed(lambda: linearity(plan))
    with emulator.running() as endpoint:
        paths = timed(lambda: handlers(plan, endpoint))
        timed(lambda: stack_cost(plan, marginals, paths))
        timed(lambda: drift(plan, endpoint))


if __name__ == "__main__":
    main()
