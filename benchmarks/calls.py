"""The life-cycle paths whose API calls the benchmarks count, the same for both handlers (handler.py plays them on
ours, peer_calls.py on AwsCustomResource's), what each leaves live, and how a path's calls are tallied: by
`service:Operation`, summed by service.

The paths run in order on one function, each from where the last left it. A config declares retry attempts, a
maximum event age of 1 hour and, but where said, an SQS queue on failure; a redeploy sends a config resource no event
(its properties did not change), so what runs is the stack's drift check.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# The services the handlers call, in the order the tables show them.
SERVICES = {"lambda": "Lambda", "ssm": "SSM", "cloudformation": "CloudFormation"}
EVENT_AGE = 3600
REDEPLOY = "Redeploy"  # no event for the config: the drift check's Update

Settings = tuple[int, int, bool]  # retry attempts, maximum event age, the queue on failure


@dataclass(frozen=True)
class Declared:
    """What a config resource declares: retry attempts, and whether the queue is its on-failure destination."""

    retries: int
    destination: bool = True

    @property
    def settings(self) -> Settings:
        return self.retries, EVENT_AGE, self.destination


@dataclass(frozen=True)
class OutOfBand:
    """What someone else does to the live config before a path's event: a Put (the whole config) or an Update (the
    fields given), and what the config it leaves is called afterwards."""

    write: str
    retries: int
    age: int | None = None
    destination: bool = False
    called: str = "as found"


AS_DECLARED = OutOfBand("put", 1, EVENT_AGE, destination=True)
DIFFERING = OutOfBand("put", 2, 120)
DRIFTED = OutOfBand("update", 2, called="as changed out of band")

DECLARED = Declared(1)
ONE_FIELD = Declared(0)
NO_DESTINATION = Declared(0, destination=False)


@dataclass(frozen=True)
class Step:
    name: str
    kind: str  # Create, Update, Delete or REDEPLOY
    declared: Declared
    before: OutOfBand | None = None


PATHS = (
    Step("create, no config live", "Create", DECLARED),
    Step("redeploy, in sync", REDEPLOY, DECLARED),
    Step("update, one field changed", "Update", ONE_FIELD),
    Step("update, the destination removed", "Update", NO_DESTINATION),
    Step("redeploy, changed out of band", REDEPLOY, NO_DESTINATION, before=DRIFTED),
    Step("delete, a config it created", "Delete", NO_DESTINATION),
    Step("create, the same config live (borrowed)", "Create", DECLARED, before=AS_DECLARED),
    Step("delete, borrowed in sync", "Delete", DECLARED),
    Step("create, a differing config live (borrowed)", "Create", DECLARED, before=DIFFERING),
    Step("delete, borrowed and changed", "Delete", DECLARED),
)


def write_out_of_band(lam: Any, function: str, queue: str, change: OutOfBand) -> Settings:
    """Make `change` to the live config through an uncounted client; the settings it leaves."""
    fields: dict[str, Any] = {"FunctionName": function, "MaximumRetryAttempts": change.retries}
    if change.age is not None:
        fields["MaximumEventAgeInSeconds"] = change.age
    if change.destination:
        fields["DestinationConfig"] = {"OnFailure": {"Destination": queue}}
    if change.write == "put":
        lam.put_function_event_invoke_config(**fields)
    else:
        lam.update_function_event_invoke_config(**fields)
    live = live_settings(lam, function, queue)
    assert live is not None
    return live


def live_settings(lam: Any, function: str, queue: str) -> Settings | None:
    try:
        config = lam.get_function_event_invoke_config(FunctionName=function)
    except lam.exceptions.ResourceNotFoundException:
        return None
    on_failure = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    return config.get("MaximumRetryAttempts", 2), config.get("MaximumEventAgeInSeconds", 21600), on_failure == queue


@dataclass
class Found:
    """What a player remembers between paths: the config found out of band last, and what it is called."""

    settings: Settings | None = None
    called: str = ""

    def saw(self, step: Step, settings: Settings) -> None:
        assert step.before is not None
        self.settings, self.called = settings, step.before.called


def left(live: Settings | None, step: Step, found: Found) -> str:
    """What the path left live, in words: no config, the config as declared, or the one found out of band."""
    if live is None:
        return "no config"
    if step.kind != "Delete" and live == step.declared.settings:
        return "as declared"
    if live == found.settings:
        return found.called
    return "other"


def by_service(calls: collections.Counter[str], services: Iterable[str] = SERVICES) -> list[int]:
    """How many of `calls` (counted as `service:Operation`) went to each of `services`."""
    return [sum(n for op, n in calls.items() if op.split(":", 1)[0] == service) for service in services]


def detail(calls: collections.Counter[str]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))


@dataclass
class PathCalls:
    """One life-cycle path: every call the handler made, by `service:Operation`; what it left live; for ours, the
    config's claims in SSM once the event was answered and the locks its event wrote (each deleted before the answer,
    unless `locks_left`); `note`, why a handler made no call."""

    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    left: str = ""
    claims: int = 0
    locks: int = 0
    locks_left: int = 0
    note: str = ""

    @property
    def parameters(self) -> str:
        left = f", {self.locks_left} left" if self.locks_left else ""
        locks = f"{self.locks} lock{'s' * (self.locks != 1)}"
        return f"{self.claims} claim{'s' * (self.claims != 1)} ({locks} during{left})"


def table(found: dict[str, dict[str, PathCalls]], missing: dict[str, str]) -> list[str]:
    """The calls per path: a row for each path and handler of `found`, and for each handler of `missing` (the reason
    it was not run)."""
    names = list(SERVICES.values())
    lines = [
        f"| path | handler | all calls | {' | '.join(names)} | left live | SSM parameters after | the calls |",
        f"|---|---|---|{'---|' * len(names)}---|---|---|",
    ]
    for step in PATHS:
        for handler, paths in found.items():
            one = paths[step.name]
            counts = " | ".join(map(str, by_service(one.calls)))
            parameters = one.parameters if one.claims or one.locks else "none"
            what = detail(one.calls) or one.note or "none"
            lines.append(
                f"| {step.name} | {handler} | {sum(one.calls.values())} | {counts} | {one.left} | {parameters} "
                f"| {what} |"
            )
        for handler, why in missing.items():
            lines.append(f"| {step.name} | {handler} | not run: {why} |{' |' * (len(names) + 3)}")
    return lines
