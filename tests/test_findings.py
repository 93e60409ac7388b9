"""Issue 15's nine findings, each reproduced as it was measured: the handler against LocalStack (or the local
CloudFormation), with a Lambda or SSM call paused where the finding needs another event to come in between. Each test
failed on the handler before the claim protocol of this version (one item per config created only if absent, a lock
per config resource, releases that give back before they let go, stale claims taken over)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import aws_cdk as cdk
import emulator
import iam
import index
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from cloudformation import Context, ResponseServer, StaticStack, new_stack_id
from contract import claim_name
from natives import create_function
from stack_harness import claims_of, retained, synthesized_policy
from test_scenarios import config, explain, ok

BORROWED = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600}


class Pausing:
    """Clients of one stack's handler, every call checked against the stack's policy; an event can be made to stop
    before a chosen call (`pause`) until the test lets it go on."""

    def __init__(self, aws: Any, server: ResponseServer, stack_id: str, functions: list[Any]) -> None:
        self.aws = aws
        self.server = server
        self.stack_id = stack_id
        self.world = iam.World(synthesized_policy(functions, stack_id))
        self.stops: dict[str, tuple[threading.Event, threading.Event]] = {}
        self.local = threading.local()
        self.stale_reads = False  # every read misses the claims (as an eventually consistent read may)

    def client(self, service: str) -> Any:
        endpoint = self.server.url if service == "cloudformation" else self.aws.endpoint
        made = iam.install(emulator.client(endpoint, service), self.world)
        made.meta.events.register_first("before-call", self._maybe_stop)
        if service == "ssm" and self.stale_reads:
            made.meta.events.register("before-parameter-build", _remember)
            made.meta.events.register_first("before-call", _stale)
        return made

    def _maybe_stop(self, model: Any, **_: Any) -> None:
        stop = self.stops.get(f"{getattr(self.local, 'name', '')}:{model.name}")
        if stop is not None and not stop[0].is_set():
            stop[0].set()
            assert stop[1].wait(60)

    def pause(self, name: str, operation: str) -> tuple[threading.Event, threading.Event]:
        """The event run as `name` stops before its first `operation`: (it stopped, let it go on)."""
        self.stops[f"{name}:{operation}"] = (threading.Event(), threading.Event())
        return self.stops[f"{name}:{operation}"]

    def run(self, name: str, request: str, properties: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        event = self.server.event(request, properties, stack_id=self.stack_id, **kwargs)
        self.local.name = name
        index.on_event(event, Context(), clients=self.client)
        return self.server.answers(event)[0]

    def start(self, name: str, request: str, properties: dict[str, Any], **kwargs: Any) -> Callable[[], dict]:
        """The event in a thread of its own; returns what waits for its answer."""
        answer: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: answer.update(self.run(name, request, properties, **kwargs)))
        thread.start()

        def joined() -> dict[str, Any]:
            thread.join(120)
            return answer

        return joined


def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["stale_params"] = dict(params)


def _stale(model: Any, context: dict[str, Any], **_: Any) -> Any:
    """A read of claims that misses them all (the resource's lock is read as it is)."""
    names = context.get("stale_params", {})
    if model.name == "GetParameter" and "/locks/" not in names.get("Name", ""):
        error = {"Error": {"Code": "ParameterNotFound", "Message": "not found"}, "ResponseMetadata": {}}
        return AWSResponse("https://stale.invalid", 400, HTTPHeaders(), None), error
    if model.name == "GetParameters":
        return AWSResponse("https://stale.invalid", 200, HTTPHeaders(), None), {
            "Parameters": [],
            "InvalidParameters": names.get("Names", []),
        }
    if model.name == "GetParametersByPath":
        return AWSResponse("https://stale.invalid", 200, HTTPHeaders(), None), {"Parameters": []}
    return None


@pytest.fixture
def server() -> Iterator[ResponseServer]:
    with ResponseServer() as running:
        yield running


def stack_of(server: ResponseServer, name: str, status: str) -> tuple[str, StaticStack]:
    stack_id = new_stack_id(name)
    server.stacks[stack_id] = view = StaticStack(status)
    return stack_id, view


def settings(aws: Any, function: str) -> dict[str, Any] | None:
    lam = aws.client("lambda")
    try:
        found = lam.get_function_event_invoke_config(FunctionName=function, Qualifier="$LATEST")
    except lam.exceptions.ResourceNotFoundException:
        return None
    return {key: found[key] for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if key in found}


def claims(aws: Any, function: str) -> list[Any]:
    """Every claim of the config (its first, and those that succeeded it)."""
    ssm = aws.client("ssm")
    base = claim_name(f"arn:aws:lambda:us-east-1:000000000000:function:{function}:$LATEST")
    found = ssm.get_parameters_by_path(Path=base, Recursive=True)["Parameters"]
    first = claims_of(ssm).get(base)
    return ([first] if first else []) + [json.loads(parameter["Value"]) for parameter in found]


def properties(function: str, retries: int = 0) -> dict[str, Any]:
    return {"Function": function, "RetryAttempts": retries}


# 1. A cancelled Create races its own Delete: the Delete wins whenever it arrives.


@pytest.mark.parametrize("when", ["before the Create", "between claim and write", "after the Create", "duplicate"])
def test_1_a_cancelled_create_races_its_own_delete_and_the_delete_wins(aws, server, when):
    function = f"f1-{uuid.uuid4().hex[:8]}"
    create_function(aws.client("lambda"), function)
    aws.client("lambda").put_function_event_invoke_config(FunctionName=function, **BORROWED)
    stack_id, view = stack_of(server, "Cancelled", "CREATE_IN_PROGRESS")
    handler = Pausing(aws, server, stack_id, [function])
    declared = properties(function)
    generated = f"Cancelled-Config-{uuid.uuid4().hex[:12]}"  # CloudFormation's id: the Create never answered

    def delete() -> dict[str, Any]:
        view.status = "ROLLBACK_IN_PROGRESS"  # another resource failed: the Create is cancelled
        return handler.run("delete", "Delete", declared, physical_id=generated)

    if when == "before the Create":
        deleted = delete()
        created = handler.run("create", "Create", declared)
    elif when == "between claim and write":
        stopped, go_on = handler.pause("create", "PutFunctionEventInvokeConfig")
        answer = handler.start("create", "Create", declared)
        assert stopped.wait(60)
        view.status = "ROLLBACK_IN_PROGRESS"
        later = handler.start("delete", "Delete", declared, physical_id=generated)
        go_on.set()
        created, deleted = answer(), later()
    else:
        created = handler.run("create", "Create", declared)
        deleted = delete()
        if when == "duplicate":
            view.status = "ROLLBACK_COMPLETE"
            created = handler.run("create again", "Create", declared)

    assert deleted["Status"] == "SUCCESS", deleted
    assert settings(aws, function) == BORROWED  # as found: borrowed, and put back
    assert claims(aws, function) == []
    assert handler.world.denied == []
    if when != "after the Create":
        assert created["Status"] == "FAILED" and "cancelled or delivered late" in created["Reason"], created


def test_1_a_create_that_waited_for_its_copy_while_its_delete_was_answered_changes_nothing(aws, server):
    """A Create delivered twice: the copy holds the resource's lock, the stack fails elsewhere, the copy undoes
    itself and the Delete is answered (CloudFormation then deletes the grants); the first delivery, which waited for
    the lock all along, must not write once it has it (seen at interleaving seed 37)."""
    function = f"f1w-{uuid.uuid4().hex[:8]}"
    create_function(aws.client("lambda"), function)
    aws.client("lambda").put_function_event_invoke_config(FunctionName=function, **BORROWED)
    stack_id, view = stack_of(server, "Waited", "CREATE_IN_PROGRESS")
    handler = Pausing(aws, server, stack_id, [function])
    declared = properties(function)
    copy_stopped, copy_go_on = handler.pause("copy", "GetFunctionEventInvokeConfig")
    copy = handler.start("copy", "Create", declared)
    assert copy_stopped.wait(60)  # the copy holds the lock
    waiting, go_on = handler.pause("create", "GetParameter")  # its first read of the lock another event holds
    original = handler.start("create", "Create", declared)
    assert waiting.wait(60)

    view.status = "ROLLBACK_IN_PROGRESS"
    copy_go_on.set()
    undone = copy()
    deleted = handler.run("delete", "Delete", declared, physical_id=f"Waited-Config-{uuid.uuid4().hex[:12]}")
    handler.world.statements = [  # the rollback goes on: the config answered, the policy that grants it is deleted
        statement for statement in handler.world.statements if "lambda:" not in json.dumps(statement["Action"])
    ]
    go_on.set()
    created = original()

    assert undone["Status"] == "FAILED" and deleted["Status"] == "SUCCESS", (undone, deleted)
    assert created["Status"] == "FAILED" and "cancelled as it waited" in created["Reason"], created
    assert settings(aws, function) == BORROWED
    assert claims(aws, function) == []
    assert handler.world.denied == []


# 2. A stack's Delete races another stack's claim: the config is given back before the claim is released.


def test_2_a_stack_delete_never_removes_a_config_another_stack_now_owns(aws, server):
    function = f"f2-{uuid.uuid4().hex[:8]}"
    create_function(aws.client("lambda"), function)
    first_id, first_view = stack_of(server, "First", "CREATE_IN_PROGRESS")
    second_id, _ = stack_of(server, "Second", "CREATE_IN_PROGRESS")
    first = Pausing(aws, server, first_id, [function])
    second = Pausing(aws, server, second_id, [function])
    assert first.run("create", "Create", properties(function, 0))["Status"] == "SUCCESS"
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function}:$LATEST"
    first_view.status = "DELETE_IN_PROGRESS"

    stopped, go_on = first.pause("delete", "DeleteFunctionEventInvokeConfig")
    deleting = first.start("delete", "Delete", properties(function, 0), physical_id=arn)
    assert stopped.wait(60)
    claimed = second.run("create", "Create", properties(function, 2))  # while the first stack's Delete runs
    go_on.set()
    deleted = deleting()

    assert deleted["Status"] == "SUCCESS"
    assert claimed["Status"] == "FAILED" and "owned by" in claimed["Reason"]  # refused: the first still owned it
    assert settings(aws, function) is None  # the first stack created it, and deleted it
    assert claims(aws, function) == []
    retried = second.run("create again", "Create", properties(function, 2))  # once the first let go
    assert retried["Status"] == "SUCCESS"
    assert settings(aws, function) == {"MaximumRetryAttempts": 2}
    (owner,) = claims(aws, function)
    assert owner.owner.stack_id == second_id and owner.prior is None  # not the first stack's settings as found


# 3. A rollback that cannot write completes; a Delete too.


def test_3_a_rollback_whose_function_is_gone_completes(h):
    gone, kept = h.function("rb-gone"), h.function("rb-kept")

    def both(retries: int) -> Callable[[cdk.Stack], None]:
        def build(stack: cdk.Stack) -> None:
            config(stack, "Gone", gone, retry_attempts=retries)
            config(stack, "Kept", kept, retry_attempts=retries)

        return build

    ok(h.deploy("RollbackGone", both(0)), "CREATE_COMPLETE")
    h.stacks["RollbackGone"].cloud.gone.add(gone)

    changed = h.deploy("RollbackGone", both(2))

    assert changed.status == "UPDATE_ROLLBACK_COMPLETE", explain(changed)
    assert changed.denied == []
    assert h.live(kept) == {"MaximumRetryAttempts": 0}
    destroyed = h.stacks["RollbackGone"].cloud.destroy()
    assert destroyed.status == "DELETE_COMPLETE", explain(destroyed)
    assert (h.record(gone), h.record(kept), h.live(kept)) == (None, None, None)


# 4. A stale claim is taken over, with a log line naming the old owner.


@pytest.mark.parametrize("who", ["the same app, redeployed", "another stack"])
def test_4_a_claim_whose_stack_is_gone_is_taken_over(h, who, caplog):
    function = h.function("stale")
    ok(h.deploy("Retaining", retained(lambda s: config(s, "Config", function, retry_attempts=0))), "CREATE_COMPLETE")
    old = h.stacks.pop("Retaining")
    assert old.cloud.destroy().status == "DELETE_COMPLETE"  # the config resource retained: no Delete was sent
    assert h.record(function).owner.stack_id == old.cloud.stack_id

    name = "Retaining" if who.startswith("the same") else "Other"
    taking = ok(h.deploy(name, lambda s: config(s, "Config", function, retry_attempts=2)), "CREATE_COMPLETE")

    record = h.record(function)
    assert record.owner.stack_id != old.cloud.stack_id
    assert record.prior == from_live({"MaximumRetryAttempts": 0})  # borrowed: as the gone owner left it
    assert h.live(function) == {"MaximumRetryAttempts": 2}
    assert taking.denied == []
    lines = [json.loads(line) for line in logs(h) if "stale_claim_taken_over" in line]
    assert lines and old.cloud.stack_id in lines[0]["previous_owner"]


def logs(h: Any) -> list[str]:
    return [line for stack in h.stacks.values() for line in stack.handler.log_lines]


def from_live(fields: dict[str, Any]) -> Any:
    from settings import from_api

    return from_api(fields)


# 5. Two claims at once: the service decides, whatever a read just returned.


def test_5_two_claims_at_once_cannot_both_win_even_when_reads_are_stale(aws, server):
    """Parameter Store reads are eventually consistent: here every read of a claim misses one that was just written
    (as ~1% of reads do in AWS). Two stacks claim one config at once; the service lets one create the claim."""
    function = f"f5-{uuid.uuid4().hex[:8]}"
    create_function(aws.client("lambda"), function)
    first_id, _ = stack_of(server, "Left", "CREATE_IN_PROGRESS")
    second_id, _ = stack_of(server, "Right", "CREATE_IN_PROGRESS")
    left = Pausing(aws, server, first_id, [function])
    right = Pausing(aws, server, second_id, [function])
    for handler in (left, right):
        handler.stale_reads = True
    stopped, go_on = left.pause("left", "PutParameter")  # its lock's
    answer = left.start("left", "Create", properties(function, 0))
    assert stopped.wait(60)
    go_on.set()
    answers = [answer(), right.run("right", "Create", properties(function, 2))]

    winners = [a for a in answers if a["Status"] == "SUCCESS"]
    assert len(winners) <= 1, answers
    assert len(claims(aws, function)) == len(winners)


# 6. Exact grants: a hand-made event naming a function no config declares changes nothing.


def test_6_a_hand_made_event_for_an_undeclared_function_changes_nothing(aws, server):
    declared = [f"billing-{index:03d}-{uuid.uuid4().hex[:6]}" for index in range(120)]
    neighbour = f"{declared[0]}-ledger"  # another team's function, whose name starts with a declared one
    create_function(aws.client("lambda"), neighbour)
    aws.client("lambda").put_function_event_invoke_config(FunctionName=neighbour, **BORROWED)
    stack_id, _ = stack_of(server, "Billing", "UPDATE_IN_PROGRESS")
    handler = Pausing(aws, server, stack_id, declared)

    answer = handler.run("hand-made", "Create", properties(neighbour, 0))

    assert answer["Status"] == "FAILED" and "not authorized" in answer["Reason"], answer
    assert settings(aws, neighbour) == BORROWED
    assert claims(aws, neighbour) == []


# 7. No event is dropped: one that waited past the handler's maximum event age is run again, and answered.


def test_7_an_event_that_expired_in_the_queue_is_still_answered(aws, server):
    function = f"f7-{uuid.uuid4().hex[:8]}"
    create_function(aws.client("lambda"), function)
    stack_id, _ = stack_of(server, "Throttled", "CREATE_IN_PROGRESS")
    handler = Pausing(aws, server, stack_id, [function])
    event = server.event("Create", properties(function, 1), stack_id=stack_id)
    record = {  # what Lambda sends the handler's on-failure destination for an event it dropped
        "version": "1.0",
        "timestamp": "2026-12-03T10:00:00.000Z",
        "requestContext": {"requestId": "r", "condition": "EventAgeExceeded", "approximateInvokeCount": 0},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
    }

    index.on_expired(record, Context(), clients=handler.client)

    (answer,) = server.answers(event)
    assert answer["Status"] == "SUCCESS"
    assert settings(aws, function) == {"MaximumRetryAttempts": 1}


# 8. Claims carry the account and region of the function they configure.


def test_8_a_function_of_another_account_or_region_and_a_local_one_of_its_name_have_claims_of_their_own(aws, server):
    function = f"f8-{uuid.uuid4().hex[:8]}"
    create_function(aws.client("lambda"), function)
    foreign = f"arn:aws:lambda:eu-west-1:222222222222:function:{function}"
    there_id = "arn:aws:cloudformation:eu-west-1:222222222222:stack/There/" + str(uuid.uuid4())
    here_id, _ = stack_of(server, "Here", "CREATE_IN_PROGRESS")

    assert claim_name(f"{foreign}:$LATEST") != claim_name(
        f"arn:aws:lambda:us-east-1:000000000000:function:{function}:$LATEST"
    )
    ssm = aws.client("ssm")  # a claim of the foreign function, as its own stack left it
    ssm.put_parameter(
        Name=claim_name(f"{foreign}:$LATEST"),
        Value=json.dumps({"owner": [there_id, "Config"], "declared": {"MaximumRetryAttempts": 0}, "id": "x"}),
        Type="String",
    )
    answer = Pausing(aws, server, here_id, [function]).run("here", "Create", properties(function, 1))

    assert answer["Status"] == "SUCCESS", answer  # not refused as "owned by" the other account's stack


# 9. Claims are Standard parameters, and say so.


def test_9_every_parameter_the_handler_writes_is_standard(aws, server):
    function = f"f9-{uuid.uuid4().hex[:8]}"
    create_function(aws.client("lambda"), function)
    stack_id, view = stack_of(server, "Tiers", "CREATE_IN_PROGRESS")
    handler = Pausing(aws, server, stack_id, [function])
    puts: list[dict[str, Any]] = []
    client = handler.client

    def recording(service: str) -> Any:
        made = client(service)
        if service == "ssm":
            made.meta.events.register("provide-client-params.ssm.PutParameter", lambda params, **_: puts.append(params))
        return made

    handler.client = recording  # type: ignore[method-assign]
    assert handler.run("create", "Create", properties(function, 1))["Status"] == "SUCCESS"
    view.status = "DELETE_IN_PROGRESS"
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function}:$LATEST"
    assert handler.run("delete", "Delete", properties(function, 1), physical_id=arn)["Status"] == "SUCCESS"

    assert puts and all(params.get("Tier") == "Standard" for params in puts), puts
