"""LocalStack, the local AWS emulator: install it in a virtual environment of its own, start it on a free loopback
port, stop it.

    python tools/emulator.py install      # idempotent; needs Python >= 3.12 (pyenv's 3.13 or 3.12)
    python tools/emulator.py start        # prints the endpoint URL; state under .emulator/
    python tools/emulator.py stop

Each LocalStack started here has a state folder `state-<port>` under .emulator/ and, beside it, a record
`state-<port>.json` naming its process by PID, start time and command line (a PID alone may since belong to another
process); `running.json` is the record of the one started last. `stop` signals that process only if it still is the
one recorded, and its process group only if it leads it. When an emulator stops, its folder, its record and
`running.json` (if it names it) go; `start` and `stop` also remove those of emulators no longer running, never those of
one still running (test sessions may share $EMULATOR_HOME).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
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
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Process:
    """A process as the system knows it: its PID, its start time and its command line. Once a process is gone its PID
    may be given to another; the three together name one process."""

    pid: int
    started: str
    cmdline: tuple[str, ...]

    @classmethod
    def of(cls, pid: int) -> Process | None:
        """The process that has this PID now; None if there is none or it has exited (a zombie)."""
        if pid <= 0:
            return None
        if not (PROC / "self").exists():
            return _ps(pid)
        try:
            stat = (PROC / str(pid) / "stat").read_text()
            cmdline = (PROC / str(pid) / "cmdline").read_bytes()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2 :].split()  # the command name (field 2) may hold spaces and parentheses
        if fields[0] in ("Z", "X"):  # field 3, the state
            return None
        return cls(pid, fields[19], tuple(os.fsdecode(arg) for arg in cmdline.split(b"\0")[:-1]))  # field 22

    def alive(self) -> bool:
        """Whether this very process still runs (not merely one with its PID)."""
        return Process.of(self.pid) == self

    def describe(self) -> str:
        return " ".join(self.cmdline) or "?"


PROC = Path("/proc")


def _ps(pid: int) -> Process | None:
    """Process.of where there is no /proc (macOS): the start time as ps prints it (to the second)."""
    result = subprocess.run(
        ["ps", "-ww", "-o", "stat=", "-o", "lstart=", "-o", "command=", "-p", str(pid)],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    state, _, rest = result.stdout.strip().partition(" ")
    rest = rest.lstrip()
    if result.returncode != 0 or not rest or state.startswith("Z"):
        return None
    return Process(pid, rest[:24], (rest[24:].strip(),))


def _record(endpoint: str, state: Path, process: Process) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "state": state.name,
        "pid": process.pid,
        "starttime": process.started,
        "cmdline": list(process.cmdline),
    }


def _recorded(record: dict[str, Any]) -> Process | None:
    """The process a record names; None for a record that does not name one fully (written before start times were
    recorded, or damaged)."""
    try:
        return Process(int(record["pid"]), str(record["starttime"]), tuple(str(arg) for arg in record["cmdline"]))
    except (KeyError, TypeError, ValueError):
        return None


def _read(path: Path) -> dict[str, Any] | None:
    """A record's content; None if there is no such file. A file that is no JSON object reads as an empty record."""
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def _running_json() -> Path:
    return HOME / "running.json"


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Held while records and state folders are judged, created or removed, so that a session cleaning up never
    removes what another is creating."""
    HOME.mkdir(parents=True, exist_ok=True)
    with (HOME / "emulator.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _signal(pid: int, sig: signal.Signals) -> None:
    """Signals the process's group if the process leads it (LocalStack is started in a session of its own, so its
    children get the signal too), else the process alone."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _terminate(process: Process) -> bool:
    """SIGTERM, then SIGKILL after 20 s, each sent only while `process` is still that very process; whether it is
    gone."""
    for sig, timeout in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        if not process.alive():
            return True
        _signal(process.pid, sig)
        deadline = time.monotonic() + timeout
        while process.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
    return not process.alive()


def _remove_state(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.with_name(f"{folder.name}.json").unlink(missing_ok=True)


def _legacy_in_use(folder: Path) -> bool:
    """For a state folder without a record (made by an older emulator.py): whether its emulator may still run, that
    is, its port takes connections or the folder changed recently."""
    port = folder.name.removeprefix("state-")
    if not port.isdigit() or time.time() - folder.stat().st_mtime < READY_TIMEOUT:
        return True
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", int(port))) == 0


def _stale(record: dict[str, Any], name: str) -> str:
    """Why a record whose process is not alive names no running emulator, for the user."""
    what = f"{name} names pid {record.get('pid')}"
    if "endpoint" in record:
        what += f" (LocalStack at {record['endpoint']})"
    recorded = _recorded(record)
    if recorded is None:
        return f"{what} without its start time and command line: it cannot be shown to be the LocalStack started here"
    now = Process.of(recorded.pid)
    return f"{what}, which is gone" if now is None else f"{what}, which is now another process ({now.describe()})"


def _sweep() -> list[str]:
    """Under the lock: removes running.json, the state folders and their records of emulators that no longer run;
    what it did, for the user."""
    notes = []
    running = _read(_running_json())
    if running is not None and not ((process := _recorded(running)) and process.alive()):
        _running_json().unlink()
        notes.append(f"removed {_running_json()}: {_stale(running, 'it')}")
    for path in sorted(HOME.glob("state-*.json")):
        record = _read(path) or {}
        if not ((process := _recorded(record)) and process.alive()):
            folder = path.with_name(path.name.removesuffix(".json"))
            _remove_state(folder)
            notes.append(f"removed {folder} (pid {record.get('pid')}, its LocalStack, no longer runs)")
    for folder in sorted(HOME.glob("state-*")):
        if folder.is_dir() and not folder.with_name(f"{folder.name}.json").exists() and not _legacy_in_use(folder):
            shutil.rmtree(folder, ignore_errors=True)
            notes.append(f"removed {folder} (no record, and nothing listens on its port)")
    return notes


def _started(process: subprocess.Popen[bytes], command: list[str]) -> Process | None:
    """The process Popen started, once it runs `command`: Popen may return while the kernel is still loading the
    program, and its command line reads empty until then. None if it exits first, or does not show `command` in 10 s."""
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        found = Process.of(process.pid)
        if found is not None and found.cmdline in (tuple(command), (" ".join(command),)):  # /proc, ps
            return found
        time.sleep(0.01)
    return None


def _claim() -> Path:
    """Under the lock, after the sweep: a new state folder, named by a free port no other emulator's folder has."""
    for _ in range(100):
        state = HOME / f"state-{_free_port()}"
        if not state.exists() and not state.with_name(f"{state.name}.json").exists():
            state.mkdir()
            return state
    raise EmulatorError(f"No free port without a state folder under {HOME}.")


@dataclass
class Emulator:
    endpoint: str
    process: subprocess.Popen[bytes]
    state: Path
    record: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what start cleaned up, for the user

    def stop(self) -> None:
        """Stops LocalStack and removes its state folder, its record, and running.json if it names this emulator."""
        # The child is not reaped while poll() says it runs, so its PID (and group) cannot belong to another process.
        if self.process.poll() is None:
            _signal(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal(self.process.pid, signal.SIGKILL)
                self.process.wait()
        with _locked():
            _remove_state(self.state)
            if self.record and _read(_running_json()) == self.record:
                _running_json().unlink()


def start() -> Emulator:
    """Start LocalStack on a free port of 127.0.0.1 and wait until every service it needs answers."""
    python = install()
    with _locked():
        notes = _sweep()
        state = _claim()
        port = int(state.name.removeprefix("state-"))
        env = {
            **os.environ,
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "SERVICES": SERVICES,
            "LOCALSTACK_VOLUME_DIR": str(state),
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",
        }
        command = [str(python), "-m", "localstack.runtime.main"]
        with (HOME / "localstack.log").open("wb") as log:
            process = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        emulator = Emulator(f"http://127.0.0.1:{port}", process, state, notes=notes)
        identity = _started(process, command)
        if identity is not None:
            emulator.record = _record(emulator.endpoint, state, identity)
            state.with_name(f"{state.name}.json").write_text(json.dumps(emulator.record))
    try:
        if identity is None and process.poll() is None:
            raise EmulatorError(f"Cannot read the start time and command line of LocalStack (pid {process.pid}).")
        started = time.monotonic()
        while time.monotonic() - started < READY_TIMEOUT:
            if process.poll() is not None:
                raise EmulatorError(f"LocalStack exited with {process.returncode}; see {HOME / 'localstack.log'}.")
            if _healthy(emulator.endpoint):
                with _locked():
                    _running_json().write_text(json.dumps(emulator.record))
                return emulator
            time.sleep(0.5)
        raise EmulatorError(f"LocalStack was not ready within {READY_TIMEOUT:.0f} s; see {HOME / 'localstack.log'}.")
    except BaseException:
        emulator.stop()
        raise


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


def stop() -> list[str]:
    """Stops the LocalStack running.json names if that process still is the one started; removes running.json and
    what emulators no longer running left. Returns what it did, for the user."""
    with _locked():
        record = _read(_running_json())
    process = _recorded(record) if record is not None else None
    if record is None:
        notes = [f"no LocalStack recorded in {_running_json()}"]
    elif process is not None and process.alive():
        outcome = "stopped" if _terminate(process) else "could not stop"
        notes = [f"{outcome} LocalStack at {record.get('endpoint')} (pid {process.pid})"]
    else:
        notes = [f"not signalled: {_stale(record, 'running.json')}"]
    with _locked():
        if record is not None and _read(_running_json()) == record and not (process is not None and process.alive()):
            _running_json().unlink()
            notes.append(f"removed {_running_json()}")
        return notes + _sweep()


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
        started = start()
        for note in started.notes:
            print(note, file=sys.stderr)
        print(started.endpoint)
    elif command == "stop":
        for note in stop():
            print(note)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
