"""Groups (`Custom::LambdaAsyncInvokeConfigs`) under CloudFormation's concurrency, played as tests/test_interleavings.py
plays config resources: a stack whose configs are carried in two or more groups (the groups' capacity lowered to a
few members) deployed while another resource fails, an update that moves members between groups and drops some
(succeeding, and failing into a rollback), and two stacks claiming the same functions, one through groups, one with
configs of their own. Events are delivered twice now and then, at once or late; the invariants are
tests/interleavings.py's, a member owned as `<group>/<key>`."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from async_invoke_config import AsyncInvokeConfig
from constructs import Construct
from contract import GROUP_TYPE
from interleavings import PLACEHOLDER, World, seeds, template, world
from test_interleavings import BORROWED, configs

CAPACITY = 3  # members per group in these templates: five configs make two groups, eight make three


def carried(functions: list[int], retry: int = 1, doomed: int | None = None) -> Any:
    """Configs of `functions` (by name) carried together, their settings varying with the function; and, when
    `doomed` names a function that does not exist, a config of its own on it, whose Create or Update fails."""

    def build(stack: cdk.Stack) -> None:
        if doomed is not None:
            AsyncInvokeConfig(stack, "Doomed", function=f"{PLACEHOLDER}{doomed}", retry_attempts=0)
        scope = Construct(stack, "Carried")
        AsyncInvokeConfig.carry_together(scope)
        for index in functions:
            AsyncInvokeConfig(
                scope,
                f"Config{index}",
                function=f"{PLACEHOLDER}{index}",
                retry_attempts=(index + retry) % 3,
                max_event_age=cdk.Duration.minutes(10 + index),
            )

    return build


def grouped(key: str, build: Any) -> dict[str, Any]:
    body = template(key, build, capacity=CAPACITY)
    count = sum(resource["Type"] == GROUP_TYPE for resource in body["Resources"].values())
    assert count >= 2, f"{key}: {count} group(s)"
    return body


def groups_of(w: World, stack: str) -> dict[str, Any]:
    return {key: r for key, r in w.stack(stack).resources.items() if r.resource_type == GROUP_TYPE}


@pytest.mark.parametrize("seed", seeds(10))
def test_a_failed_stack_create_cancels_the_group_still_running(aws, server, seed):
    """Five configs carried in two groups (chained) and a config of its own on a function that does not exist,
    created at once: that Create fails, the group still running is cancelled and its Delete sent at once (with a
    generated physical id) while it may still run; the group not yet started never is."""
    w = world(aws, server, seed)
    w.functions(5, existing=BORROWED, missing=1)

    (deployment,) = w.deploy(("A", grouped("groups-5-doomed", carried(list(range(5)), doomed=5))))

    assert deployment.status == "ROLLBACK_COMPLETE", deployment.failure
    w.check()


BEFORE = [0, 1, 2, 3, 4]  # two groups
AFTER = [2, 3, 4, 5, 6, 7, 8]  # three groups: members move between groups; 0 and 1 are dropped, 5 to 8 added


@pytest.mark.parametrize("seed", seeds(10))
def test_an_update_that_moves_and_drops_members_then_a_destroy(aws, server, seed):
    """Members move between groups (a third group takes its share), two are dropped (given back by the cleanup's
    Deletes of the groups' old physical ids), four added, the settings of those kept changed; then the stack is
    deleted."""
    w = world(aws, server, seed)
    w.functions(9, existing=BORROWED)
    (created,) = w.deploy(("A", grouped("groups-5", carried(BEFORE))))
    assert created.status == "CREATE_COMPLETE", created.failure

    (updated,) = w.deploy(("A", grouped("groups-7-moved", carried(AFTER, retry=2))))

    assert updated.status == "UPDATE_COMPLETE", updated.failure
    assert len(groups_of(w, "A")) >= 3
    w.check()
    (destroyed,) = w.deploy(("A", None))
    assert destroyed.status == "DELETE_COMPLETE", destroyed.failure
    w.check()


@pytest.mark.parametrize("seed", seeds(10))
def test_an_update_that_moves_and_drops_members_and_fails_rolls_back(aws, server, seed):
    """The same update, with a config of its own on a function that does not exist: it fails, the group Updates
    and Creates still running are cancelled (rollback Updates and Deletes sent at once), the others rolled back;
    every member ends with the group that held it before, as it declared it."""
    w = world(aws, server, seed)
    w.functions(9, existing=BORROWED, missing=1)
    (created,) = w.deploy(("A", grouped("groups-5", carried(BEFORE))))
    assert created.status == "CREATE_COMPLETE", created.failure

    (updated,) = w.deploy(("A", grouped("groups-7-moved-doomed", carried(AFTER, retry=2, doomed=9))))

    assert updated.status == "UPDATE_ROLLBACK_COMPLETE", updated.failure
    w.check()


@pytest.mark.parametrize("seed", seeds(10))
def test_a_stack_of_groups_and_a_stack_of_configs_claiming_the_same_functions(aws, server, seed):
    """Stack A carries five configs in two groups, stack B declares configs of their own on three of the same
    functions; both deploy at once: each config has one owner, as it declares; a stack fails only where the other
    owns a config. Then A is deleted while B deploys again (created anew if it rolled back): B is refused while A
    holds a config, or claims it once A's group gave it back."""
    w = world(aws, server, seed)
    w.functions(5, existing=BORROWED)

    first, second = w.deploy(("A", grouped("groups-5", carried(BEFORE))), ("B", template("configs-3b", configs(3, 2))))

    assert {first.status, second.status} <= {"CREATE_COMPLETE", "ROLLBACK_COMPLETE"}, (first.failure, second.failure)
    for deployment in (first, second):
        assert deployment.status == "CREATE_COMPLETE" or "owned by" in deployment.failure, deployment.failure
    w.check()

    destroyed, claimed = w.deploy(("A", None), ("B", template("configs-3b", configs(3, 2))))

    assert destroyed.status == "DELETE_COMPLETE", destroyed.failure
    assert claimed.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "ROLLBACK_COMPLETE"), claimed.failure
    w.check()
