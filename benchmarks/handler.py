"""Prints the handler's API calls per lifecycle path (against LocalStack) and its cold import time.

.venv/bin/python benchmarks/handler.py

`paths` gives the calls of the six paths benchmarks/compare.py sets beside AwsCustomResource's.
"""

from __future__ import annotations

import collections
import contextlib
import io
import statistics
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "handler"), str(ROOT / "tools")]

import emulator  # noqa: E402
import index  # noqa: E402
from cloudformation import STACK_ID, Context, ResponseServer, StaticStack  # noqa: E402
from contract import FUNCTION, MAX_EVENT_AGE, ON_FAILURE, RETRY_ATTEMPTS  # noqa: E402
from natives import create_function  # noqa: E402


def cold_seconds(code: str, runs: int = 7) -> str:
    env = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}
    seconds = [
        float(
            subprocess.run(
                [sys.executable, "-c", f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"],
                cwd=ROOT / "handler",
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(runs)
    ]
    return (
        f"median {statistics.median(seconds) * 1000:.0f} ms over {runs} fresh processes "
        f"(min {min(seconds) * 1000:.0f}, max {max(seconds) * 1000:.0f})"
    )


def paths(endpoint: str, queue: str) -> dict[str, str]:
    """Calls per life-cycle path of a config with an SQS destination: in the handler's process, each counted by
    operation. A redeploy with nothing changed sends the config no event; the drift check's Update reads it."""
    calls: collections.Counter[str] = collections.Counter()
    lam = emulator.client(endpoint, "lambda", calls)
    name = f"paths-{uuid.uuid4().hex[:8]}"
    create_function(lam, name)
    found: dict[str, str] = {}
    with ResponseServer() as server:
        server.stacks[STACK_ID] = StaticStack()
        clients = {
            "lambda": lam,
            "ssm": emulator.client(endpoint, "ssm", calls),
            "cloudformation": emulator.client(server.url, "cloudformation", calls),
        }
        state: dict[str, Any] = {"physical": None, "old": None}

        def play(path: str, kind: str, props: dict[str, Any], **options: Any) -> None:
            calls.clear()
            event = server.event(kind, props, physical_id=state["physical"], old_properties=state["old"], **options)
            with contextlib.redirect_stdout(io.StringIO()):  # the drift check's metrics line, not a figure
                index.on_event(event, Context(), clients=clients.__getitem__)
            (answer,) = server.answers(event)
            assert answer["Status"] == "SUCCESS", answer
            if "resource_type" not in options:
                state["physical"], state["old"] = answer["PhysicalResourceId"], props
            lambda_calls = sum(n for op, n in calls.items() if op.startswith("lambda:"))
            detail = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
            found[path] = f"{lambda_calls} ({detail})"

        declared = {FUNCTION: name, RETRY_ATTEMPTS: 1, MAX_EVENT_AGE: 3600, ON_FAILURE: queue}
        play("create new", "Create", declared)
        play("delete", "Delete", declared)
        lam.put_function_event_invoke_config(
            FunctionName=name,
            MaximumRetryAttempts=1,
            MaximumEventAgeInSeconds=3600,
            DestinationConfig={"OnFailure": {"Destination": queue}},
        )
        state.update(physical=None, old=None)
        play("adopt in sync", "Create", declared)
        drift = {"DeployToken": "2", "Configs": [state["physical"]]}
        play(
            "redeploy in sync",
            "Update",
            drift,
            resource_type="Custom::LambdaAsyncInvokeConfigDriftCheck",
            logical_id="DriftCheck",
        )
        changed = declared | {RETRY_ATTEMPTS: 0}
        play("one field changed", "Update", changed)
        play("a destination removed", "Update", {k: v for k, v in changed.items() if k != ON_FAILURE})
    return found


def main() -> None:
    running = emulator.start()
    try:
        calls: collections.Counter[str] = collections.Counter()
        lam = emulator.client(running.endpoint, "lambda", calls)
        name = f"bench-{uuid.uuid4().hex[:8]}"
        create_function(lam, name)
        base = {FUNCTION: name, RETRY_ATTEMPTS: 1, MAX_EVENT_AGE: 600}
        with ResponseServer() as server:
            server.stacks[STACK_ID] = StaticStack()
            clients = {
                "lambda": lam,
                "ssm": emulator.client(running.endpoint, "ssm", calls),
                "cloudformation": emulator.client(server.url, "cloudformation", calls),
            }
            physical = ""

            def send(label: str, kind: str, props: dict[str, Any], before: Any = None) -> None:
                nonlocal physical
                if before:
                    before()
                if kind == "Create":
                    physical = ""
                calls.clear()
                event = server.event(kind, props, physical_id=physical or None)
                index.on_event(event, Context(), clients=clients.__getitem__)
                answer = server.answers(event)[0]
                physical = answer["PhysicalResourceId"]
                summary = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
                lambda_calls = sum(n for op, n in calls.items() if op.startswith("lambda:"))
                print(f"| {label} | {answer['Data'].get('Action')} | {lambda_calls} | {summary} |")

            print("| path | action | Lambda API calls | all calls (ssm: the config's record) |\n|---|---|---|---|")
            send("Create, no config", "Create", base)
            send("Update, in sync", "Update", base)
            send("Update, one field changed", "Update", base | {RETRY_ATTEMPTS: 0})
            send("Update, field removed", "Update", {FUNCTION: name, RETRY_ATTEMPTS: 0})
            send(
                "Update, drifted out of band",
                "Update",
                {FUNCTION: name, RETRY_ATTEMPTS: 0},
                before=lambda: lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2),
            )
            send(
                "Update, config deleted out of band",
                "Update",
                {FUNCTION: name, RETRY_ATTEMPTS: 0},
                before=lambda: lam.delete_function_event_invoke_config(FunctionName=name),
            )
            send("Delete, created", "Delete", base)
            send("Delete, no record (a repeated Delete)", "Delete", base)
            send("(again) Create, no config", "Create", base)
            send(
                "Delete, config already gone",
                "Delete",
                base,
                before=lambda: lam.delete_function_event_invoke_config(FunctionName=name),
            )
            retained = base | {"RemovalPolicy": "retain"}
            send("(again) Create, no config, retain", "Create", retained)
            send("Delete, retain", "Delete", retained)
            adopted = {FUNCTION: name, RETRY_ATTEMPTS: 0}
            send(
                "Create, adopting an in-sync config",
                "Create",
                adopted,
                before=lambda: lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0),
            )
            send("Delete, putting the adopted config back (unchanged)", "Delete", adopted)
            send(
                "Create, adopting a differing config",
                "Create",
                adopted,
                before=lambda: lam.put_function_event_invoke_config(
                    FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=120
                ),
            )
            send("Delete, putting the adopted config back", "Delete", adopted)
    finally:
        running.stop()
    print(f"\ncold `import index`: {cold_seconds('import index')}")
    first_client = cold_seconds("import index; index.default_client('lambda')")
    print(f"cold `import index` + first Lambda client: {first_client}")


if __name__ == "__main__":
    main()
