"""Prints the drift check's time and Lambda API calls for 1, 50 and 400 configs against LocalStack.

    .venv/bin/python benchmarks/drift_check.py

Each run: N functions with a config each, declared through the handler's own Create events (which also write their
records in SSM), then one in ten configs changed out of band, then the drift check's Update event, timed.
"""

from __future__ import annotations

import collections
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "handler"), str(ROOT / "tools")]

import emulator  # noqa: E402
import index  # noqa: E402
from cloudformation import Context, ResponseServer, StaticStack, new_stack_id  # noqa: E402
from contract import FUNCTION, MAX_EVENT_AGE, RETRY_ATTEMPTS  # noqa: E402
from local_cloud import create_function  # noqa: E402


@dataclass(frozen=True)
class Check:
    count: int
    seconds: float
    checked: str
    corrected: str
    calls: collections.Counter[str]

    def row(self) -> str:
        summary = ", ".join(f"{op} {n}" for op, n in sorted(self.calls.items()))
        return (
            f"| {self.count} | {self.seconds:.2f} s | {self.checked} checked, {self.corrected} corrected "
            f"| {sum(self.calls.values())} ({summary}) |"
        )


def run(endpoint: str, count: int) -> Check:
    calls: collections.Counter[str] = collections.Counter()
    stack_id = new_stack_id(f"Bench{count}")
    with ResponseServer(stack_id) as server:
        server.stacks[stack_id] = StaticStack()
        clients: dict[str, Any] = {
            "lambda": emulator.client(endpoint, "lambda", calls),
            "ssm": emulator.client(endpoint, "ssm", calls),
            "cloudformation": emulator.client(server.url, "cloudformation", calls),
        }
        prefix = uuid.uuid4().hex[:6]
        created = [create_function(clients["lambda"], f"bench{prefix}-{count}-{i:03d}") for i in range(count)]
        names = [arn.split(":")[-1] for arn in created]
        arns = []
        for name in names:
            event = server.event(
                "Create",
                {FUNCTION: name, RETRY_ATTEMPTS: 1, MAX_EVENT_AGE: 600},
                logical_id=f"C{name}",
            )
            index.on_event(event, Context(), clients=clients.__getitem__)
            arns.append(server.answers(event)[0]["PhysicalResourceId"])
        for name in names[::10]:
            clients["lambda"].put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
        calls.clear()
        event = server.event(
            "Update",
            {"DeployToken": "2", "Configs": arns},
            physical_id="drift-check",
            old_properties={"DeployToken": "1", "Configs": arns},
            resource_type="Custom::LambdaAsyncInvokeConfigDriftCheck",
            logical_id="DriftCheck",
        )
        started = time.perf_counter()
        index.on_event(event, Context(900), clients=clients.__getitem__)
        elapsed = time.perf_counter() - started
        (answer,) = server.answers(event)
    return Check(count, elapsed, answer["Data"]["Checked"], answer["Data"]["Corrected"], calls)


def main() -> None:
    running = emulator.start()
    try:
        print("| configs | drift check time | result | API calls |\n|---|---|---|---|")
        for count in (1, 50, 400):
            print(run(running.endpoint, count).row(), flush=True)
    finally:
        running.stop()


if __name__ == "__main__":
    main()
