"""The handler from its synthesized asset, in a process of its own that stays warm across events like a Lambda
container, every call it makes checked against the policy sent with each event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import iam
from template import REGION

TOOLS = Path(__file__).resolve().parent


DRIVER = """
import contextlib, io, json, logging, sys
sys.path.insert(0, ".")
sys.path.append(sys.argv[1])
import iam
import index
import log

logged = []  # the handler's decision lines of the event being run, as Lambda's JSON log format writes them

class Keep(logging.Handler):
    def emit(self, record):
        logged.append(self.format(record))

keep = Keep()
keep.setFormatter(log.JsonFormatter())
logging.getLogger("async_invoke_config").addHandler(keep)

class Context:
    log_stream_name = "local"
    def get_remaining_time_in_millis(self):
        return 300_000

world = iam.World()
iam.install_default(world)
for line in sys.stdin:
    message = json.loads(line)
    world.statements, world.gone = message["statements"], set(message["gone"])
    world.fresh, world.lag = message["fresh"], message["lag"]
    world.calls.clear()
    logged.clear()
    printed = io.StringIO()  # the handler's own stdout lines (its metrics), kept off this protocol's
    with contextlib.redirect_stdout(printed):
        index.on_event(message["event"], Context())
    reply = {"calls": world.calls, "stdout": printed.getvalue().splitlines(), "logs": logged}
    print(json.dumps(reply), flush=True)
"""


class LocalFunction:
    """The handler from its synthesized asset, in a process of its own that stays warm across events like a Lambda
    container; it builds its own boto3 clients from the environment, pointed at the emulator (and at the local
    CloudFormation API), each call checked against the policy sent with the event."""

    def __init__(self, asset: Path, endpoint: str, cloudformation: str | None = None) -> None:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "PYTHONPATH": "",
        }
        if cloudformation:
            env["AWS_ENDPOINT_URL_CLOUDFORMATION"] = cloudformation
        self.log_lines: list[str] = []  # the handler's decision lines (Lambda's JSON log format), of every event it ran
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", DRIVER, str(TOOLS)],
            cwd=asset,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def invoke(self, event: dict[str, Any], world: iam.World | None = None) -> list[tuple[str, str, str]]:
        """Run one event under the rules of `world` (its policy, gone functions, propagation); the calls made."""
        assert self.process.stdin is not None and self.process.stdout is not None
        world = world or iam.World()
        message = {
            "event": event,
            "statements": world.statements,
            "gone": sorted(world.gone),
            "fresh": world.fresh,
            "lag": world.lag,
        }
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line.startswith("{"):
            raise RuntimeError(f"the handler process stopped (exit {self.process.poll()})")
        reply = json.loads(line)
        self.log_lines += reply["logs"]
        return [(action, resource, verdict) for action, resource, verdict in reply["calls"]]

    def __enter__(self) -> LocalFunction:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)


def handler_asset(cloud_assembly: Path, template: dict[str, Any]) -> Path:
    """The folder of the handler's asset in a synthesized cloud assembly."""
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get("Handler") == "index.on_event":
            return cloud_assembly / f"asset.{resource['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    raise LookupError("no AsyncInvokeConfig handler in the template")
