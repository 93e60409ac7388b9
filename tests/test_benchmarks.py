"""The benchmark command (benchmarks/compare.py) still runs end to end: a smoke run on tiny sizes, written to a file as
scripts/benchmarks writes BENCHMARKS.md. Its figures are printed for people, never checked here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEW_PROCESS = "### Synth time as `cdk synth` runs the app (new process: interpreter, imports, construct, synth)"

SECTIONS = (
    "# Benchmarks: ",
    "Written by `scripts/benchmarks`",
    "## Template size",
    "### Most configs one stack holds",
    "## Calls across the jsii bridge per config",
    "## Synth time",
    "### Synth time in process (construct + synth, jsii kernel warm)",
    NEW_PROCESS,
    "## Linearity",
    "## API calls per life-cycle path",
    "## Handler latency",
    "## What a stack pays for AsyncInvokeConfig",
    "## Drift check",
    "## The run",
)


def test_the_benchmark_command_runs_quick_and_writes_every_section_for_every_construct(endpoint, tmp_path):
    env = os.environ | {"EMULATOR_ENDPOINT": endpoint, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    out = tmp_path / "BENCHMARKS.md"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert out.read_text() == run.stdout
    for section in SECTIONS:
        assert section in run.stdout
    new_process_table = run.stdout.split(NEW_PROCESS, 1)[1].split("\n## ", 1)[0]
    assert re.search(r"^\| \(c\) imported function, settings only \| \d+ \| \d+\.\d\d", new_process_table, re.M)
    for construct in ("AsyncInvokeConfig", "native EventInvokeConfig", "AwsCustomResource"):
        assert f"| {construct} |" in run.stdout
    node_side = shutil.which("node") and (ROOT / "node_modules" / "@aws-sdk" / "client-lambda").is_dir()
    if node_side:  # scripts/setup installs the npm SDK: AwsCustomResource's own handler really ran
        assert "not run" not in run.stdout
        assert "| AwsCustomResource | Create |" in run.stdout
    else:
        assert "not run: " in run.stdout
