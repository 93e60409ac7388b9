"""Prints the drift check's time and Lambda API calls for 1, 50 and 400 configs against LocalStack.

    .venv/bin/python benchmarks/drift_check.py

Each run: N functions with a config each, declared through the handler's own Create events (which also record the
declarations in SSM), then one in ten configs changed out of band, then the drift check's Update event, timed.
"""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "handler"), str(ROOT / "tools")]

import emulator  # noqa: E402
import index  # noqa: E402
from cloudformation import Context, ResponseServer, new_stack_id  # noqa: E402
from declarations import Declarations  # noqa: E402
from lambda_api import Api, Deadline  # noqa: E402
from local_cloud import create_function  # noqa: E402


def run(endpoint: str, count: int) -> str:
    def client(service: str) -> Any:
        return emulator.client(endpoint, service)

    lam = client("lambda")
    calls: collections.Counter[str] = collections.Counter()
    lam.meta.events.register("before-call.lambda", lambda model, **_: calls.update([model.name]))
    stack_id = new_stack_id(f"Bench{count}")
    store = Declarations(Api(client("ssm"), Deadline.after(3600)), stack_id)
    with ResponseServer(stack_id) as server:
        names = [create_function(lam, f"bench{count}-{i:03d}").split(":")[-1] for i in range(count)]
        for name in names:
            event = server.event(
                "Create",
                {"FunctionName": name, "MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 600},
                logical_id=f"C{name}",
            )
            index.on_event(event, Context(), client=lam, store=store)
        for name in names[::10]:
            lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
        calls.clear()
        event = server.event(
            "Update",
            {"DeployToken": "2"},
            physical_id="drift-check",
            old_properties={"DeployToken": "1"},
            resource_type="Custom::LambdaAsyncInvokeConfigDriftCheck",
            logical_id="DriftCheck",
        )
        started = time.perf_counter()
        index.on_event(event, Context(900), client=lam, store=store)
        elapsed = time.perf_counter() - started
        (answer,) = server.answers(event)
    summary = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
    return (
        f"| {count} | {elapsed:.2f} s | {answer['Data']['Checked']} checked, {answer['Data']['Corrected']} "
        f"corrected | {sum(calls.values())} ({summary}) |"
    )


def main() -> None:
    running = emulator.start()
    try:
        print("| configs | drift check time | result | Lambda API calls |\n|---|---|---|---|")
        for count in (1, 50, 400):
            print(run(running.endpoint, count), flush=True)
    finally:
        running.stop()


if __name__ == "__main__":
    main()
