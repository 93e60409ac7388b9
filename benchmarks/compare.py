"""AsyncInvokeConfig beside the native `aws_lambda.EventInvokeConfig` and `custom_resources.AwsCustomResource`, in one
run: template size, synth time, API calls per life-cycle path (every service), what a stack pays for
AsyncInvokeConfig (the fixed part and each config), handler latency, and the drift check.

    .venv/bin/python benchmarks/compare.py           # the full run (BENCHMARKS.md holds one)
    .venv/bin/python benchmarks/compare.py --quick   # a smoke run: tiny sizes, one run each

Each timing is the median of RUNS runs, with min and max; ratios are taken pair by pair within a run (ours and the
native L2 synthesized one after the other), then summarized the same way, so that a machine shared with other work
shifts both sides of a pair alike. LocalStack is started on a free loopback port (or EMULATOR_ENDPOINT is used).
The sections: template_tables.py, synth_tables.py, handler_tables.py. The cases: cases.py; the template measure:
template_size.py; the stack's fixed part: stack_cost.py; calls per path: handler.py (ours) and peer_calls.py
(AwsCustomResource's, run by peers.py); the drift check: drift_check.py.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "handler"), str(ROOT / "tools")]

import emulator  # noqa: E402
import handler_tables  # noqa: E402
import synth_tables  # noqa: E402
import template_tables  # noqa: E402
from cases import NATIVE, OURS, PEER  # noqa: E402
from figures import FULL, QUICK, timed  # noqa: E402


def machine() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    memory = next((int(line.split()[1]) // 1024**2 for line in meminfo if "MemTotal" in line), 0)
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        node = "not found"
    return [
        f"- CPU: {cpu}, {os.cpu_count()} CPUs (shared with other work); RAM: {memory} GiB",
        f"- Python {platform.python_version()}, Node {node}, aws-cdk-lib {metadata.version('aws-cdk-lib')}, "
        f"boto3 {metadata.version('boto3')}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each: a smoke run")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    print(f"# {OURS} beside {NATIVE} and {PEER}{' (--quick: a smoke run)' if args.quick else ''}\n")
    print("\n".join(machine()))
    print(f"- runs per figure: {plan.runs}; each config: retry attempts 1, maximum event age 1 hour")
    marginals = timed(lambda: template_tables.templates(plan))
    timed(lambda: synth_tables.synth_times(plan))
    timed(lambda: synth_tables.linearity(plan))
    with emulator.running() as endpoint:
        paths = timed(lambda: handler_tables.handlers(plan, endpoint))
        timed(lambda: template_tables.costs(plan, marginals, paths))
        timed(lambda: handler_tables.drift(plan, endpoint))


if __name__ == "__main__":
    main()
