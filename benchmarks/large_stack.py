"""Prints the life of one stack of many configs (functions named by string), played by the local CloudFormation
against LocalStack with every handler call checked against the policy synthesized for it: the first deploy, a
redeploy with nothing changed (the drift check: every config read again), and destroy; for configs carried together
(`carry_together`) and, where CloudFormation and IAM allow it (500 resources; 10 managed policies a role), one
resource per config. Each row: handler invocations, Lambda and SSM calls, wall seconds; after the first deploy
every config is read back from the emulator and must be as declared, or the run fails.

    .venv/bin/python benchmarks/large_stack.py 400 2000
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "tests"), str(ROOT / "handler"), str(ROOT / "constructs")]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
import emulator  # noqa: E402
from async_invoke_config import AsyncInvokeConfig  # noqa: E402
from cloudformation import ResponseServer  # noqa: E402
from local_cloud import Deployment  # noqa: E402
from natives import create_function  # noqa: E402
from stack_harness import Harness  # type: ignore[import-not-found]  # noqa: E402 - tests/ is on the path

DECLARED = {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 3600}
GROUP_TYPE, CONFIG_TYPE = "Custom::LambdaAsyncInvokeConfigs", "Custom::LambdaAsyncInvokeConfig"


class Aws:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def client(self, service: str) -> Any:
        return emulator.client(self.endpoint, service)


def configs(names: list[str], together: bool) -> Callable[[cdk.Stack], None]:
    def build(stack: cdk.Stack) -> None:
        if together:
            AsyncInvokeConfig.carry_together(stack)
        for index, name in enumerate(names):
            AsyncInvokeConfig(
                stack, f"Config{index}", function=name, retry_attempts=1, max_event_age=cdk.Duration.hours(1)
            )

    return build


def tally(deployment: Deployment) -> str:
    calls = collections.Counter(action.split(":")[0] for sent in deployment.sent for action, _, _ in sent.calls)
    denied = len(deployment.denied)
    return f"{len(deployment.sent)} | {calls['lambda']:,} | {calls['ssm']:,} | {denied}"


def row(label: str, count: int, step: str, deployment: Deployment, seconds: float) -> None:
    print(f"| {label} | {count} | {step} | {deployment.status} | {tally(deployment)} | {seconds:,.1f} |", flush=True)


def life(aws: Aws, workdir: Path, names: list[str], together: bool) -> None:
    label = "carried together" if together else "one resource each"
    with ResponseServer() as server:
        h = Harness(aws, server, workdir)
        stack = f"Large{len(names)}{'T' if together else 'O'}"
        try:
            started = time.perf_counter()
            first = h.deploy(stack, configs(names, together))
            row(label, len(names), "first deploy", first, time.perf_counter() - started)
            assert first.status == "CREATE_COMPLETE" and not first.denied, first.failure
            wrong = [name for name in names if h.live(name) != DECLARED]
            assert not wrong, f"{len(wrong)} configs not as declared, e.g. {wrong[:3]}"
            cloud = h.stacks[stack].cloud
            kinds = collections.Counter(r.resource_type for r in cloud.resources.values())
            handlers = sum(1 for r in cloud.resources.values() if r.properties.get("Handler") == "index.on_event")
            policies = kinds["AWS::IAM::ManagedPolicy"]
            print(
                f"| {label} | {len(names)} | (stack) | {len(cloud.resources)} resources: {kinds[GROUP_TYPE]} groups, "
                f"{kinds[CONFIG_TYPE]} config resources, {handlers} handlers, {policies} managed policies | | | | |",
                flush=True,
            )
            started = time.perf_counter()
            again = h.deploy(stack, configs(names, together))
            row(label, len(names), "redeploy, nothing changed", again, time.perf_counter() - started)
            started = time.perf_counter()
            gone = cloud.destroy()
            row(label, len(names), "destroy", gone, time.perf_counter() - started)
            left = [name for name in names if h.live(name) is not None]
            assert gone.status == "DELETE_COMPLETE" and not left, f"{len(left)} configs left after destroy"
        finally:
            h.close()


def main(argv: list[str]) -> None:
    counts = [int(arg) for arg in argv] or [400, 2000]
    with emulator.running() as endpoint, tempfile.TemporaryDirectory() as workdir:
        aws = Aws(endpoint)
        print("| configs | count | step | status | handler invocations | Lambda calls | SSM calls | denied | seconds |")
        print("|---|---|---|---|---|---|---|---|---|")
        for count in counts:
            names = [f"large-{uuid.uuid4().hex[:6]}-{index:04d}" for index in range(count)]
            for name in names:
                create_function(aws.client("lambda"), name)
            for together in (True, False) if count <= 400 else (True,):
                life(aws, Path(workdir), names, together)


if __name__ == "__main__":
    main(sys.argv[1:])
