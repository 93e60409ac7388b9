"""Faults injected between boto3 and the emulator, and the tally of what they did (RELIABILITY.md).

A `Fault` fails (or slows) some calls of the clients an `Injector` is installed on: a botocore `before-call` hook
answers in the service's place with the error the service would send (`TooManyRequestsException` 429, ...), so the
handler's own retry logic sees exactly what a real refusal looks like; calls a fault spares go on to the emulator.
`TimeWarp` gives a handler run a clock that jumps over its sleeps, so backoff and the 2-minute IAM propagation window
play out in a fraction of their real time. `Tally` collects rows (fault or input, how many tried, outcome) and
`python tools/faults.py report RECORD.jsonl RELIABILITY.md` writes them as a table (see `scripts/reliability`).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

SERVICE_NAMES = {"lambda": "Lambda", "ssm": "SSM"}
# Which of a fault's matching calls fail, by their sequence number (0 for the first matching call).
Rule = Callable[[int], bool]
Reply = tuple[AWSResponse, dict[str, Any]]


def share(fraction: float, seed: int = 0) -> Rule:
    """About `fraction` of the calls, chosen by a seeded draw per call number (the same calls on every run)."""
    return lambda number: random.Random(seed * 1_000_003 + number).random() < fraction


def bursts(length: int, period: int) -> Rule:
    """`length` calls in a row fail, then `period - length` pass, and again."""
    return lambda number: number % period < length


def first(count: int) -> Rule:
    """The first `count` calls fail, then none (a permission that arrives late)."""
    return lambda number: number < count


def every() -> Rule:
    return lambda number: True


@dataclass(frozen=True)
class Fault:
    """What some calls get instead of the service's answer: an error (`code`, HTTP `status`) for the calls `rule`
    picks, after `delay` seconds for every matching call (no `code`: only slowed). Matches the calls of `service`
    (its signing name: lambda, ssm) whose operation is in `operations` (empty: every operation); `calls` names them
    in RELIABILITY.md (by default, the service's calls)."""

    service: str
    rule: Rule = every()
    code: str = ""
    status: int = 500
    message: str = "Injected fault."
    operations: frozenset[str] = frozenset()
    delay: float = 0.0
    calls: str = ""

    @property
    def named(self) -> str:
        return self.calls or f"{SERVICE_NAMES.get(self.service, self.service)} calls"

    def matches(self, service: str, operation: str) -> bool:
        return service == self.service and (not self.operations or operation in self.operations)

    def reply(self) -> Reply:
        http = AWSResponse("https://fault.invalid", self.status, HTTPHeaders(), None)
        error: dict[str, Any] = {
            "Error": {"Code": self.code, "Message": self.message},
            "ResponseMetadata": {"HTTPStatusCode": self.status},
        }
        return http, error


@dataclass
class Injector:
    """Applies `faults` to the calls of every client it is installed on (shared by threads), counting the calls each
    fault matched and the ones it failed. The first fault that fails a call answers it."""

    faults: list[Fault]
    sleep: Callable[[float], None] = time.sleep
    matched: Counter[int] = field(default_factory=Counter)
    failed: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, client: Any) -> Any:
        service = str(client.meta.service_model.signing_name)

        def intercept(model: Any, **_: Any) -> Reply | None:
            return self.intercept(service, str(model.name))

        client.meta.events.register("before-call", intercept)
        return client

    def intercept(self, service: str, operation: str) -> Reply | None:
        for index, fault in enumerate(self.faults):
            if not fault.matches(service, operation):
                continue
            with self._lock:
                number = self.matched[index]
                self.matched[index] += 1
            if fault.delay:
                self.sleep(fault.delay)
            if fault.code and fault.rule(number):
                with self._lock:
                    self.failed[index] += 1
                return fault.reply()
        return None

    @property
    def injected(self) -> int:
        return sum(self.failed.values())

    def did(self) -> str:
        """What the faults did, counted: the calls they refused and the calls they delayed, each by what its fault
        names them (`refused 28 Lambda calls`, `delayed 40 Lambda calls by 0.5 s`)."""
        refused: Counter[str] = Counter()
        delayed: Counter[str] = Counter()
        for index, fault in enumerate(self.faults):
            if fault.code:
                refused[fault.named] += self.failed[index]
            if fault.delay:
                delayed[f"{fault.named} by {fault.delay:g} s"] += self.matched[index]
        parts = [
            f"{verb} {' and '.join(f'{count} {name}' for name, count in counted.items())}"
            for verb, counted in (("refused", refused), ("delayed", delayed))
            if counted
        ]
        return "; ".join(parts) or "did nothing"


class TimeWarp:
    """A clock and a sleep for one handler run: `sleep(s)` waits s / `factor` real seconds and moves the clock s
    ahead, so a run that backs off for minutes takes seconds while every deadline and window still counts in full."""

    def __init__(self, factor: float = 50.0) -> None:
        self.factor = factor
        self.ahead = 0.0
        self._lock = threading.Lock()

    def clock(self) -> float:
        return time.monotonic() + self.ahead

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self.factor)
        with self._lock:
            self.ahead += seconds - seconds / self.factor


@dataclass(frozen=True)
class Row:
    """One line of RELIABILITY.md: a fault or an input, how many were tried (`counted` names what: events, inputs),
    and what came of them."""

    suite: str
    subject: str
    tried: int
    outcome: str
    counted: str = "tried"


@dataclass
class Tally:
    rows: list[Row] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, suite: str, subject: str, tried: int, outcome: str, counted: str = "tried") -> None:
        with self._lock:
            self.rows.append(Row(suite, subject, tried, outcome, counted))

    def append_to(self, path: Path) -> None:
        with path.open("a") as record:
            for row in self.rows:
                record.write(json.dumps(asdict(row)) + "\n")


HEADER = """# Reliability

Written by `scripts/reliability` (do not edit): it runs `tests/test_reliability.py` (faults injected between boto3
and LocalStack by botocore hooks, `tools/faults.py`; the response PUT refused by the local response server) and
`tests/test_validator_properties.py` (hypothesis: the construct's and the handler's validators against the
constraints of botocore's service model for `lambda:PutFunctionEventInvokeConfig`), and tabulates what they tried.

Faults: under each, CloudFormation's life cycle runs on functions of their own, a Create, an Update and a Delete;
an event that fails is followed by CloudFormation's rollback of it (a Delete after a failed Create, which ends that
life cycle; an Update back to the old properties after a failed Update). The events are counted by kind and by
answer. "SUCCESS, as declared": the event answered SUCCESS and the live config then read back as its properties
declare (no config, after a Delete). "FAILED, naming the function": the event answered FAILED with a reason naming
the function. Every event is answered, and is one or the other, or the suite fails. What the fault did is counted as
it did it: the calls it refused, by service, or the response PUTs the response server refused.

Validators: for each field, the values hypothesis tried, how many of them botocore's model accepts and rejects, and
whether the validator agreed with the model on every one (the suite fails at the first disagreement).
"""


def markdown(rows: list[Row]) -> str:
    lines = [HEADER.rstrip("\n")]
    for suite in dict.fromkeys(row.suite for row in rows):
        mine = [row for row in rows if row.suite == suite]
        lines += [f"\n## {suite}\n", f"| fault or input | {mine[0].counted} | outcome |", "|---|---:|---|"]
        lines += [f"| {row.subject} | {row.tried} | {row.outcome} |" for row in mine]
    return "\n".join(lines) + "\n"


def report(record: Path, out: Path) -> None:
    rows = [Row(**json.loads(line)) for line in record.read_text().splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"{record} holds no rows: did the suites run?")
    out.write_text(markdown(rows))


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[1] != "report":
        print("usage: python tools/faults.py report RECORD.jsonl RELIABILITY.md", file=sys.stderr)
        return 2
    report(Path(argv[2]), Path(argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
