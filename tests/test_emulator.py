"""tools/emulator.py's bookkeeping: `stop` signals only the LocalStack it started, and running.json, the state folders
and their records go when their emulator stops. Stand-ins play LocalStack (a `sleep`, or a small health server run
as `-m localstack.runtime.main`); the last test starts the real one."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import emulator
import pytest

FAKE_LOCALSTACK = """
import http.server, json, os, subprocess, sys

if os.environ.get("FAKE_LOCALSTACK_EXIT"):
    sys.exit(3)
child = subprocess.Popen(["sleep", "300"])  # in LocalStack's process group, as its own children are
with open(os.environ["FAKE_LOCALSTACK_CHILD"], "w") as out:
    out.write(str(child.pid))
with open(os.path.join(os.environ["LOCALSTACK_VOLUME_DIR"], "written"), "w"):
    pass  # LocalStack writes into its state folder
services = {name: "running" for name in os.environ["SERVICES"].split(",")}


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"services": services}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


host, port = os.environ["GATEWAY_LISTEN"].split(":")
http.server.HTTPServer((host, int(port)), Health).serve_forever()
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """EMULATOR_HOME for one test; whatever the test leaves running there is stopped after it."""
    folder = tmp_path / "emulator"
    monkeypatch.setattr(emulator, "HOME", folder)
    monkeypatch.delenv("EMULATOR_ENDPOINT", raising=False)
    yield folder
    emulator.stop()


@pytest.fixture
def fake(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """LocalStack played by a health server, installed as `HOME/venv/bin/python -m localstack.runtime.main` runs it
    (so that `python tools/emulator.py start` in a process of its own starts it too). Returns the file where it
    writes the PID of a child it starts in its process group."""
    package = tmp_path / "fake" / "localstack" / "runtime"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(FAKE_LOCALSTACK)
    venv = home / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / "installed.json").write_text(json.dumps(list(emulator.PACKAGES)))
    monkeypatch.setattr(emulator, "VENV", venv)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))
    monkeypatch.setenv("FAKE_LOCALSTACK_CHILD", str(tmp_path / "child.pid"))
    return tmp_path / "child.pid"


@pytest.fixture
def sleeper() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Harmless processes (`sleep 300`) to play the ones a recorded PID may now belong to; killed after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(own_group: bool = True) -> subprocess.Popen[bytes]:
        started.append(subprocess.Popen(["sleep", "300"], start_new_session=own_group))
        cmdline = Path(f"/proc/{started[-1].pid}/cmdline")
        while not cmdline.read_bytes():  # the program is still being loaded (see the test of _started)
            time.sleep(0.01)
        return started[-1]

    yield start
    for process in started:
        process.kill()
        process.wait()


def record(pid: int, starttime: str, cmdline: list[str], port: int) -> dict[str, Any]:
    """A record as `start` writes it (running.json, state-<port>.json)."""
    return {
        "endpoint": f"http://127.0.0.1:{port}",
        "state": f"state-{port}",
        "pid": pid,
        "starttime": starttime,
        "cmdline": cmdline,
    }


def record_of(process: subprocess.Popen[bytes], port: int) -> dict[str, Any]:
    """A record naming `process` as the kernel shows it (read here, not by emulator.py)."""
    stat = Path(f"/proc/{process.pid}/stat").read_text()
    starttime = stat[stat.rindex(")") + 2 :].split()[19]  # field 22
    cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    return record(process.pid, starttime, cmdline, port)


def state_of(home: Path, content: dict[str, Any], *, running: bool = True) -> Path:
    """An emulator's state folder (with a file in it) and its record, and running.json naming it."""
    folder = home / content["state"]
    folder.mkdir(parents=True)
    (folder / "written").write_text("")
    (home / f"{folder.name}.json").write_text(json.dumps(content))
    if running:
        (home / "running.json").write_text(json.dumps(content))
    return folder


def not_signalled(process: subprocess.Popen[bytes]) -> bool:
    try:
        process.wait(timeout=0.5)
    except subprocess.TimeoutExpired:
        return True
    return False


def listing(home: Path) -> list[str]:
    return sorted(path.name for path in home.iterdir() if path.name not in ("venv", "emulator.lock", "localstack.log"))


def test_process_names_one_process_by_pid_start_time_and_command_line(sleeper) -> None:
    first = sleeper()
    found = emulator.Process.of(first.pid)
    assert found is not None and found.pid == first.pid and found.cmdline == ("sleep", "300")
    assert found.started.isdigit() and found.alive()
    first.kill()
    first.wait()
    assert emulator.Process.of(first.pid) is None and not found.alive()
    assert emulator.Process.of(0) is None and emulator.Process.of(-1) is None


def test_process_without_proc_reads_ps(sleeper, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there is no /proc (macOS), ps gives the start time (to the second) and the command line."""
    first, second = sleeper(), sleeper()
    monkeypatch.setattr(emulator, "PROC", Path("/nonexistent"))
    found = emulator.Process.of(first.pid)
    assert found is not None and found.cmdline == ("sleep 300",) and found.alive()
    assert emulator.Process.of(second.pid) != found
    first.kill()
    first.wait()
    assert not found.alive()


def test_a_started_process_is_recorded_with_its_command_line() -> None:
    """Popen may return while the kernel is still loading the program; its command line then reads empty for a moment
    (about 1 start in 200 on a busy machine). The record waits for the command it started."""
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    for _ in range(300):
        process = subprocess.Popen(command, start_new_session=True)
        try:
            found = emulator._started(process, command)
        finally:
            process.kill()
            process.wait()
        assert found is not None and found.cmdline == tuple(command)


@pytest.mark.parametrize("differs", ["start time", "command line"])
def test_stop_does_not_signal_the_process_that_now_has_the_recorded_pid(home: Path, sleeper, differs: str) -> None:
    """The emulator is gone and its PID went to another process (in a group of its own, as LocalStack's was): stop
    neither signals it nor its group, and removes running.json and the state folder."""
    other = sleeper()
    content = record_of(other, 4566)
    if differs == "start time":
        content["starttime"] = str(int(content["starttime"]) - 1)
    else:
        content["cmdline"] = [str(emulator.VENV / "bin" / "python"), "-m", "localstack.runtime.main"]
    state_of(home, content)

    notes = emulator.stop()

    assert not_signalled(other)
    assert notes == [
        f"not signalled: running.json names pid {other.pid} (LocalStack at http://127.0.0.1:4566), which is now another"
        " process (sleep 300)",
        f"removed {home / 'running.json'}",
        f"removed {home / 'state-4566'} (pid {other.pid}, its LocalStack, no longer runs)",
    ]
    assert listing(home) == []


def test_stop_does_not_signal_a_pid_recorded_without_start_time(home: Path, sleeper) -> None:
    """running.json as earlier versions wrote it: a PID that cannot be shown to be the emulator is not signalled."""
    other = sleeper()
    (home / "running.json").parent.mkdir(parents=True)
    (home / "running.json").write_text(json.dumps({"endpoint": "http://127.0.0.1:4566", "pid": other.pid}))

    notes = emulator.stop()

    assert not_signalled(other)
    assert notes == [
        f"not signalled: running.json names pid {other.pid} (LocalStack at http://127.0.0.1:4566) without its start"
        " time and command line: it cannot be shown to be the LocalStack started here",
        f"removed {home / 'running.json'}",
    ]
    assert listing(home) == []


def test_stop_of_a_gone_emulator_says_so(home: Path, sleeper) -> None:
    gone = sleeper()
    content = record_of(gone, 4566)
    gone.kill()
    gone.wait()
    state_of(home, content)

    assert emulator.stop() == [
        f"not signalled: running.json names pid {gone.pid} (LocalStack at http://127.0.0.1:4566), which is gone",
        f"removed {home / 'running.json'}",
        f"removed {home / 'state-4566'} (pid {gone.pid}, its LocalStack, no longer runs)",
    ]
    assert listing(home) == []


def test_stop_signals_the_recorded_process_alone_when_it_leads_no_group(home: Path, sleeper) -> None:
    """The recorded process is in this test's process group: it is signalled, the group (this test) is not."""
    child = sleeper(own_group=False)
    state_of(home, record_of(child, 4566))

    notes = emulator.stop()

    assert child.wait(timeout=5) == -signal.SIGTERM
    assert notes[0] == f"stopped LocalStack at http://127.0.0.1:4566 (pid {child.pid})"
    assert listing(home) == []


def test_start_and_stop_on_the_command_line(home: Path, fake: Path) -> None:
    """`start` in one process, `stop` in another: LocalStack and its process group are stopped, and running.json, the
    state folder and its record go. What `start` cleaned is said on stderr, the endpoint alone on stdout."""
    home.mkdir(exist_ok=True)
    (home / "running.json").write_text(json.dumps({"endpoint": "http://127.0.0.1:1", "pid": 999999999}))
    command = [sys.executable, str(Path(emulator.__file__)), "start"]
    started = subprocess.run(command, env={**os.environ, "EMULATOR_HOME": str(home)}, capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    assert started.stderr.splitlines() == [
        f"removed {home / 'running.json'}: it names pid 999999999 (LocalStack at http://127.0.0.1:1) without its start"
        " time and command line: it cannot be shown to be the LocalStack started here"
    ]
    endpoint = started.stdout.strip()
    port = int(endpoint.rsplit(":", 1)[1])
    content = json.loads((home / "running.json").read_text())
    assert content == json.loads((home / f"state-{port}.json").read_text())
    assert content["endpoint"] == endpoint and content["state"] == f"state-{port}"
    assert content["cmdline"] == [str(home / "venv" / "bin" / "python"), "-m", "localstack.runtime.main"]
    localstack = emulator.Process.of(content["pid"])
    child = emulator.Process.of(int(fake.read_text()))
    assert localstack is not None and localstack.started == content["starttime"] and child is not None
    assert listing(home) == ["running.json", f"state-{port}", f"state-{port}.json"]

    command[-1] = "stop"
    stopped = subprocess.run(command, env={**os.environ, "EMULATOR_HOME": str(home)}, capture_output=True, text=True)

    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.splitlines() == [
        f"stopped LocalStack at {endpoint} (pid {localstack.pid})",
        f"removed {home / 'running.json'}",
        f"removed {home / f'state-{port}'} (pid {localstack.pid}, its LocalStack, no longer runs)",
    ]
    assert not localstack.alive() and not child.alive()  # the group was signalled
    assert listing(home) == []


def test_running_removes_running_json_and_its_state_folder(home: Path, fake: Path) -> None:
    with emulator.running() as endpoint:
        content = json.loads((home / "running.json").read_text())
        assert content["endpoint"] == endpoint
        localstack = emulator.Process.of(content["pid"])
        assert localstack is not None and localstack.alive()
        assert (home / content["state"] / "written").exists()
    assert not localstack.alive()
    assert listing(home) == []


def test_stop_leaves_running_json_of_another_emulator(home: Path, fake: Path) -> None:
    """Two sessions sharing EMULATOR_HOME: running.json names the one started last; the other, stopping first,
    leaves it and the other's state folder alone."""
    first = emulator.start()
    try:
        second = emulator.start()
        try:
            first.stop()
            assert listing(home) == ["running.json", second.state.name, f"{second.state.name}.json"]
            assert json.loads((home / "running.json").read_text())["endpoint"] == second.endpoint
        finally:
            second.stop()
    finally:
        first.stop()
    assert listing(home) == []


def test_failed_start_leaves_nothing(home: Path, fake: Path, monkeypatch: pytest.MonkeyPatch, sleeper) -> None:
    gone = sleeper()
    state_of(home, record_of(gone, 4566))  # a stale running.json, cleaned by the start
    gone.kill()
    gone.wait()
    monkeypatch.setenv("FAKE_LOCALSTACK_EXIT", "1")

    with pytest.raises(emulator.EmulatorError, match="LocalStack exited with 3"):
        emulator.start()

    assert listing(home) == []


def test_leftovers_of_emulators_no_longer_running_are_removed(home: Path, fake: Path, sleeper) -> None:
    """By the next start (or stop): the folders and records of emulators that are gone, and folders without a record
    (an earlier version's) whose port takes no connection and that changed more than 90 s ago; never the folder of
    an emulator still running."""
    gone, alive = sleeper(), sleeper()
    gone_folder = state_of(home, record_of(gone, 1001), running=False)
    alive_folder = state_of(home, record_of(alive, 1002), running=False)
    gone.kill()
    gone.wait()
    old = time.time() - 3600
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        legacy = {name: home / name for name in ("state-1003", f"state-{listener.getsockname()[1]}", "state-1004")}
        for name, folder in legacy.items():
            folder.mkdir()
            if name != "state-1004":  # the one just made: it may be an earlier version's emulator starting
                os.utime(folder, (old, old))

        started = emulator.start()
        started.stop()

    assert started.notes == [
        f"removed {gone_folder} (pid {gone.pid}, its LocalStack, no longer runs)",
        f"removed {legacy['state-1003']} (no record, and nothing listens on its port)",
    ]
    kept = [alive_folder.name, f"{alive_folder.name}.json", *sorted(set(legacy) - {"state-1003"})]
    assert listing(home) == sorted(kept)
    assert not_signalled(alive)


def test_real_localstack_leaves_no_running_json_or_state(home: Path) -> None:
    """LocalStack itself (installed by scripts/setup), started and stopped by `running()` in a home of its own: its
    record names it for as long as it runs (it keeps its start time and command line), and nothing is left after."""
    with emulator.running() as endpoint:
        content = json.loads((home / "running.json").read_text())
        assert content["endpoint"] == endpoint
        localstack = emulator.Process.of(content["pid"])
        assert localstack is not None and localstack.started == content["starttime"]
        assert list(localstack.cmdline) == content["cmdline"]
        assert (home / content["state"]).is_dir()
    assert not localstack.alive()
    assert listing(home) == []
