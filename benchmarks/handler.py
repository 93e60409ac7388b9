"""Prints the handler's API calls per life-cycle path (calls.PATHS, against LocalStack), every call by service and
operation, and its cold import time.

    .venv/bin/python benchmarks/handler.py

`paths` gives the calls of each path, which benchmarks/compare.py sets beside AwsCustomResource's, with what each
leaves live, the SSM parameters it leaves (the config's claim) and those it holds while it runs (its resource's lock).
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
from calls import (  # noqa: E402
    EVENT_AGE,
    PATHS,
    REDEPLOY,
    Declared,
    Found,
    PathCalls,
    left,
    live_settings,
    table,
    write_out_of_band,
)
from cloudformation import STACK_ID, Context, ResponseServer, StaticStack  # noqa: E402
from contract import (  # noqa: E402
    CONFIGS,
    DEPLOY_TOKEN,
    DRIFT_CHECK_TYPE,
    FUNCTION,
    LOCKS,
    MAX_EVENT_AGE,
    ON_FAILURE,
    PARAMETER_ROOT,
    RETRY_ATTEMPTS,
)
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


def parameters_of(ssm: Any, function: str) -> tuple[int, int]:
    """(claims of `function`'s configs, locks of any config) in SSM now."""
    names = [
        parameter["Name"]
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=PARAMETER_ROOT, Recursive=True)
        for parameter in page["Parameters"]
    ]
    locks = f"{PARAMETER_ROOT}/{LOCKS}/"
    return sum(f"/{function}/" in name for name in names), sum(name.startswith(locks) for name in names)


def properties(function: str, declared: Declared, queue: str) -> dict[str, Any]:
    props: dict[str, Any] = {FUNCTION: function, RETRY_ATTEMPTS: declared.retries, MAX_EVENT_AGE: EVENT_AGE}
    if declared.destination:
        props[ON_FAILURE] = queue
    return props


def paths(endpoint: str, queue: str) -> dict[str, PathCalls]:
    """Calls per life-cycle path (calls.PATHS) of a config with an SQS destination: in the handler's process, each
    counted by service and operation, with what it left live and in SSM."""
    calls: collections.Counter[str] = collections.Counter()
    name = f"paths-{uuid.uuid4().hex[:8]}"
    looking = {service: emulator.client(endpoint, service) for service in ("lambda", "ssm")}  # not counted
    create_function(looking["lambda"], name)
    found: dict[str, PathCalls] = {}
    written: set[str] = set()
    ssm = emulator.client(endpoint, "ssm", calls)
    ssm.meta.events.register(
        "before-parameter-build.ssm.PutParameter", lambda params, **_: written.add(str(params.get("Name")))
    )
    with ResponseServer() as server:
        server.stacks[STACK_ID] = StaticStack()
        clients = {
            "lambda": emulator.client(endpoint, "lambda", calls),
            "ssm": ssm,
            "cloudformation": emulator.client(server.url, "cloudformation", calls),
        }
        physical, old = None, None
        seen = Found()
        for number, step in enumerate(PATHS):
            if step.before is not None:
                seen.saw(step, write_out_of_band(looking["lambda"], name, queue, step.before))
            props = properties(name, step.declared, queue)
            if step.kind == REDEPLOY:
                event = server.event(
                    "Update",
                    {DEPLOY_TOKEN: str(number + 1), CONFIGS: [physical]},
                    physical_id="drift-check",
                    old_properties={DEPLOY_TOKEN: str(number), CONFIGS: [physical]},
                    resource_type=DRIFT_CHECK_TYPE,
                    logical_id="DriftCheck",
                )
            else:
                event = server.event(
                    step.kind,
                    props,
                    physical_id=None if step.kind == "Create" else physical,
                    old_properties=old if step.kind == "Update" else None,
                )
            _, locks_before = parameters_of(looking["ssm"], name)
            calls.clear()
            written.clear()
            with contextlib.redirect_stdout(io.StringIO()):  # the drift check's metrics line, not a figure
                index.on_event(event, Context(), clients=clients.__getitem__)
            counted = collections.Counter(calls)
            (answer,) = server.answers(event)
            assert answer["Status"] == "SUCCESS", answer
            if step.kind != REDEPLOY:
                physical, old = answer["PhysicalResourceId"], props
            claims, locks_after = parameters_of(looking["ssm"], name)
            locks = sum(written_name.startswith(f"{PARAMETER_ROOT}/{LOCKS}/") for written_name in written)
            live = left(live_settings(looking["lambda"], name, queue), step, seen)
            found[step.name] = PathCalls(counted, live, claims, locks, max(0, locks_after - locks_before))
    return found


def main() -> None:
    running = emulator.start()
    try:
        sqs = emulator.client(running.endpoint, "sqs")
        queue = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        print("\n".join(table({"AsyncInvokeConfig": paths(running.endpoint, arn)}, {})))
    finally:
        running.stop()
    print(f"\ncold `import index`: {cold_seconds('import index')}")
    first_client = cold_seconds("import index; index.default_client('lambda')")
    print(f"cold `import index` + first Lambda client: {first_client}")


if __name__ == "__main__":
    main()
