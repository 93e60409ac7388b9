"""Prints the handler's API calls per lifecycle path (against LocalStack), every call by service and operation, and
its cold import time.

.venv/bin/python benchmarks/handler.py

`paths` gives the calls of the six paths benchmarks/compare.py sets beside AwsCustomResource's, with the SSM
parameters each leaves (the config's claim) and holds while it runs (its resource's lock).
"""

from __future__ import annotations

import collections
import contextlib
import io
import statistics
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "handler"), str(ROOT / "tools")]

import emulator  # noqa: E402
import index  # noqa: E402
from cloudformation import STACK_ID, Context, ResponseServer, StaticStack  # noqa: E402
from contract import FUNCTION, LOCKS, MAX_EVENT_AGE, ON_FAILURE, PARAMETER_ROOT, RETRY_ATTEMPTS  # noqa: E402
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


# The services the handlers call, in the order the tables show them.
SERVICES = {"lambda": "Lambda", "ssm": "SSM", "cloudformation": "CloudFormation"}


def by_service(calls: collections.Counter[str], services: Iterable[str] = SERVICES) -> list[int]:
    """How many of `calls` (counted as `service:Operation`) went to each of `services`."""
    return [sum(n for op, n in calls.items() if op.split(":", 1)[0] == service) for service in services]


def detail(calls: collections.Counter[str]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))


@dataclass
class PathCalls:
    """One life-cycle path: every call the handler made, by `service:Operation`; the config's claims in SSM once the
    event was answered; and the locks its event wrote (each deleted before the answer, unless `locks_left`)."""

    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    claims: int = 0
    locks: int = 0
    locks_left: int = 0

    @property
    def parameters(self) -> str:
        left = f", {self.locks_left} left" if self.locks_left else ""
        locks = f"{self.locks} lock{'s' * (self.locks != 1)}"
        return f"{self.claims} claim{'s' * (self.claims != 1)} ({locks} during{left})"


def parameters_of(ssm: Any, function: str) -> tuple[int, int]:
    """(claims of `function`'s configs, locks of any config) in SSM now."""
    names = [
        parameter["Name"]
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=PARAMETER_ROOT, Recursive=True)
        for parameter in page["Parameters"]
    ]
    locks = f"{PARAMETER_ROOT}/{LOCKS}/"
    return sum(f"/{function}/" in name for name in names), sum(name.startswith(locks) for name in names)


def paths(endpoint: str, queue: str) -> dict[str, PathCalls]:
    """Calls per life-cycle path of a config with an SQS destination: in the handler's process, each counted by
    service and operation. A redeploy with nothing changed sends the config no event; the drift check's Update
    reads it."""
    calls: collections.Counter[str] = collections.Counter()
    lam = emulator.client(endpoint, "lambda", calls)
    name = f"paths-{uuid.uuid4().hex[:8]}"
    create_function(lam, name)
    found: dict[str, PathCalls] = {}
    written: set[str] = set()
    ssm = emulator.client(endpoint, "ssm", calls)
    ssm.meta.events.register(
        "before-parameter-build.ssm.PutParameter", lambda params, **_: written.add(str(params.get("Name")))
    )
    looking = emulator.client(endpoint, "ssm")  # not counted
    with ResponseServer() as server:
        server.stacks[STACK_ID] = StaticStack()
        clients = {
            "lambda": lam,
            "ssm": ssm,
            "cloudformation": emulator.client(server.url, "cloudformation", calls),
        }
        state: dict[str, Any] = {"physical": None, "old": None}

        def play(path: str, kind: str, props: dict[str, Any], **options: Any) -> None:
            _, locks_before = parameters_of(looking, name)
            calls.clear()
            written.clear()
            event = server.event(kind, props, physical_id=state["physical"], old_properties=state["old"], **options)
            with contextlib.redirect_stdout(io.StringIO()):  # the drift check's metrics line, not a figure
                index.on_event(event, Context(), clients=clients.__getitem__)
            (answer,) = server.answers(event)
            assert answer["Status"] == "SUCCESS", answer
            if "resource_type" not in options:
                state["physical"], state["old"] = answer["PhysicalResourceId"], props
            claims, locks_after = parameters_of(looking, name)
            locks = sum(written_name.startswith(f"{PARAMETER_ROOT}/{LOCKS}/") for written_name in written)
            found[path] = PathCalls(collections.Counter(calls), claims, locks, max(0, locks_after - locks_before))

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
                services = " | ".join(str(n) for n in by_service(calls))
                action = answer["Data"].get("Action")
                print(f"| {label} | {action} | {sum(calls.values())} | {services} | {detail(calls)} |")

            print(f"| path | action | all calls | {' | '.join(SERVICES.values())} | the calls |")
            print(f"|---|---|---|{'---|' * len(SERVICES)}---|")
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
