"""Faults between the handler and AWS, and load: every event is answered, and each either leaves the live config as
its properties declare or fails with a reason naming the function.

Faults are injected between boto3 and LocalStack by botocore hooks (tools/faults.py) on the clients the handler is
given; the response PUT is refused by the local response server. Each life cycle is CloudFormation's: a Create (a
failed one is rolled back by a Delete), an Update (a failed one by an Update back), a Delete. Backoff runs on a
warped clock (tools/faults.TimeWarp) except where real slowness is the fault. Every count goes to RELIABILITY.md
(scripts/reliability)."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import config_events
import emulator
import iam
import index
import pytest
from cloudformation import STACK_ID, Context, ResponseServer, StaticStack
from faults import Fault, Injector, TimeWarp, bursts, every, first, share
from natives import create_function
from stack_harness import synthesized_policy

SUITE = "Faults and load (tests/test_reliability.py)"
WRITES = frozenset(
    {"PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig", "DeleteFunctionEventInvokeConfig"}
)
SSM_WRITES = frozenset({"PutParameter", "DeleteParameter"})
LIMIT_MESSAGE = "You have exceeded the parameter limit."
AS_DECLARED = "SUCCESS, as declared"
FAILED_NAMED = "FAILED, naming the function"
# The events of a life cycle, by what CloudFormation sends them for.
CREATE, UPDATE, DELETE = "Create", "Update", "Delete"
UPDATE_BACK, DELETE_BACK = "rollback Update", "rollback Delete"
KINDS = (CREATE, UPDATE, UPDATE_BACK, DELETE, DELETE_BACK)
EVENTS = "events"


def first_props(name: str, queue: str) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "MaximumRetryAttempts": 1,
        "MaximumEventAgeInSeconds": 600,
        "DestinationConfig": {"OnFailure": {"Destination": queue}},
    }


def second_props(name: str) -> dict[str, Any]:
    """Changes both fields and drops the destination: a Put."""
    return {"FunctionName": name, "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 120}


def expected(props: dict[str, Any] | None) -> dict[str, Any] | None:
    """The live config `props` declare, as Get shows it; None for no config."""
    if props is None:
        return None
    destinations = props.get("DestinationConfig", {})
    return {
        "MaximumRetryAttempts": props.get("MaximumRetryAttempts"),
        "MaximumEventAgeInSeconds": props.get("MaximumEventAgeInSeconds"),
        "OnSuccess": destinations.get("OnSuccess", {}).get("Destination"),
        "OnFailure": destinations.get("OnFailure", {}).get("Destination"),
    }


def live(lam: Any, name: str) -> dict[str, Any] | None:
    try:
        config = lam.get_function_event_invoke_config(FunctionName=name, Qualifier="$LATEST")
    except lam.exceptions.ResourceNotFoundException:
        return None
    destinations = config.get("DestinationConfig", {})
    return {
        "MaximumRetryAttempts": config.get("MaximumRetryAttempts"),
        "MaximumEventAgeInSeconds": config.get("MaximumEventAgeInSeconds"),
        "OnSuccess": destinations.get("OnSuccess", {}).get("Destination") or None,
        "OnFailure": destinations.get("OnFailure", {}).get("Destination") or None,
    }


@dataclass
class Harness:
    """CloudFormation around the handler, with `injector`'s faults on the handler's Lambda and SSM clients; every
    call that gets through is checked against the policy the stack synthesizes. `send` returns the one answer."""

    endpoint: str
    server: ResponseServer
    injector: Injector
    context_seconds: float = 300.0
    warp: bool = True
    world: iam.World = field(default_factory=iam.World)
    clients: dict[str, Any] = field(default_factory=dict)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (event kind, AS_DECLARED or FAILED_NAMED)
    causes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (event kind, the error a FAILED reason names)
    wrong: list[str] = field(default_factory=list)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            endpoint = self.server.url if service == "cloudformation" else self.endpoint
            made = iam.install(emulator.client(endpoint, service), self.world)
            self.clients[service] = made if service == "cloudformation" else self.injector.install(made)
        return self.clients[service]

    def send(self, request_type: str, properties: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        logical_id = "Config" + properties["FunctionName"].replace("-", "")  # a resource of its own per function
        event = self.server.event(request_type, properties, logical_id=logical_id, **kwargs)
        timing: dict[str, Any] = {}
        if self.warp:
            warp = TimeWarp()
            timing = {"sleep": warp.sleep, "clock": warp.clock}
        index.on_event(event, Context(self.context_seconds), clients=self.client, **timing)
        answers = self.server.answers(event)
        if len(answers) != 1:
            self.wrong.append(f"{request_type} of {properties['FunctionName']}: {len(answers)} answers")
            return {"Status": "LOST", "Reason": "", "PhysicalResourceId": event.get("PhysicalResourceId", "")}
        return answers[0]

    def judge(self, kind: str, answer: dict[str, Any], name: str, lam: Any, declared: dict[str, Any] | None) -> None:
        """SUCCESS must leave the live config as declared (None: no config); FAILED must name the function."""
        if answer["Status"] == "SUCCESS" and live(lam, name) == expected(declared):
            self.outcomes[kind, AS_DECLARED] += 1
        elif answer["Status"] == "FAILED" and name in answer["Reason"]:
            self.outcomes[kind, FAILED_NAMED] += 1
            self.causes[kind, cause(answer["Reason"])] += 1
        else:
            self.outcomes[kind, "wrong"] += 1
            self.wrong.append(f"{kind} of {name}: {answer['Status']} {answer['Reason']!r}, live {live(lam, name)}")

    def life_cycle(self, name: str, queue: str, lam: Any) -> None:
        """Create, Update, Delete, with CloudFormation's rollback of a failed Create or Update."""
        old, new = first_props(name, queue), second_props(name)
        created = self.send("Create", old)
        self.judge(CREATE, created, name, lam, old)
        physical_id = created["PhysicalResourceId"]
        if created["Status"] != "SUCCESS":
            self.judge(DELETE_BACK, self.send("Delete", old, physical_id=physical_id), name, lam, None)
            return
        updated = self.send("Update", new, physical_id=physical_id, old_properties=old)
        self.judge(UPDATE, updated, name, lam, new)
        final = new
        if updated["Status"] != "SUCCESS":
            back = self.send("Update", old, physical_id=physical_id, old_properties=new)
            self.judge(UPDATE_BACK, back, name, lam, old)
            final = old
        self.judge(DELETE, self.send("Delete", final, physical_id=physical_id), name, lam, None)

    @property
    def events(self) -> int:
        return sum(self.outcomes.values())

    def answered(self, result: str) -> Counter[str]:
        """The events that came to `result`, by kind."""
        return Counter({kind: n for (kind, came), n in self.outcomes.items() if came == result})

    def outcome(self, fault: str = "") -> str:
        """What came of the events, by answer and kind (a FAILED one with the error its reason names), and what the
        fault did (by default, as the injector counted it)."""
        parts = [by_kind(result, self.answered(result), self.causes) for result in (AS_DECLARED, FAILED_NAMED)]
        if self.wrong:
            parts.append(f"{len(self.wrong)} WRONG")
        return "; ".join(parts) + f". {fault or f'The fault {self.injector.did()}'}."


def by_kind(result: str, kinds: Counter[str], causes: Counter[tuple[str, str]]) -> str:
    """`SUCCESS, as declared: 8 Creates, 8 Updates, 8 Deletes`, `FAILED, naming the function: 3 Creates (StillDenied
    3)`, or `none SUCCESS`."""
    if not kinds:
        return f"none {result.split(',')[0]}"
    counted = []
    for kind in (kind for kind in KINDS if kinds[kind]):
        why = ", ".join(f"{error} {n}" for (of, error), n in causes.items() if of == kind)
        counted.append(f"{kinds[kind]} {kind}{'s' * (kinds[kind] != 1)}{f' ({why})' if result == FAILED_NAMED else ''}")
    return f"{result}: {', '.join(counted)}"


def cause(reason: str) -> str:
    """The error a FAILED reason names: its innermost `failed: ERROR: ...`, or the watchdog's `timed out`."""
    if " timed out: " in reason:
        return "timed out (watchdog)"
    return reason.rsplit(" failed: ", 1)[-1].split(":", 1)[0].strip()


def functions(endpoint: str, count: int) -> list[str]:
    lam = emulator.client(endpoint, "lambda")
    names = [f"rel-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: create_function(lam, name), names))
    return names


def run(
    aws: Any,
    injector: Injector,
    count: int,
    *,
    refuse_puts: int = 0,
    context_seconds: float = 300.0,
    warp: bool = True,
    threads: int = 8,
) -> Harness:
    """`count` life cycles, `threads` at a time, each on a function of its own."""
    names = functions(aws.endpoint, count)
    queue = aws.queue()
    lam = aws.client("lambda")
    with ResponseServer(refuse_puts=refuse_puts) as server:
        server.stacks[STACK_ID] = StaticStack()
        harness = Harness(aws.endpoint, server, injector, context_seconds, warp)
        harness.world.statements = synthesized_policy(names, STACK_ID)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda name: harness.life_cycle(name, queue, lam), names))
    assert harness.world.denied == [], harness.world.denied
    return harness


THROTTLED = "TooManyRequestsException"
INTERNAL_MESSAGE = "An internal error occurred."
LAMBDA_WRITES = "Lambda writes"
SSM_WRITES_NAMED = "SSM writes"
CONFLICT_MESSAGE = "The operation cannot be performed at this time. An update is in progress for resource."
DENIED_MESSAGE = "User is not authorized to perform this action (injected: the grant has not propagated yet)."

FAULTS: dict[str, tuple[list[Fault], int]] = {
    "Lambda: half of all calls throttled (TooManyRequestsException, 429)": (
        [Fault("lambda", share(0.5, seed=1), THROTTLED, 429, "Rate exceeded")],
        8,
    ),
    "Lambda: writes refused in bursts of 3 of every 4 (ResourceConflictException, 409)": (
        [
            Fault(
                "lambda", bursts(3, 4), "ResourceConflictException", 409, CONFLICT_MESSAGE, WRITES, calls=LAMBDA_WRITES
            )
        ],
        8,
    ),
    "Lambda and SSM: the first 12 calls of each after a grant denied (AccessDeniedException)": (
        [
            Fault("lambda", first(12), "AccessDeniedException", 403, DENIED_MESSAGE),
            Fault("ssm", first(12), "AccessDeniedException", 403, DENIED_MESSAGE),
        ],
        6,
    ),
    "Lambda: every call denied, the grant never arrives (AccessDeniedException past the 2-minute window)": (
        [Fault("lambda", every(), "AccessDeniedException", 403, DENIED_MESSAGE)],
        3,
    ),
    "SSM: writes (claims and locks) fail in bursts of 2 of every 3 (InternalServerError, 500)": (
        [Fault("ssm", bursts(2, 3), "InternalServerError", 500, INTERNAL_MESSAGE, SSM_WRITES, calls=SSM_WRITES_NAMED)],
        6,
    ),
    "SSM: every write (claims and locks) refused (ParameterLimitExceeded, not retried)": (
        [Fault("ssm", every(), "ParameterLimitExceeded", 400, LIMIT_MESSAGE, SSM_WRITES, calls=SSM_WRITES_NAMED)],
        3,
    ),
}


@pytest.mark.parametrize("kind", list(FAULTS))
def test_under_each_fault_every_event_is_answered_and_as_declared_or_failed_naming_the_function(aws, tally, kind):
    faults, count = FAULTS[kind]

    harness = run(aws, Injector(faults), count)

    tally.add(SUITE, kind, harness.events, harness.outcome(), counted=EVENTS)
    assert harness.wrong == []
    assert harness.events >= 2 * count  # a life cycle is 2 events when its Create fails, else 3 or 4
    assert harness.injector.injected > 0


def test_transient_faults_end_as_declared(aws):
    """Throttling and conflicts that pass are absorbed by the retries: nothing fails."""
    faults = [
        Fault("lambda", share(0.5, seed=2), THROTTLED, 429, "Rate exceeded"),
        Fault("lambda", bursts(2, 3), "ResourceConflictException", 409, CONFLICT_MESSAGE, WRITES),
        Fault("ssm", bursts(1, 2), "InternalServerError", 500, INTERNAL_MESSAGE, SSM_WRITES),
    ]

    harness = run(aws, Injector(faults), 4)

    assert harness.wrong == []
    assert harness.answered(AS_DECLARED) == Counter({CREATE: 4, UPDATE: 4, DELETE: 4})


def test_a_grant_that_never_arrives_fails_every_event_naming_the_function_and_action(aws):
    harness = run(aws, Injector([Fault("lambda", every(), "AccessDeniedException", 403, DENIED_MESSAGE)]), 1)

    assert harness.outcomes == Counter({(CREATE, FAILED_NAMED): 1, (DELETE_BACK, AS_DECLARED): 1})


def test_record_writes_refused_fail_the_create_before_the_config_is_touched(aws):
    refused = Fault("ssm", every(), "ParameterLimitExceeded", 400, LIMIT_MESSAGE, SSM_WRITES)
    injector = Injector([refused, Fault("lambda", operations=WRITES)])

    harness = run(aws, injector, 2)

    assert harness.outcomes == Counter({(CREATE, FAILED_NAMED): 2, (DELETE_BACK, AS_DECLARED): 2})
    assert injector.matched[1] == 0  # no Lambda write was even tried


@pytest.mark.parametrize("refusals", [1, 3])
def test_response_put_refused_with_503_is_retried_until_accepted(aws, tally, refusals):
    harness = run(aws, Injector([]), 4, refuse_puts=refusals)

    refused = sum(harness.server.refused.values())
    kind = f"Response PUT: answered 503 {'once' if refusals == 1 else f'{refusals} times'} per event, then accepted"
    tally.add(SUITE, kind, harness.events, harness.outcome(f"The response server refused {refused} PUTs"), EVENTS)
    assert harness.wrong == []
    assert harness.answered(AS_DECLARED) == Counter({CREATE: 4, UPDATE: 4, DELETE: 4})
    assert refused == refusals * 12


@pytest.mark.parametrize("budget", [4.0, 1.5])
def test_every_call_slowed_to_near_the_deadline(aws, tally, budget):
    """Each call 0.5 s late, and a Create's or an Update's deadline `budget` seconds away (the context's time less
    the handler's margins and the time such an event leaves the events that wait for it, `WAIT_RESERVE`): at 4 s the
    six Lambda and SSM calls of a Create or an Update (the most a life cycle here needs) fit; at 1.5 s a Create runs
    out of time before it writes its claim, so it fails having written nothing, and its rollback's Delete succeeds.
    Real time: slowness is the fault."""
    slow = [Fault("lambda", delay=0.5), Fault("ssm", delay=0.5)]
    margins = index.DEADLINE_MARGIN + index.CALL_TIMEOUT + config_events.WAIT_RESERVE

    harness = run(aws, Injector(slow), 4, context_seconds=margins + budget, warp=False, threads=4)

    kind = f"Lambda and SSM: every call 0.5 s late, a Create's or an Update's deadline {budget:g} s away"
    tally.add(SUITE, kind, harness.events, harness.outcome(), EVENTS)
    assert harness.wrong == []


def test_a_call_that_hangs_past_the_deadline_is_answered_by_the_watchdog_naming_the_function(aws, tally, monkeypatch):
    """The clients' call timeout shortened to 2 s (the handler's own is 20 s), and every Lambda call hung for 6 s:
    the watchdog answers FAILED before the handler's timeout."""
    monkeypatch.setattr(index, "CALL_TIMEOUT", 2.0)
    hung = [Fault("lambda", delay=6.0)]

    harness = run(aws, Injector(hung), 3, context_seconds=index.DEADLINE_MARGIN + 2.0 + 1.0, warp=False, threads=3)

    kind = "Lambda: every call hangs 6 s, past the deadline and the call timeout (watchdog)"
    tally.add(SUITE, kind, harness.events, harness.outcome(), EVENTS)
    assert harness.wrong == []
    assert harness.outcomes == Counter({(CREATE, FAILED_NAMED): 3, (DELETE_BACK, AS_DECLARED): 3})


LOAD = 200


def test_load_200_life_cycle_events_at_once_with_30_percent_throttled_none_lost(aws, tally):
    """200 functions, each phase (Create, Update, Delete) sent for all of them at once from 200 threads, 30% of
    Lambda calls throttled: every event answered, and each live config as declared after each phase."""
    names = functions(aws.endpoint, LOAD)
    queue = aws.queue()
    lam = aws.client("lambda")
    injector = Injector([Fault("lambda", share(0.3, seed=3), THROTTLED, 429, "Rate exceeded")])
    with ResponseServer() as server:
        server.stacks[STACK_ID] = StaticStack()
        harness = Harness(aws.endpoint, server, injector)
        harness.world.statements = synthesized_policy(names, STACK_ID)
        with ThreadPoolExecutor(LOAD) as pool:
            created = list(pool.map(lambda name: harness.send("Create", first_props(name, queue)), names))
            ids = [answer["PhysicalResourceId"] for answer in created]
            for name, answer in zip(names, created, strict=True):
                harness.judge(CREATE, answer, name, lam, first_props(name, queue))

            updated = list(
                pool.map(
                    lambda pair: harness.send(
                        "Update", second_props(pair[0]), physical_id=pair[1], old_properties=first_props(pair[0], queue)
                    ),
                    zip(names, ids, strict=True),
                )
            )
            for name, answer in zip(names, updated, strict=True):
                harness.judge(UPDATE, answer, name, lam, second_props(name))

            deleted = list(
                pool.map(
                    lambda pair: harness.send("Delete", second_props(pair[0]), physical_id=pair[1]),
                    zip(names, ids, strict=True),
                )
            )
            for name, answer in zip(names, deleted, strict=True):
                harness.judge(DELETE, answer, name, lam, None)

    kind = f"Load: {LOAD} life cycles, each phase's {LOAD} events at once, 30% of Lambda calls throttled"
    tally.add(SUITE, kind, harness.events, harness.outcome(), EVENTS)
    assert harness.world.denied == []
    assert harness.wrong == []
    assert harness.answered(AS_DECLARED) == Counter({CREATE: LOAD, UPDATE: LOAD, DELETE: LOAD})
