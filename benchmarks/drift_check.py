"""Prints the drift check's time and Lambda API calls for 1, 50 and 400 configs against LocalStack, and the same
for the read-only drift report (`python -m async_invoke_config drift`).

    .venv/bin/python benchmarks/drift_check.py

Each run: N functions with a config each, declared through the handler's own Create events (which also write their
records in SSM), then one in ten configs changed out of band, then the drift report, timed, and then the drift
check's Update event, timed.
"""

from __future__ import annotations

import collections
import contextlib
import io
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "handler"), str(ROOT / "tools"), str(ROOT / "constructs")]

import emulator  # noqa: E402
import index  # noqa: E402
from async_invoke_config import cli  # noqa: E402
from cloudformation import Context, ResponseServer, StaticStack, new_stack_id  # noqa: E402
from contract import FUNCTION, MAX_EVENT_AGE, RESOURCE_TYPE, RETRY_ATTEMPTS  # noqa: E402
from natives import create_function  # noqa: E402
from report import IN_SYNC  # noqa: E402


@dataclass
class Holding(StaticStack):
    """A stack whose ListStackResources shows its configs: (logical id, physical id)."""

    configs: list[tuple[str, str]] = field(default_factory=list)

    def summaries(self) -> list[dict[str, str]]:
        return [
            {
                "LogicalResourceId": key,
                "PhysicalResourceId": arn,
                "ResourceType": RESOURCE_TYPE,
                "ResourceStatus": "CREATE_COMPLETE",
            }
            for key, arn in self.configs
        ]


def report(endpoint: str, cloudformation: str, stack_name: str, count: int) -> str:
    calls: collections.Counter[str] = collections.Counter()

    class Session:
        region_name = emulator.REGION

        def client(self, service: str, **_: Any) -> Any:
            return emulator.client(cloudformation if service == "cloudformation" else endpoint, service, calls)

    started = time.perf_counter()
    found = cli.run(stack_name, None, Session())
    elapsed = time.perf_counter() - started
    drifted = sum(row.status != IN_SYNC for row in found.rows)
    writes = sum(n for op, n in calls.items() if not op.split(":")[1].startswith(("Get", "List", "Describe")))
    summary = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
    return (
        f"| {count} | {elapsed:.2f} s | {drifted} drifted of {len(found.rows)} | {sum(calls.values())} ({summary}) "
        f"| {writes} |"
    )


@dataclass(frozen=True)
class Check:
    count: int
    seconds: float
    checked: str
    corrected: str
    calls: collections.Counter[str]
    metrics_lines: int = 0
    report: str = ""  # the drift report's row over the same configs (read only)

    def row(self) -> str:
        summary = ", ".join(f"{op} {n}" for op, n in sorted(self.calls.items()))
        return (
            f"| {self.count} | {self.seconds:.2f} s | {self.checked} checked, {self.corrected} corrected; metrics: "
            f"{self.metrics_lines} log line | {sum(self.calls.values())} ({summary}) |"
        )


def run(endpoint: str, count: int) -> Check:
    calls: collections.Counter[str] = collections.Counter()
    stack_id = new_stack_id(f"Bench{count}")
    with ResponseServer(stack_id) as server:
        holding = server.stacks[stack_id] = Holding()
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
            holding.configs.append((f"C{name}", arns[-1]))
        for name in names[::10]:
            clients["lambda"].put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
        read_only = report(endpoint, server.url, f"Bench{count}", count)
        calls.clear()
        event = server.event(
            "Update",
            {"DeployToken": "2", "Configs": arns},
            physical_id="drift-check",
            old_properties={"DeployToken": "1", "Configs": arns},
            resource_type="Custom::LambdaAsyncInvokeConfigDriftCheck",
            logical_id="DriftCheck",
        )
        printed = io.StringIO()  # the check's metrics line (embedded metric format), kept out of the table
        started = time.perf_counter()
        with contextlib.redirect_stdout(printed):
            index.on_event(event, Context(900), clients=clients.__getitem__)
        elapsed = time.perf_counter() - started
        (answer,) = server.answers(event)
    lines = len(printed.getvalue().splitlines())
    return Check(count, elapsed, answer["Data"]["Checked"], answer["Data"]["Corrected"], calls, lines, read_only)


def main() -> None:
    running = emulator.start()
    try:
        rows = []
        print("| configs | drift check time | result | API calls |\n|---|---|---|---|")
        for count in (1, 50, 400):
            rows.append(run(running.endpoint, count))
            print(rows[-1].row(), flush=True)
        print("\n| configs | drift report time | result | API calls | writes |\n|---|---|---|---|---|")
        print("\n".join(check.report for check in rows))
    finally:
        running.stop()


if __name__ == "__main__":
    main()
