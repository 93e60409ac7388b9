"""Many configs per resource (`Custom::LambdaAsyncInvokeConfigs`), played by the local CloudFormation against
LocalStack, every handler call checked against the policy synthesized for that step: a stack under defaults through
deploy, an out-of-band change and the redeploy that corrects it, functions left out, a rollback config by config, a
move between the two forms, and destroy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from async_invoke_config import AsyncInvokeConfig
from local_cloud import Deployment
from natives import create_function
from stack_harness import Harness
from test_construct import function
from test_scenarios import broken, explain, ok

GROUP_TYPE = "Custom::LambdaAsyncInvokeConfigs"
PUT, UPDATE, DELETE = (f"lambda:{verb}FunctionEventInvokeConfig" for verb in ("Put", "Update", "Delete"))


def writes(deployment: Deployment) -> list[tuple[str, str]]:
    """Every Lambda write the handler made in a deployment: (action, function ARN)."""
    return [
        (action, resource)
        for sent in deployment.sent
        for action, resource, _ in sent.calls
        if action in (PUT, UPDATE, DELETE)
    ]


def written(deployment: Deployment, name: str) -> list[str]:
    return [action for action, resource in writes(deployment) if f":function:{name}:" in resource]


def under_defaults(names: list[str], left_out: frozenset[str] = frozenset(), **settings: Any) -> Callable:
    """In-stack functions of those names, under the defaults (less the functions `left_out`)."""
    settings = settings or {"retry_attempts": 1, "max_event_age": cdk.Duration.hours(1)}
    ids = {f"Worker{index}" for index, name in enumerate(names) if name in left_out}

    def build(stack: cdk.Stack) -> None:
        for index, name in enumerate(names):
            function(stack, f"Worker{index}", name)
        AsyncInvokeConfig.apply_defaults(stack, exclude=lambda target: target.node.id in ids, **settings)

    return build


def groups(h: Harness, stack: str) -> dict[str, Any]:
    return {k: r for k, r in h.stacks[stack].cloud.resources.items() if r.resource_type == GROUP_TYPE}


@pytest.fixture
def names(h: Harness) -> list[str]:
    return [h.name(f"grp-{index}") for index in range(12)]


def test_a_stack_under_defaults_lives_through_drift_removal_and_destroy(h, aws, names):
    created = ok(h.deploy("Groups", under_defaults(names)), "CREATE_COMPLETE")
    assert len(groups(h, "Groups")) == 1
    assert not h.stacks["Groups"].cloud.configs(), "no config resource of its own"
    for name in names:
        assert h.live(name) == {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 3600}
        assert h.owner(name)[1].split("/")[0].startswith("AsyncInvokeConfigProviderConfigs0")
    assert sorted(action for action, _ in writes(created)) == [PUT] * len(names)

    # someone changes one function in the console; the next deploy (nothing else changed) puts it back, alone
    aws.client("lambda").put_function_event_invoke_config(FunctionName=names[3], MaximumRetryAttempts=0)
    redeploy = ok(h.deploy("Groups", under_defaults(names)), "UPDATE_COMPLETE")
    assert writes(redeploy) == [(UPDATE, writes(redeploy)[0][1])] and written(redeploy, names[3]) == [UPDATE]
    assert h.live(names[3]) == {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 3600}
    assert [s.answer["Data"]["Corrected"] for s in redeploy.sent if s.logical_id in groups(h, "Groups")] == ["1"]

    # three functions left out of the defaults: only their configs go, in the cleanup phase, and nothing else is written
    gone = frozenset(names[:3])
    removal = ok(h.deploy("Groups", under_defaults(names, gone)), "UPDATE_COMPLETE")
    assert sorted(writes(removal)) == sorted((DELETE, resource) for action, resource in writes(removal))
    assert sorted(name for name in names if written(removal, name)) == sorted(gone)
    cleanup = [s for s in removal.sent if s.phase == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"]
    assert [s.request for s in cleanup] == ["Delete"] and cleanup[0].answer["Data"] == {"Released": "3"}
    for name in names:
        assert (h.live(name) is None) == (name in gone), name
        assert (h.record(name) is None) == (name in gone), name

    destroyed = ok(h.stacks["Groups"].cloud.destroy(), "DELETE_COMPLETE")
    assert sorted(written(destroyed, name) != [] for name in names).count(True) == len(names) - 3
    for name in names:
        assert h.live(name) is None and h.record(name) is None


def by_name(names: list[str], *, together: bool = True, **settings: Any) -> Callable:
    """Configs of functions outside the stack, named by string; carried together unless `together` is False."""
    settings = settings or {"retry_attempts": 1, "max_event_age": cdk.Duration.hours(1)}

    def build(stack: cdk.Stack) -> None:
        if together:
            AsyncInvokeConfig.carry_together(stack)
        for index, name in enumerate(names):
            AsyncInvokeConfig(stack, f"Config{index}", function=name, **settings)

    return build


def test_a_config_found_before_the_group_is_put_back_as_found(h, aws, names):
    for name in names[:4]:
        create_function(aws.client("lambda"), name)
    aws.client("lambda").put_function_event_invoke_config(FunctionName=names[0], MaximumEventAgeInSeconds=900)
    ok(h.deploy("Borrow", by_name(names[:4])), "CREATE_COMPLETE")
    assert h.live(names[0]) == {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 3600}
    assert h.record(names[0]).prior is not None
    ok(h.stacks["Borrow"].cloud.destroy(), "DELETE_COMPLETE")
    assert h.live(names[0]) == {"MaximumEventAgeInSeconds": 900}
    assert [h.live(name) for name in names[1:4]] == [None] * 3


def test_a_failed_update_rolls_back_config_by_config(h, names):
    ok(h.deploy("Back", under_defaults(names[:6])), "CREATE_COMPLETE")
    fewer = frozenset(names[:2])

    def changed_then_broken(stack: cdk.Stack) -> None:
        under_defaults(names[:6], fewer, retry_attempts=0)(stack)
        broken(stack)
        for resource in stack.node.find_all():
            if isinstance(resource, cdk.CfnResource) and resource.cfn_resource_type == GROUP_TYPE:
                stack.node.find_child("Broken").node.add_dependency(resource)

    failed = h.deploy("Back", changed_then_broken)
    assert failed.status == "UPDATE_ROLLBACK_COMPLETE", explain(failed)
    assert failed.denied == [], explain(failed)
    group = [s for s in failed.sent if s.logical_id in groups(h, "Back")]
    assert [(s.phase, s.request, s.status) for s in group] == [
        ("UPDATE_IN_PROGRESS", "Update", "SUCCESS"),
        ("UPDATE_ROLLBACK_IN_PROGRESS", "Update", "SUCCESS"),
    ], explain(failed)
    for name in names[:6]:  # the four kept were set to retry 0 and back; the two dropped were never touched
        assert h.live(name) == {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 3600}, name
        assert h.record(name) is not None and not h.record(name).leaving, name
    assert sorted(written(failed, names[0]) + written(failed, names[1])) == []
    for name in names[2:6]:  # set to retry 0 with no age (a Put), then back (an Update)
        assert written(failed, name) == [PUT, UPDATE], (name, written(failed, name))  # age removed, then back


def test_carrying_configs_together_and_back_moves_nothing_live(h, names):
    settings: dict[str, Any] = {"retry_attempts": 2, "max_event_age": cdk.Duration.hours(2)}
    own, together = by_name(names[:5], together=False, **settings), by_name(names[:5], **settings)
    for name in names[:5]:  # functions outside the stack, named by string
        create_function(h.aws.client("lambda"), name)
    ok(h.deploy("Move", own), "CREATE_COMPLETE")
    moved = ok(h.deploy("Move", together), "UPDATE_COMPLETE")
    assert writes(moved) == [], explain(moved)
    assert {h.owner(name)[1].split("/")[0][:32] for name in names[:5]} == {"AsyncInvokeConfigProviderConfigs0"[:32]}
    back = ok(h.deploy("Move", own), "UPDATE_COMPLETE")
    assert writes(back) == [], explain(back)
    assert [h.owner(name)[1][:6] for name in names[:5]] == ["Config"] * 5
    for name in names[:5]:
        assert h.live(name) == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 7200}
        assert h.record(name).previous is None


def test_groups_past_one_roles_quota_run_under_handlers_of_their_own(h, aws, names, monkeypatch):
    """Smaller bounds than the real ones (3 members a group, 1 group a handler), so that a few configs need several
    handlers: each group's events run under its own handler's role, which grants exactly its members' functions."""
    import async_invoke_config.groups as groups_module
    import async_invoke_config.provider as provider_module

    monkeypatch.setattr(groups_module, "CAPACITY", 3)
    monkeypatch.setattr(provider_module, "GROUPS_PER_SET", 1)
    for name in names:
        create_function(aws.client("lambda"), name)
    created = ok(h.deploy("Sets", by_name(names)), "CREATE_COMPLETE")
    cloud = h.stacks["Sets"].cloud
    found = groups(h, "Sets")
    tokens = {logical_id: group.properties["ServiceToken"] for logical_id, group in found.items()}
    assert len(found) >= 4 and len(set(tokens.values())) == len(found)
    granted = {}
    for logical_id, group in found.items():
        resources = [
            resource
            for statement in cloud.handler_statements(tokens[logical_id])
            if "lambda:PutFunctionEventInvokeConfig" in statement.get("Action", [])
            for resource in statement["Resource"]
        ]
        granted[logical_id] = {resource.split(":function:")[1].split(":")[0] for resource in resources}
        assert granted[logical_id] == set(group.properties["Members"].values()), logical_id
    assert sum(len(functions) for functions in granted.values()) == len(names)  # no function granted twice
    assert all(h.live(name) == {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 3600} for name in names)
    assert created.denied == []
    ok(cloud.destroy(), "DELETE_COMPLETE")
    assert [h.live(name) for name in names] == [None] * len(names)


def test_a_group_update_failing_part_way_is_rolled_back_config_by_config(h, aws, names):
    """One member's function is gone (deleted out of band): the group's Update writes the members before it in key
    order, fails on it naming the function, and CloudFormation's rollback Update writes each member back; the gone
    one is logged, not failed, so that the rollback completes. Dropping it then releases only its claim."""
    for name in names[:6]:
        create_function(aws.client("lambda"), name)
    ok(h.deploy("PartWay", by_name(names[:6])), "CREATE_COMPLETE")
    (group,) = groups(h, "PartWay").values()
    order = [group.properties["Members"][key] for key in sorted(group.properties["Members"])]
    gone = order[3]
    h.stacks["PartWay"].cloud.gone.add(gone)

    failed = h.deploy("PartWay", by_name(names[:6], retry_attempts=0))
    assert failed.status == "UPDATE_ROLLBACK_COMPLETE", explain(failed)
    assert failed.denied == []
    forward, back = [s for s in failed.sent if s.request == "Update" and s.logical_id in groups(h, "PartWay")]
    assert forward.status == "FAILED" and gone in forward.answer["Reason"], forward.answer
    assert back.status == "SUCCESS"
    for name in order[:3]:  # written, then written back
        assert written(failed, name) == [PUT, UPDATE], (name, written(failed, name))
    for name in order[4:]:  # never reached
        assert written(failed, name) == [], name
    for name in names[:6]:
        if name != gone:
            assert h.live(name) == {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 3600}, name

    kept = [name for name in names[:6] if name != gone]
    ok(h.deploy("PartWay", by_name(kept)), "UPDATE_COMPLETE")
    assert h.record(gone) is None
    assert all(h.record(name) is not None for name in kept)
