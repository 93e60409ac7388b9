"""Ordinary stack changes, each played as CloudFormation plays it (update phase in dependency order, the cleanup
phase, rollbacks with their own cleanup) against LocalStack, with every call the handler makes checked against the
handler role's policy as synthesized for that step. Each step asserts the live configs and their records."""

from __future__ import annotations

import threading
from typing import Any

import aws_cdk as cdk
import emulator
import iam
import index
import pytest
from async_invoke_config import AsyncInvokeConfig
from async_invoke_config.provider import Provider
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from cloudformation import Context
from constructs import Construct
from local_cloud import Deployment
from stack_harness import Harness
from test_construct import function

SCHEDULE = cdk.Duration.hours(1)


def explain(deployment: Deployment) -> str:
    lines = [f"{deployment.status} {deployment.failure}"]
    lines += [f"{s.phase} {s.request} {s.logical_id} {s.status} {s.answer.get('Reason', '')}" for s in deployment.sent]
    return "\n".join(lines)


def ok(deployment: Deployment, status: str) -> Deployment:
    assert deployment.status == status, explain(deployment)
    assert deployment.denied == [], explain(deployment)
    assert all(s.status == "SUCCESS" for s in deployment.sent), explain(deployment)
    return deployment


def owner(h: Harness, function: str, qualifier: str = "$LATEST") -> tuple[str, str] | None:
    """The record's owner as (stack, construct id): the logical id without CDK's hash suffix."""
    found = h.owner(function, qualifier)
    return (found[0], found[1][:-8]) if found else None


SETTINGS = ("retry_attempts", "max_event_age", "on_success", "on_failure")


def config(scope: Construct, id: str, function: Any, **props: Any) -> AsyncInvokeConfig:
    """A config; retrying once unless the test declares settings of its own."""
    defaults: dict[str, Any] = {} if any(name in props for name in SETTINGS) else {"retry_attempts": 1}
    return AsyncInvokeConfig(scope, id, function=function, **defaults, **props)


def worker(stack: cdk.Stack, name: str) -> lambda_.Function:
    """An in-stack function with the name given."""
    return function(stack, "Worker", name)


def broken(stack: cdk.Stack) -> None:
    """A resource the emulator refuses (an invalid queue name), so that the deploy fails and rolls back."""
    sqs.CfnQueue(stack, "Broken", queue_name="not a valid queue name!")


def test_adding_a_config_for_a_new_function_rides_out_iam_propagation(h):
    first, second = h.function("add-1"), h.function("add-2")
    ok(h.deploy("Add", lambda s: config(s, "First", first)), "CREATE_COMPLETE")
    h.stacks["Add"].cloud.propagation_lag = 2

    def two(s: cdk.Stack) -> None:
        config(s, "First", first)
        config(s, "Second", second, retry_attempts=0)

    deployment = ok(h.deploy("Add", two), "UPDATE_COMPLETE")

    refused = [
        resource for sent in deployment.sent for _, resource, verdict in sent.calls if verdict == iam.PROPAGATING
    ]
    assert len(refused) >= 2
    assert any(second in resource for resource in refused)
    assert h.live(second) == {"MaximumRetryAttempts": 0}
    assert h.live(first) == {"MaximumRetryAttempts": 1}
    assert (owner(h, first), owner(h, second)) == (("Add", "First"), ("Add", "Second"))


def test_removing_a_config_deletes_it_while_the_policy_still_allows_it(h):
    kept, removed = h.function("rm-kept"), h.function("rm-gone")

    def two(s: cdk.Stack) -> None:
        config(s, "Kept", kept)
        config(s, "Removed", removed)

    ok(h.deploy("Remove", two), "CREATE_COMPLETE")
    deployment = ok(h.deploy("Remove", lambda s: config(s, "Kept", kept)), "UPDATE_COMPLETE")

    cleanup = [
        (s.request, s.logical_id[:-8]) for s in deployment.sent if s.phase == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    ]
    assert cleanup == [("Delete", "Removed")]
    assert (h.live(removed), h.record(removed)) == (None, None)
    assert h.live(kept) == {"MaximumRetryAttempts": 1}
    assert owner(h, kept) == ("Remove", "Kept")


def test_removing_the_last_config_keeping_the_schedule(h):
    only = h.function("last")

    def one(s: cdk.Stack) -> None:
        config(s, "Only", only)
        AsyncInvokeConfig.configure_drift_check(s, schedule=SCHEDULE)

    ok(h.deploy("Last", one), "CREATE_COMPLETE")
    deployment = ok(
        h.deploy("Last", lambda s: AsyncInvokeConfig.configure_drift_check(s, schedule=SCHEDULE)), "UPDATE_COMPLETE"
    )

    assert [(s.request, s.logical_id[:-8]) for s in deployment.sent if s.request == "Delete"] == [("Delete", "Only")]
    assert (h.live(only), h.record(only)) == (None, None)
    assert h.stacks["Last"].cloud.handler_statements()  # the role keeps its (well-formed) inline policies
    assert all(statement["Resource"] for statement in h.stacks["Last"].cloud.handler_statements())


def test_retargeting_a_config_moves_it_and_deletes_the_old_one_in_cleanup(h):
    before, after = h.function("retarget-a"), h.function("retarget-b")
    ok(h.deploy("Retarget", lambda s: config(s, "Moving", before)), "CREATE_COMPLETE")

    deployment = ok(h.deploy("Retarget", lambda s: config(s, "Moving", after)), "UPDATE_COMPLETE")

    requests = [(s.phase, s.request) for s in deployment.sent if s.logical_id.startswith("Moving")]
    assert requests == [("UPDATE_IN_PROGRESS", "Update"), ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "Delete")]
    assert (h.live(before), h.record(before)) == (None, None)
    assert h.live(after) == {"MaximumRetryAttempts": 1}
    assert owner(h, after) == ("Retarget", "Moving")


def test_replacing_an_in_stack_function_configures_the_new_one_and_forgets_the_old(h):
    old_name, new_name = h.name("replaced-old"), h.name("replaced-new")

    def version(name: str) -> Any:
        def build(s: cdk.Stack) -> None:
            config(s, "WorkerAsync", worker(s, name))

        return build

    ok(h.deploy("Replace", version(old_name)), "CREATE_COMPLETE")
    ok(h.deploy("Replace", version(new_name)), "UPDATE_COMPLETE")

    assert (h.live(old_name), h.record(old_name)) == (None, None)
    assert h.live(new_name) == {"MaximumRetryAttempts": 1}
    assert owner(h, new_name) == ("Replace", "WorkerAsync")


@pytest.mark.parametrize("move", ["rename", "into another construct"])
def test_renaming_or_moving_the_construct_keeps_the_config(h, move):
    function = h.function("rename")
    ok(
        h.deploy("Rename", lambda s: config(s, "Before", function, max_event_age=cdk.Duration.minutes(5))),
        "CREATE_COMPLETE",
    )

    def moved(s: cdk.Stack) -> None:
        scope = Construct(s, "Group") if move != "rename" else s
        config(scope, "After", function, max_event_age=cdk.Duration.minutes(5))

    deployment = ok(h.deploy("Rename", moved), "UPDATE_COMPLETE")

    deletes = [s for s in deployment.sent if s.request == "Delete"]
    assert [s.logical_id[:-8] for s in deletes] == ["Before"]
    assert h.live(function) == {"MaximumEventAgeInSeconds": 300}
    assert owner(h, function) == ("Rename", "GroupAfter" if move != "rename" else "After")
    assert h.record(function).previous is None


def test_a_failed_rename_hands_the_config_back(h):
    function = h.function("rename-back")
    ok(h.deploy("RenameBack", lambda s: config(s, "Before", function, retry_attempts=0)), "CREATE_COMPLETE")

    def moved(s: cdk.Stack) -> None:
        config(s, "After", function, retry_attempts=2)
        broken(s)

    deployment = h.deploy("RenameBack", moved)

    assert deployment.status == "UPDATE_ROLLBACK_COMPLETE", explain(deployment)
    assert deployment.denied == []
    assert h.live(function) == {"MaximumRetryAttempts": 0}
    assert owner(h, function) == ("RenameBack", "Before")
    assert h.record(function).previous is None


def test_moving_a_config_to_another_stack_in_the_documented_order_keeps_it_live(h):
    function = h.function("move")
    ok(h.deploy("From", lambda s: config(s, "Config", function)), "CREATE_COMPLETE")
    ok(
        h.deploy("From", lambda s: config(s, "Config", function, removal_policy=cdk.RemovalPolicy.RETAIN)),
        "UPDATE_COMPLETE",
    )
    assert h.live(function) == {"MaximumRetryAttempts": 1}
    ok(h.deploy("From", lambda s: AsyncInvokeConfig.configure_drift_check(s, on_deploy=True)), "UPDATE_COMPLETE")
    assert (h.live(function), h.record(function)) == ({"MaximumRetryAttempts": 1}, None)

    ok(h.deploy("To", lambda s: config(s, "Config", function, retry_attempts=2)), "CREATE_COMPLETE")

    assert h.live(function) == {"MaximumRetryAttempts": 2}
    assert owner(h, function) == ("To", "Config")


def test_the_same_function_from_two_stacks_is_refused_naming_the_owner(h):
    function = h.function("shared")
    ok(h.deploy("Owner", lambda s: config(s, "Config", function, retry_attempts=0)), "CREATE_COMPLETE")

    deployment = h.deploy("Intruder", lambda s: config(s, "Config", function, retry_attempts=2))

    assert deployment.status == "ROLLBACK_COMPLETE", explain(deployment)
    assert deployment.denied == []
    (failed,) = [s for s in deployment.sent if s.status == "FAILED"]
    assert "owned by resource Config" in failed.answer["Reason"] and "of stack Owner" in failed.answer["Reason"]
    assert h.live(function) == {"MaximumRetryAttempts": 0}
    assert owner(h, function) == ("Owner", "Config")


@pytest.mark.parametrize("when", ["stack create", "stack update"])
def test_a_rollback_after_adopting_a_config_puts_it_back_as_found(h, when):
    function = h.function("adopted")
    h.aws.client("lambda").put_function_event_invoke_config(
        FunctionName=function, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=600
    )
    if when == "stack update":
        other = h.function("adopted-other")
        ok(h.deploy("Adopt", lambda s: config(s, "Other", other)), "CREATE_COMPLETE")

    def adopting(s: cdk.Stack) -> None:
        if when == "stack update":
            config(s, "Other", other)
        config(s, "Adopted", function, retry_attempts=0)
        broken(s)

    deployment = h.deploy("Adopt", adopting)

    assert deployment.status == ("ROLLBACK_COMPLETE" if when == "stack create" else "UPDATE_ROLLBACK_COMPLETE")
    assert deployment.denied == [], explain(deployment)
    assert [s.request for s in deployment.sent if s.logical_id.startswith("Adopted")] == ["Create", "Delete"]
    assert h.live(function) == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600}
    assert h.record(function) is None


def test_a_repeated_create_and_delete_keep_the_config_as_found(h):
    function = h.function("repeat")
    h.aws.client("lambda").put_function_event_invoke_config(FunctionName=function, MaximumRetryAttempts=2)
    ok(h.deploy("Repeat", lambda s: config(s, "Config", function, retry_attempts=0)), "CREATE_COMPLETE")
    stack = h.stacks["Repeat"]
    (logical_id, resource) = next(iter(stack.cloud.configs().items()))

    def send(request: str, **kwargs: Any) -> dict:
        event = h.server.event(
            request, resource.properties, logical_id=logical_id, stack_id=stack.cloud.stack_id, **kwargs
        )
        calls = stack.handler.invoke(event, stack.cloud.world())
        assert [c for c in calls if c[2] == iam.DENIED] == []
        (answer,) = h.server.answers(event)
        return answer

    late = send("Create")  # delivered again once the stack is done: it changes nothing and says so
    assert late["Status"] == "FAILED" and "delivered late" in late["Reason"], late
    assert h.record(function).prior is not None
    assert h.live(function) == {"MaximumRetryAttempts": 0}
    for _ in range(2):
        assert send("Delete", physical_id=resource.physical_id)["Status"] == "SUCCESS"
        assert (h.live(function), h.record(function)) == ({"MaximumRetryAttempts": 2}, None)


def test_a_function_deleted_out_of_band_fails_only_deploys_that_still_declare_it(h):
    gone, kept = h.function("oob-gone"), h.function("oob-kept")

    def both(s: cdk.Stack) -> None:
        config(s, "Gone", gone)
        config(s, "Kept", kept)

    ok(h.deploy("OutOfBand", both), "CREATE_COMPLETE")
    h.stacks["OutOfBand"].cloud.gone.add(gone)

    failed = h.deploy("OutOfBand", both)
    assert failed.status == "UPDATE_ROLLBACK_COMPLETE", explain(failed)
    assert failed.denied == []
    assert gone in failed.sent[0].answer["Reason"] and "The function doesn't exist" in failed.sent[0].answer["Reason"]

    ok(h.deploy("OutOfBand", lambda s: config(s, "Kept", kept)), "UPDATE_COMPLETE")
    assert h.record(gone) is None
    assert owner(h, kept) == ("OutOfBand", "Kept")


@pytest.mark.parametrize("qualifier", ["live", "1"])
def test_a_config_on_an_alias_or_version_of_the_stack_named_by_qualifier_deploys_first_time(h, qualifier):
    name = h.name(f"qualified-{qualifier}")

    def build(s: cdk.Stack) -> None:
        fn = worker(s, name)
        lambda_.Alias(s, "Live", alias_name="live", version=fn.current_version)
        config(s, "Qualified", fn, qualifier=qualifier, retry_attempts=0)

    ok(h.deploy("Qualified", build), "CREATE_COMPLETE")

    assert h.live(name, qualifier) == {"MaximumRetryAttempts": 0}
    assert owner(h, name, qualifier) == ("Qualified", "Qualified")


def test_without_the_wait_for_the_alias_the_first_deploy_fails(h, monkeypatch):
    """The local CloudFormation runs a config as soon as its dependencies allow: the check above is not luck."""
    monkeypatch.setattr(Provider, "wait_for_qualifiers", lambda self: None)
    name = h.name("unwaited")

    def build(s: cdk.Stack) -> None:
        fn = worker(s, name)
        lambda_.Alias(s, "Live", alias_name="live", version=fn.current_version)
        config(s, "Qualified", fn, qualifier="live")

    assert h.deploy("Unwaited", build).status == "ROLLBACK_COMPLETE"


@pytest.mark.parametrize(
    ("drift", "pause_at"),
    [
        ({"MaximumRetryAttempts": 2}, "UpdateFunctionEventInvokeConfig"),
        ({"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 90}, "PutFunctionEventInvokeConfig"),
        ({"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 90}, "GetFunctionEventInvokeConfig"),
    ],
    ids=["delete before an update", "delete before a put", "whole removal deploy after the read"],
)
def test_a_scheduled_check_meeting_a_delete_does_not_bring_the_config_back(h, aws, drift, pause_at):
    """A scheduled check has read the config's record and is about to write (an Update of a field, or a Put that
    removes one and would create the config anew), or has only read it, when the config is removed: its Delete runs
    (or the whole deploy, its cleanup deleting the policy too)."""
    function = h.function("race")

    def one(s: cdk.Stack) -> None:
        config(s, "Config", function, retry_attempts=0)
        AsyncInvokeConfig.configure_drift_check(s, schedule=SCHEDULE)

    ok(h.deploy("Race", one), "CREATE_COMPLETE")
    stack = h.stacks["Race"]
    aws.client("lambda").put_function_event_invoke_config(FunctionName=function, **drift)
    paused, go = threading.Event(), threading.Event()
    world = stack.cloud.world()

    def pause(model: Any, **_: Any) -> None:
        if model.name == pause_at and not paused.is_set():
            paused.set()
            go.wait(30)

    def clients(service: str) -> Any:
        client = emulator.client(h.server.url, "cloudformation") if service == "cloudformation" else aws.client(service)
        iam.install(client, world)
        if service == "lambda":
            client.meta.events.register("before-call", pause)
        return client

    summary: dict[str, Any] = {}

    def scheduled() -> None:
        event = {"AsyncInvokeConfigDriftCheck": {"StackId": stack.cloud.stack_id}}
        summary.update(index.on_event(event, Context(), clients=clients) or {})

    check = threading.Thread(target=scheduled)
    check.start()
    assert paused.wait(30)
    if pause_at == "GetFunctionEventInvokeConfig":
        ok(h.deploy("Race", lambda s: AsyncInvokeConfig.configure_drift_check(s, schedule=SCHEDULE)), "UPDATE_COMPLETE")
        world.statements = stack.cloud.handler_statements()  # the policy no longer names the function
    else:
        (logical_id, resource) = next(iter(stack.cloud.configs().items()))
        event = h.server.event(
            "Delete",
            resource.properties,
            logical_id=logical_id,
            physical_id=resource.physical_id,
            stack_id=stack.cloud.stack_id,
        )
        stack.handler.invoke(event, stack.cloud.world())
    assert (h.live(function), h.record(function)) == (None, None)
    go.set()
    check.join(60)

    assert summary  # the check ended without an error
    assert (h.live(function), h.record(function)) == (None, None)
    if pause_at == "GetFunctionEventInvokeConfig":  # the record, still readable (the stack's own), is gone: skipped
        assert summary["summary"].endswith("1 skipped"), summary
    assert world.denied == []
