"""LocalStack, the local AWS emulator: install it in a virtual environment of its own, start it on a free loopback
port, stop it.

    python tools/emulator.py install      # idempotent; needs Python >= 3.12 (pyenv's 3.13 or 3.12)
    python tools/emulator.py start        # prints the endpoint URL; state under .emulator/
    python tools/emulator.py stop
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("EMULATOR_HOME", ROOT / ".emulator"))
VENV = HOME / "venv"
PACKAGES = (
    "localstack-core[runtime]==2026.3.0",
    # Without these four pins LocalStack 2026.3 fails to start (../shared/REFERENCE.md, section 4).
    "cbor2<6",
    "pyopenssl<24.3",
    "cryptography<44",
    "service_identity<24.3",
)
SERVICES = "lambda,sqs,sns,events,iam,sts,s3,ssm"
READY_TIMEOUT = 90.0
REGION = "us-east-1"


class EmulatorError(RuntimeError):
    pass


def _python() -> Path:
    """A Python >= 3.12 to build LocalStack's environment with."""
    candidates = [os.environ.get("EMULATOR_PYTHON", "")]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    for version in ("3.13", "3.12"):
        candidates += sorted(str(p) for p in Path(pyenv_root, "versions").glob(f"{version}.*/bin/python{version}"))
        candidates.append(shutil.which(f"python{version}") or "")
    for candidate in filter(None, candidates):
        if Path(candidate).exists():
            return Path(candidate)
    raise EmulatorError("LocalStack needs Python >= 3.12; none found (set EMULATOR_PYTHON to one).")


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def install() -> Path:
    marker = VENV / "installed.json"
    if marker.exists() and json.loads(marker.read_text()) == list(PACKAGES):
        return _venv_python()
    HOME.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(_python()), "-m", "venv", "--clear", str(VENV)], check=True)
    log = HOME / "install.log"
    with log.open("w") as out:
        result = subprocess.run(
            [str(_venv_python()), "-m", "pip", "install", "--disable-pip-version-check", *PACKAGES],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        raise EmulatorError(f"pip install of LocalStack failed (exit {result.returncode}); see {log}.")
    marker.write_text(json.dumps(list(PACKAGES)))
    return _venv_python()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as response:
            services = json.load(response).get("services", {})
    except (OSError, ValueError):
        return False
    return all(services.get(name) in ("available", "running") for name in SERVICES.split(","))


@dataclass
class Emulator:
    endpoint: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start() -> Emulator:
    """Start LocalStack on a free port of 127.0.0.1 and wait until every service it needs answers."""
    python = install()
    port = _free_port()
    state = HOME / f"state-{port}"
    state.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "SERVICES": SERVICES,
        "LOCALSTACK_VOLUME_DIR": str(state),
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
    }
    log = (HOME / "localstack.log").open("wb")
    process = subprocess.Popen(
        [str(python), "-m", "localstack.runtime.main"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    emulator = Emulator(f"http://127.0.0.1:{port}", process)
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT:
        if process.poll() is not None:
            raise EmulatorError(f"LocalStack exited with {process.returncode}; see {HOME / 'localstack.log'}.")
        if _healthy(emulator.endpoint):
            (HOME / "running.json").write_text(json.dumps({"endpoint": emulator.endpoint, "pid": process.pid}))
            return emulator
        time.sleep(0.5)
    emulator.stop()
    raise EmulatorError(f"LocalStack was not ready within {READY_TIMEOUT:.0f} s; see {HOME / 'localstack.log'}.")


@contextlib.contextmanager
def running() -> Iterator[str]:
    """The endpoint of LocalStack: the one at $EMULATOR_ENDPOINT, else one started here and stopped on leaving."""
    if os.environ.get("EMULATOR_ENDPOINT"):
        yield os.environ["EMULATOR_ENDPOINT"]
        return
    started = start()
    try:
        yield started.endpoint
    finally:
        started.stop()


def stop() -> None:
    running = HOME / "running.json"
    if running.exists():
        pid = json.loads(running.read_text())["pid"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        running.unlink()


def client(endpoint: str, service: str, calls: collections.Counter[str] | None = None) -> Any:
    """A boto3 client for one service of the emulator, with its dummy credentials; `calls` counts its calls by
    `service:Operation`."""
    import boto3

    made = boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )
    if calls is not None:
        made.meta.events.register("before-call", lambda model, **_: calls.update([f"{service}:{model.name}"]))
    return made


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "install":
        print(install())
    elif command == "start":
        print(start().endpoint)
    elif command == "stop":
        stop()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
