"""Prints the handler's Lambda API calls per lifecycle path (against LocalStack) and its cold import time.

.venv/bin/python benchmarks/handler.py
"""

from __future__ import annotations

import collections
import io
import statistics
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "handler"), str(ROOT / "tools")]

import boto3  # noqa: E402
import emulator  # noqa: E402
import index  # noqa: E402
from cloudformation import Context, ResponseServer  # noqa: E402


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


def main() -> None:
    running = emulator.start()
    try:
        lam: Any = boto3.client(
            "lambda",
            endpoint_url=running.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        calls: collections.Counter[str] = collections.Counter()
        lam.meta.events.register("before-call.lambda", lambda model, **_: calls.update([model.name]))
        name = f"bench-{uuid.uuid4().hex[:8]}"
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("app.py", "def handler(e, c):\n    return None\n")
        lam.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role="arn:aws:iam::000000000000:role/r",
            Handler="app.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        calls.clear()
        base = {"FunctionName": name, "MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 600}
        with ResponseServer() as server:
            physical = ""

            def send(label: str, kind: str, props: dict[str, Any], before: Any = None) -> None:
                nonlocal physical
                if before:
                    before()
                calls.clear()
                event = server.event(kind, props, physical_id=physical or None)
                index.on_event(event, Context(), client=lam)
                answer = server.answers(event)[0]
                physical = answer["PhysicalResourceId"]
                summary = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
                print(f"| {label} | {answer['Data'].get('Action')} | {sum(calls.values())} | {summary} |")

            print("| path | action | API calls | which |\n|---|---|---|---|")
            send("Create, no config", "Create", base)
            send("Update, in sync", "Update", base)
            send("Update, one field changed", "Update", base | {"MaximumRetryAttempts": 0})
            send("Update, field removed", "Update", {"FunctionName": name, "MaximumRetryAttempts": 0})
            send(
                "Update, drifted out of band",
                "Update",
                {"FunctionName": name, "MaximumRetryAttempts": 0},
                before=lambda: lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2),
            )
            send(
                "Update, config deleted out of band",
                "Update",
                {"FunctionName": name, "MaximumRetryAttempts": 0},
                before=lambda: lam.delete_function_event_invoke_config(FunctionName=name),
            )
            send("Delete", "Delete", base)
            send("Delete, already gone", "Delete", base)
            send("Delete, retain", "Delete", base | {"RemovalPolicy": "retain"})
            physical = ""
            lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
            send("Create, adopting an in-sync config", "Create", {"FunctionName": name, "MaximumRetryAttempts": 0})
    finally:
        running.stop()
    print(f"\ncold `import index`: {cold_seconds('import index')}")
    print(f"cold `import index` + first Lambda client: {cold_seconds('import index; index.default_client()')}")


if __name__ == "__main__":
    main()
