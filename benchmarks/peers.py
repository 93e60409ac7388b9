"""Handlers side by side against LocalStack: this project's (Python) and AwsCustomResource's own (Node, the asset
aws-cdk-lib synthesizes, run with the npm AWS SDK v3), each in a process of its own fed the same life-cycle events in
the shape it takes, answering over https to a loopback server with a throwaway self-signed certificate.

Used by benchmarks/compare.py; the events and the answer server come from tools/cloudformation.py.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "benchmarks"), str(ROOT / "handler")]

import emulator  # noqa: E402
from cloudformation import STACK_ID, ResponseServer, StaticStack  # noqa: E402
from contract import FUNCTION, MAX_EVENT_AGE, ON_FAILURE, RETRY_ATTEMPTS  # noqa: E402
from natives import create_function  # noqa: E402

NODE_SDK = ROOT / "node_modules" / "@aws-sdk" / "client-lambda"
OURS = "AsyncInvokeConfig"
PEER = "AwsCustomResource"
PEER_TYPE = "Custom::AWS"
EVENT_AGE = 3600


def unavailable() -> str | None:
    """Why AwsCustomResource's handler cannot be run here, or None."""
    if shutil.which("node") is None:
        return "`node` is not on PATH"
    if not NODE_SDK.is_dir():
        return f"{NODE_SDK.relative_to(ROOT)} is missing (run scripts/setup: npm ci installs it from package-lock.json)"
    if shutil.which("openssl") is None:
        return "`openssl` is not on PATH (it makes the answer server's throwaway certificate)"
    return None


def node_version() -> str:
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not found"


def sdk_version() -> str:
    """The version of the npm AWS SDK's Lambda client that AwsCustomResource's handler runs with here."""
    try:
        return str(json.loads((NODE_SDK / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "not installed"


def peer_asset(outdir: Path) -> tuple[Path, str]:
    """The folder of AwsCustomResource's handler code, as `cdk synth` writes it to cdk.out, and the Lambda runtime
    the template gives that handler."""
    import aws_cdk as cdk
    from cases import aws_custom_resource, imported_settings_only
    from template_size import build_stack

    app = cdk.App(outdir=str(outdir))
    build_stack(app, "Peer", imported_settings_only, aws_custom_resource, 1)
    assembly = app.synth()
    template = assembly.get_stack_by_name("Peer").template
    (handler,) = [
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get("Runtime", "").startswith("node")
    ]
    key = handler["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    asset = outdir / f"asset.{key}"
    if not (asset / "index.js").is_file():
        raise FileNotFoundError(f"AwsCustomResource's handler asset {asset}/index.js is not in cdk.out")
    return asset, str(handler["Properties"]["Runtime"])


@contextmanager
def https_answers(workdir: Path, port: int = 443) -> Iterator[tuple[ResponseServer, Path]]:
    """tools/cloudformation.py's answer server over https with a throwaway self-signed certificate (the certificate
    file is returned, for the handlers to trust). On port 443, since AwsCustomResource's handler PUTs its answer to
    the ResponseURL's host on 443 whatever port the URL names (a presigned S3 URL has none); on a loopback address
    of its own (127.0.0.0/8), so that runs beside each other do not collide. `port=0`: any free port (enough for
    this project's handler, which PUTs to the port the URL names)."""
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    last: OSError | None = None
    for _ in range(20 if port else 1):
        host = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={host}"]
            + ["-addext", f"subjectAltName=IP:{host}", "-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        try:
            server = ResponseServer(address=(host, port), tls=context)
        except OSError as error:  # taken, or port 443 needs privileges here
            last = error
            continue
        server.stacks[STACK_ID] = StaticStack()
        with server:
            yield server, cert
        return
    raise OSError(f"no loopback address could serve https on port {port}: {last}")


class HandlerProcess:
    """One handler in a process of its own: an event in, its time out (handler_process.py / .js)."""

    def __init__(self, command: list[str], env: dict[str, str], log: IO[bytes]) -> None:
        self.command = command
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, text=True, cwd=ROOT
        )

    def send(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.command[0]} exited with {self.process.wait()} (its stderr is in the log)")
        result: dict[str, Any] = json.loads(line)
        if result.get("error"):
            raise RuntimeError(f"the handler raised: {result['error']}")
        return result

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@dataclass
class Side:
    """One handler: how to start it, and the properties of its events."""

    name: str
    command: list[str]
    env: dict[str, str]
    resource_type: str
    properties: Callable[[str, int, str | None], dict[str, Any]]

    def start(self, log: IO[bytes]) -> HandlerProcess:
        return HandlerProcess(self.command, self.env, log)


def ours_properties(function: str, retries: int, destination: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {FUNCTION: function, RETRY_ATTEMPTS: retries, MAX_EVENT_AGE: EVENT_AGE}
    if destination:
        properties[ON_FAILURE] = destination
    return properties


def peer_properties(function: str, retries: int, destination: str | None) -> dict[str, Any]:
    """AwsCustomResource's properties for the same config, as its construct writes them (template_size.py)."""
    parameters: dict[str, Any] = {
        "FunctionName": function,
        "MaximumRetryAttempts": retries,
        "MaximumEventAgeInSeconds": EVENT_AGE,
    }
    if destination:
        parameters["DestinationConfig"] = {"OnFailure": {"Destination": destination}}
    put = {
        "action": "putFunctionEventInvokeConfig",
        "service": "Lambda",
        "parameters": parameters,
        "physicalResourceId": {"id": f"{function}:$LATEST"},
    }
    delete = {
        "action": "deleteFunctionEventInvokeConfig",
        "service": "Lambda",
        "parameters": {"FunctionName": function},
    }
    return {
        "Create": json.dumps(put),
        "Update": json.dumps(put),
        "Delete": json.dumps(delete),
        "InstallLatestAwsSdk": "false",
    }


def sides(endpoint: str, cert: Path, asset: Path | None, cloudformation: str) -> list[Side]:
    """The two handlers, each pointed at the emulator; ours also at `cloudformation`, the answer server's stand-in for
    CloudFormation's API (ours reads its stack's status around each Create and Update)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": emulator.REGION,
        "AWS_DEFAULT_REGION": emulator.REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    found = [
        Side(
            OURS,
            [sys.executable, str(ROOT / "benchmarks" / "handler_process.py")],
            env
            | {
                "SSL_CERT_FILE": str(cert),
                "AWS_CA_BUNDLE": str(cert),
                "AWS_ENDPOINT_URL_CLOUDFORMATION": cloudformation,
            },
            "Custom::LambdaAsyncInvokeConfig",
            ours_properties,
        )
    ]
    if asset is not None:
        found.append(
            Side(
                PEER,
                ["node", str(ROOT / "benchmarks" / "handler_process.js"), str(asset)],
                env | {"NODE_EXTRA_CA_CERTS": str(cert), "NODE_PATH": str(ROOT / "node_modules")},
                PEER_TYPE,
                peer_properties,
            )
        )
    return found


class Events:
    """A config's life-cycle events for one side, each carrying the physical id the previous answer gave."""

    def __init__(self, server: ResponseServer, side: Side, function: str, destination: str | None) -> None:
        self.server, self.side, self.function, self.destination = server, side, function, destination
        self.physical: str | None = None
        self.properties: dict[str, Any] | None = None

    def event(self, kind: str, retries: int = 1, destination: bool = True) -> dict[str, Any]:
        properties = self.side.properties(self.function, retries, self.destination if destination else None)
        event = self.server.event(
            kind,
            properties,
            physical_id=None if kind == "Create" else self.physical,
            old_properties=self.properties if kind == "Update" else None,
            resource_type=self.side.resource_type,
        )
        self.properties = properties
        return event

    def answered(self, event: dict[str, Any]) -> None:
        answers = self.server.answers(event)
        if not answers or answers[-1]["Status"] != "SUCCESS":
            raise RuntimeError(f"{self.side.name}: {event['RequestType']} was answered {answers!r}")
        self.physical = answers[-1]["PhysicalResourceId"]


def lifecycle_latency(
    server: ResponseServer, side: Side, lam: Any, queue: str, cycles: int, log: IO[bytes]
) -> dict[str, list[float]]:
    """Warm handler time per event kind (ms): one process, a warm-up cycle, then `cycles` of Create (a new config
    with a destination), Update (one field changed), Delete."""
    function = create_function(lam, f"lat-{uuid.uuid4().hex[:8]}").split(":")[-1]
    events = Events(server, side, function, queue)
    process = side.start(log)
    times: dict[str, list[float]] = {"Create": [], "Update": [], "Delete": []}
    try:
        for cycle in range(cycles + 1):
            for kind, retries in (("Create", 1), ("Update", 0), ("Delete", 0)):
                event = events.event(kind, retries)
                result = process.send(event)
                events.answered(event)
                if cycle:
                    times[kind].append(result["ms"])
    finally:
        process.close()
    return times


def cold_start(server: ResponseServer, side: Side, lam: Any, queue: str, log: IO[bytes]) -> tuple[float, float]:
    """(spawn to first answer, import plus first event in the process), ms: a new process's first event, a Create."""
    function = create_function(lam, f"cold-{uuid.uuid4().hex[:8]}").split(":")[-1]
    events = Events(server, side, function, queue)
    event = events.event("Create")
    started = time.perf_counter()
    process = side.start(log)
    try:
        result = process.send(event)
        wall = (time.perf_counter() - started) * 1000
    finally:
        process.close()
    events.answered(event)
    return wall, float(result["sinceStart"])


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="bench-peers-"))
