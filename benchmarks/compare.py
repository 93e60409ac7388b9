"""AsyncInvokeConfig beside the native `aws_lambda.EventInvokeConfig` and `custom_resources.AwsCustomResource`, in one
run: template size, what a stack pays for AsyncInvokeConfig (the fixed part and each config), calls across the jsii
bridge, synth time, API calls per life-cycle path (every service), handler latency, and the drift check.

    .venv/bin/python benchmarks/compare.py --out BENCHMARKS.md   # the full run, into BENCHMARKS.md (scripts/benchmarks)
    .venv/bin/python benchmarks/compare.py --quick               # a smoke run: tiny sizes, one run each

Everything is printed as it is measured; with --out, the same text is written to that file once the run is complete.
Each timing is the median of RUNS runs, with min and max; ratios are taken pair by pair within a run (ours and the
native L2 synthesized one after the other), then summarized the same way, so that a machine shared with other work
shifts both sides of a pair alike. LocalStack is started on a free loopback port (or EMULATOR_ENDPOINT is used).
The sections: template_tables.py, synth_tables.py, group_tables.py (many configs per resource), handler_tables.py.
The cases: cases.py; the template measure:
template_size.py; the stack's fixed part: stack_cost.py; calls per path: calls.py, played by handler.py (ours) and
peer_calls.py (AwsCustomResource's, run by peers.py); the drift check: drift_check.py.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "handler"), str(ROOT / "tools")]

import emulator  # noqa: E402
import group_tables  # noqa: E402
import handler_tables  # noqa: E402
import peers  # noqa: E402
import synth_tables  # noqa: E402
import template_tables  # noqa: E402
from cases import NATIVE, OURS, PEER  # noqa: E402
from figures import FULL, QUICK, Plan, timed  # noqa: E402

COMMAND = ".venv/bin/python benchmarks/compare.py --out BENCHMARKS.md"


def machine() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    memory = next((int(line.split()[1]) // 1024**2 for line in meminfo if "MemTotal" in line), 0)
    return [
        f"- CPU: {cpu}, {os.cpu_count()} CPUs (shared with other work); RAM: {memory} GiB; {platform.system()}",
        f"- Python {platform.python_version()}, Node {peers.node_version()}, aws-cdk-lib "
        f"{metadata.version('aws-cdk-lib')}, boto3 {metadata.version('boto3')}, `@aws-sdk/client-lambda` "
        f"{peers.sdk_version()} (package-lock.json)",
    ]


def load() -> str:
    """The load average over the last 1, 5 and 15 minutes."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def header(plan: Plan, quick: bool) -> None:
    title = f"# Benchmarks: {OURS} beside {NATIVE} and {PEER}{' (--quick: a smoke run)' if quick else ''}"
    print(f"{title}\n")
    print(
        f"Written by `scripts/benchmarks` (`{COMMAND}`, after `scripts/setup`; do not edit): every figure below is "
        f"that command's output, from one run begun {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. {PEER} is declared as a "
        "Put on Create and Update and a Delete on Delete, its destinations granted as the native L2 grants them. "
        "How each figure is taken is printed beside it; the code is under `benchmarks/` (`compare.py` names each "
        "module).\n"
    )
    print("\n".join(machine()))
    print(f"- runs per timed figure: {plan.runs}; each config: retry attempts 1, maximum event age 1 hour")
    print(f"- load average (1, 5, 15 min) as the run began: {load()}\n")
    print(
        f"Timings are wall time on {os.cpu_count()} CPUs that other jobs shared during the run: they are noisy. "
        "Read the counts first (resources, template bytes, calls across the jsii bridge, API calls: the same on every "
        "run), then the ratios, taken pair by pair within a run, and each timing's min-max spread, rather than single "
        "seconds. Each section ends with the seconds it took."
    )


class Tee(io.StringIO):
    """Keeps what is printed, and passes it on to `out`."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out

    def write(self, text: str) -> int:
        self.out.write(text)
        return super().write(text)

    def flush(self) -> None:
        self.out.flush()


def run(plan: Plan, quick: bool) -> None:
    started = time.perf_counter()
    header(plan, quick)
    marginals = timed(lambda: template_tables.templates(plan))
    timed(lambda: synth_tables.bridge(plan))
    timed(lambda: synth_tables.synth_times(plan))
    timed(lambda: synth_tables.linearity(plan))
    timed(lambda: group_tables.rows((plan.sizes[-2], plan.sizes[-1]), min(plan.runs, 3)))
    with emulator.running() as endpoint:
        paths = timed(lambda: handler_tables.handlers(plan, endpoint))
        timed(lambda: template_tables.costs(plan, marginals, paths))
        timed(lambda: handler_tables.drift(plan, endpoint))
    print("\n## The run\n")
    minutes = (time.perf_counter() - started) / 60
    print(f"{minutes:.0f} minutes in all; load average (1, 5, 15 min) at its end: {load()}.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each: a smoke run")
    parser.add_argument("--out", type=Path, help="also write the output to this file, once the run is complete")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    kept = Tee(sys.stdout)
    with contextlib.redirect_stdout(kept):
        run(plan, args.quick)
    if args.out is not None:
        args.out.write_text(kept.getvalue())


if __name__ == "__main__":
    main()
