"""The handler sections of benchmarks/compare.py, against LocalStack: API calls per life-cycle path (ours beside
AwsCustomResource's), handler latency and cold start, and the drift check."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request
from importlib import metadata

import calls as calls_module
import drift_check
import emulator
import index
import peer_calls
import peers
from calls import SERVICES, PathCalls, by_service, detail
from cases import OURS, PEER
from figures import Plan, percentile, spread

import handler


def calls_per_path(calls: dict[str, dict[str, PathCalls]], missing: dict[str, str]) -> None:
    print("\n## API calls per life-cycle path\n")
    print(
        "Every call each handler makes on each path, by service and operation, in this order on one function, each "
        "path from where the last left it. A config declares retry attempts, a maximum event age of 1 hour and an SQS "
        "queue on failure (until the destination is removed). Ours: counted in its process. Lambda: the config. SSM: "
        "the config's claim (read, created only if absent, kept while the config is ours) and the lock its resource "
        "holds while an event runs (written and deleted by that event). CloudFormation: its stack's status "
        "(DescribeStacks), read as a Create or Update begins and again after its writes (the event undoes itself "
        "when its stack is no longer deploying). A redeploy sends a config resource no event, its properties being "
        "unchanged: what runs is ours' drift check, over its one config here. Borrowed: a config made out of band "
        f"before the Create; as found: that config, as it was before the Create. {PEER}'s calls: counted by a proxy "
        "between its Node handler and LocalStack. Left live: the config after the path, read back. SSM parameters "
        "after: the config's claims once the event is answered (and the locks its event held meanwhile).\n"
    )
    print("\n".join(calls_module.table(calls, missing)))


def localstack_version(endpoint: str) -> str:
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=5) as response:
            return str(json.load(response).get("version", "unknown"))
    except (OSError, ValueError):
        return "unknown"


def handlers(plan: Plan, endpoint: str) -> dict[str, PathCalls]:
    """The calls per path of both handlers and their latency; returns ours' calls per path."""
    why = peers.unavailable()
    work = peers.workdir()
    asset, runtime = None, ""
    if why is None:
        try:
            asset, runtime = peers.peer_asset(work / "cdk.out")
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
            calls[PEER] = peer_calls.peer_path_calls(server, sides[1], lam, queue_arn, log)
        calls_per_path(calls, {} if asset is not None else {PEER: str(why)})

        version = localstack_version(endpoint)
        print(f"\n## Handler latency against LocalStack {version} (ms; the answer PUT over https included)\n")
        print(
            "Wall time, on shared CPUs: noisy (see the top). Warm: one process per run, "
            f"{plan.cycles} cycles of Create (new, with a destination), Update (one field changed), Delete after a "
            f"warm-up cycle; p50 and p95 of each run, then median (min-max) over {plan.runs} runs. Cold: a new "
            "process's first event (a Create), from spawn to its answer, and in the process from before its first "
            "import: a new local process (interpreter, imports, first client, first event), not a Lambda cold start. "
            f"Ours loads boto3. {PEER}'s handler is the asset aws-cdk-lib {metadata.version('aws-cdk-lib')} "
            f"synthesizes for it (runtime `{runtime or 'unknown'}` in Lambda), run here with Node "
            f"{peers.node_version()} and `@aws-sdk/client-lambda` {peers.sdk_version()} (package-lock.json); it PUTs "
            "its answer to port 443 whatever port the URL names, so the answer server listens on a loopback address "
            "of its own with a throwaway self-signed certificate.\n"
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


def drift(plan: Plan, endpoint: str) -> None:
    print("\n## Drift check (ours only: neither peer reads the live config)\n")
    print(
        "One in ten configs changed out of band before the check; the time of the check's Update event, against "
        f"LocalStack. The check is held to {index.DRIFT_CHECK_RATE:g} Lambda API calls a second "
        "(`DRIFT_CHECK_RATE` in handler/index.py: the account's control-plane quota is shared), which is what its "
        "time at the larger sizes shows.\n"
    )
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
