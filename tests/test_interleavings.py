"""The scenario matrix's paths under many schedules: CloudFormation's concurrency played by the local CloudFormation
(independent resources at once, cancelled Creates and Updates with their Deletes and rollbacks sent at once, events
now and then delivered twice, two stacks deploying together), every interleaving of the handler's calls decided by a
seed. After each schedule the invariants of tests/interleavings.py hold; a failure names its seed, and
`INTERLEAVING_SEEDS=<seed>` replays exactly that schedule."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from async_invoke_config import AsyncInvokeConfig
from interleavings import PLACEHOLDER, seeds, template, world
from stack_harness import retained


def configs(count: int, retry: int = 1, retain: bool = False) -> Any:
    def build(stack: cdk.Stack) -> None:
        for index in range(count):
            AsyncInvokeConfig(
                stack,
                f"Config{index}",
                function=f"{PLACEHOLDER}{index}",
                retry_attempts=(index + retry) % 3,
                removal_policy=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY,
            )

    return build


BORROWED = {1: {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600}}


@pytest.mark.parametrize("seed", seeds(40))
def test_a_failed_stack_create_cancels_the_creates_still_running(aws, server, seed):
    """Four configs created at once, one on a function that does not exist: its Create fails, the others still
    running are cancelled and their Deletes sent at once, while they may still run."""
    w = world(aws, server, seed)
    w.functions(3, existing=BORROWED, missing=1)

    (deployment,) = w.deploy(("A", template("create-4", configs(4))))

    assert deployment.status == "ROLLBACK_COMPLETE", deployment.failure
    w.check()


def changes(stack: cdk.Stack) -> None:
    """The update of `configs(3)`: Config0 changes its settings, Config1 is renamed (Moved1), Config2 moves to
    function 4, and Config3 is added on function 3."""
    AsyncInvokeConfig(
        stack, "Config0", function=f"{PLACEHOLDER}0", retry_attempts=2, max_event_age=cdk.Duration.minutes(5)
    )
    AsyncInvokeConfig(stack, "Moved1", function=f"{PLACEHOLDER}1", retry_attempts=2)
    AsyncInvokeConfig(stack, "Config2", function=f"{PLACEHOLDER}4", retry_attempts=0)
    AsyncInvokeConfig(stack, "Config3", function=f"{PLACEHOLDER}3", retry_attempts=1)


def failing(build: Any, function: int) -> Any:
    """`build`, plus a config on a function that does not exist: its event fails, the update with it."""

    def both(stack: cdk.Stack) -> None:
        build(stack)
        AsyncInvokeConfig(stack, "Doomed", function=f"{PLACEHOLDER}{function}", retry_attempts=0)

    return both


@pytest.mark.parametrize("seed", seeds(40))
def test_an_update_that_fails_rolls_back_every_change_however_its_events_interleave(aws, server, seed):
    """An update that changes, renames, retargets and adds configs at once fails: the Updates and Creates still
    running are cancelled (rollback Updates and Deletes sent at once), the others rolled back."""
    w = world(aws, server, seed)
    w.functions(5, existing=BORROWED, missing=1)
    (created,) = w.deploy(("A", template("configs-3", configs(3))))
    assert created.status == "CREATE_COMPLETE", created.failure

    (updated,) = w.deploy(("A", template("changes-failing", failing(changes, 5))))

    assert updated.status == "UPDATE_ROLLBACK_COMPLETE", updated.failure
    w.check()


@pytest.mark.parametrize("seed", seeds(40))
def test_an_update_that_succeeds_moves_every_config_however_its_events_interleave(aws, server, seed):
    w = world(aws, server, seed)
    w.functions(5, existing=BORROWED)
    w.deploy(("A", template("configs-3", configs(3))))

    (updated,) = w.deploy(("A", template("changes", changes)))

    assert updated.status == "UPDATE_COMPLETE", updated.failure
    w.check()
    (destroyed,) = w.deploy(("A", None))
    assert destroyed.status == "DELETE_COMPLETE"
    w.check()


@pytest.mark.parametrize("seed", seeds(40))
def test_two_stacks_claiming_the_same_configs_at_once_end_with_one_owner_each(aws, server, seed):
    """Two stacks declare the same three configs and deploy together: for each config one claim wins (the other
    stack's Create is refused and that stack rolls back), never both."""
    w = world(aws, server, seed)
    w.functions(3, existing=BORROWED)

    first, second = w.deploy(("A", template("configs-3", configs(3))), ("B", template("configs-3b", configs(3, 2))))

    assert {first.status, second.status} <= {"CREATE_COMPLETE", "ROLLBACK_COMPLETE"}, (first.failure, second.failure)
    for deployment in (first, second):  # a stack fails only where the other owns a config
        assert deployment.status == "CREATE_COMPLETE" or "owned by" in deployment.failure, deployment.failure
    w.check()


@pytest.mark.parametrize("seed", seeds(40))
def test_a_stack_deleted_while_another_claims_its_configs(aws, server, seed):
    """Stack A is deleted while stack B, declaring the same configs, deploys: B is refused while A holds a config,
    or claims it once A gave it back; never is a config B owns deleted, nor does B take A's settings as found."""
    w = world(aws, server, seed)
    w.functions(3, existing=BORROWED)
    w.deploy(("A", template("configs-3", configs(3))))

    destroyed, claimed = w.deploy(("A", None), ("B", template("configs-3b", configs(3, 2))))

    assert destroyed.status == "DELETE_COMPLETE"
    assert claimed.status in ("CREATE_COMPLETE", "ROLLBACK_COMPLETE"), claimed.failure
    w.check()


@pytest.mark.parametrize("seed", seeds(40))
def test_stale_claims_are_taken_over_by_one_stack_only(aws, server, seed):
    """Stack A is deleted with its config resources retained (DeletionPolicy Retain, as an organisation's aspect
    sets it): its claims stay, naming a stack that is gone. Stacks B and C then declare the same configs at once:
    each config is taken over, as found then, by exactly one of them."""
    w = world(aws, server, seed)
    w.functions(3, existing=BORROWED)
    w.deploy(("A", template("configs-3-retained", retained(configs(3)))))
    w.deploy(("A", None))
    w.found = {function: w.live(function) for function in w.found}  # as A left them: what B or C borrows

    second, third = w.deploy(("B", template("configs-3b", configs(3, 2))), ("C", template("configs-3c", configs(3, 1))))

    assert {second.status, third.status} <= {"CREATE_COMPLETE", "ROLLBACK_COMPLETE"}
    assert "CREATE_COMPLETE" in {second.status, third.status} or all("owned by" in d.failure for d in (second, third))
    w.stale = set(w.found)  # A's claims stay, superseded
    w.check()
    won = "CREATE_COMPLETE" in {second.status, third.status}
    for function in w.found:  # A's, and the one that succeeded it (none if both stacks rolled back)
        assert len(w.claims(function)) == (2 if won else 1), w.claims(function)
