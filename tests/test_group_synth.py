"""Many configs per resource, at synth: a large stack under defaults fits CloudFormation's limits where the native
resource does not, each member has a stable key (adding a function changes that member only; renaming the config's
construct changes nothing), groups stay within the bound kept on an event's payload, and cost fewer template bytes
per config than aws-cdk-lib's own resource."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from async_invoke_config import AsyncInvokeConfig
from async_invoke_config.groups import CAPACITY, PAYLOAD_BOUND
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs

GROUP_TYPE = "Custom::LambdaAsyncInvokeConfigs"
ENV = cdk.Environment(account="123456789012", region="eu-west-1")
TOKEN = {"async-invoke-config:deploy-token": "fixed"}


def team_stack(
    count: int, *, native: bool = False, first: int = 0, left_out: int | None = None, named: bool = True
) -> dict[str, Any]:
    """`count` in-stack functions sharing one role, named `svc-NNN` (or, not `named`, by CloudFormation), under the
    team's rule (SQS on failure): through `apply_defaults`, or, `native`, through each Function's own async props."""
    app = cdk.App(context={**TOKEN, "@aws-cdk/core:stackResourceLimit": 0})
    stack = cdk.Stack(app, "Team", env=ENV)
    queue = sqs.Queue(stack, "Dlq")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    rule: dict[str, Any] = {"retry_attempts": 1, "on_failure": destinations.SqsDestination(queue)}
    for index in range(first, first + count):
        if index == left_out:
            continue
        lambda_.Function(
            stack,
            f"Svc{index}",
            function_name=f"svc-{index:03d}" if named else None,
            role=role,
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
            **(rule if native else {}),
        )
    if not native:
        AsyncInvokeConfig.apply_defaults(stack, **rule)
    return app.synth().get_stack_by_name("Team").template


def groups(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == GROUP_TYPE}


def size(template: dict[str, Any]) -> int:
    return len(json.dumps(template, separators=(",", ":")))


@pytest.fixture(scope="module")
def large() -> dict[str, Any]:
    return team_stack(450, named=False)


def handlers(template: dict[str, Any]) -> list[str]:
    resources = template["Resources"].items()
    return [k for k, r in resources if r.get("Properties", {}).get("Handler") == "index.on_event"]


def test_450_functions_under_defaults_fit_in_one_stack_where_the_native_resource_does_not(large):
    """Functions named by CloudFormation (each name counted at 64 characters in the grants): 3 groups, and 2
    handlers, since one role's 10 managed policies grant at most about 400 such functions."""
    assert len(large["Resources"]) <= 500, len(large["Resources"])
    assert size(large) < 1_000_000
    assert len(handlers(large)) == 2
    members = [key for properties in groups(large).values() for key in properties["Members"]]
    assert len(members) == len(set(members)) == 450
    assert len(groups(large)) == -(-450 // CAPACITY)
    native = team_stack(450, native=True)
    assert len(native["Resources"]) > 500  # 450 functions and 450 EventInvokeConfigs: CloudFormation refuses it


def test_the_groups_of_a_stack_form_a_chain(large):
    ids = sorted(groups(large))
    for before, after in zip(ids, ids[1:], strict=False):
        assert before in large["Resources"][after]["DependsOn"]


def test_each_group_stays_within_the_payload_bound(large):
    """Resolved, a group's properties are at most PAYLOAD_BOUND bytes: an Update's event (old and new properties)
    stays under Lambda's 256 KB for an asynchronous invocation."""
    for properties in groups(large).values():
        assert len(json.dumps(properties)) < PAYLOAD_BOUND / 4  # tokens unresolved here; names of 7 characters
        assert len(properties["Members"]) <= CAPACITY


def test_adding_one_function_changes_only_that_member():
    before, after = team_stack(30), team_stack(31)
    (old,), (new,) = groups(before).values(), groups(after).values()
    assert set(new["Members"]) - set(old["Members"]) != set()
    added = set(new["Members"]) - set(old["Members"])
    assert len(added) == 1
    assert {key: new["Members"][key] for key in old["Members"]} == old["Members"]
    assert new["Shared"] == old["Shared"]
    without = team_stack(31, left_out=7)
    (fewer,) = groups(without).values()
    assert set(new["Members"]) - set(fewer["Members"]) == {
        key for key, value in new["Members"].items() if value == {"Ref": next(iter(_refs(after, "svc-007")))}
    }


def _refs(template: dict[str, Any], name: str) -> list[str]:
    return [
        key
        for key, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get("FunctionName") == name
    ]


def test_renaming_the_configs_constructs_changes_nothing_in_the_group():
    def configs(prefix: str) -> dict[str, Any]:
        app = cdk.App(context=TOKEN)
        stack = cdk.Stack(app, "Named", env=ENV)
        AsyncInvokeConfig.carry_together(stack)
        for index in range(5):
            AsyncInvokeConfig(stack, f"{prefix}{index}", function=f"orders-{index}", retry_attempts=index % 3)
        return groups(app.synth().get_stack_by_name("Named").template)

    assert configs("Config") == configs("Renamed")


def test_carried_configs_keep_their_own_settings_and_validation():
    app = cdk.App(context=TOKEN)
    stack = cdk.Stack(app, "Mixed", env=ENV)
    AsyncInvokeConfig.carry_together(stack)
    AsyncInvokeConfig(stack, "A", function="orders-a", retry_attempts=1)
    AsyncInvokeConfig(stack, "B", function="orders-b", retry_attempts=1)
    AsyncInvokeConfig(stack, "C", function="orders-c:live", max_event_age=cdk.Duration.minutes(5))
    with pytest.raises(ValueError, match=r"Mixed/D: `retry_attempts` must be between 0 and 2; got 5"):
        AsyncInvokeConfig(stack, "D", function="orders-d", retry_attempts=5)
    (properties,) = groups(app.synth().get_stack_by_name("Mixed").template).values()
    assert properties["Shared"] == {"RetryAttempts": 1}
    members = sorted(properties["Members"].values(), key=str)
    assert members == sorted(["orders-a", "orders-b", {"Function": "orders-c:live", "MaxEventAge": 300}], key=str)
    with pytest.raises(ValueError, match="carried with others"):
        _ = stack.node.find_child("A").function_arn  # type: ignore[attr-defined]


def test_a_config_costs_fewer_template_bytes_carried_together_than_the_native_resource():
    ours = (size(team_stack(60)) - size(team_stack(20))) / 40
    native = (size(team_stack(60, native=True)) - size(team_stack(20, native=True))) / 40
    functions_only = (size(_functions(60)) - size(_functions(20))) / 40
    assert ours - functions_only < (native - functions_only) / 2, (ours, native, functions_only)


def _functions(count: int) -> dict[str, Any]:
    app = cdk.App(context=TOKEN)
    stack = cdk.Stack(app, "Team", env=ENV)
    sqs.Queue(stack, "Dlq")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    for index in range(count):
        lambda_.Function(
            stack,
            f"Svc{index}",
            function_name=f"svc-{index:03d}",
            role=role,
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
        )
    return app.synth().get_stack_by_name("Team").template


def test_members_whose_keys_leave_a_group_empty_are_still_spread_within_the_bounds(monkeypatch):
    """Keys all odd, 2 a group: 2 groups leave the first empty while the second overflows, so the count grows past
    an empty group (whose size is not measured: it has no settings to share)."""
    import async_invoke_config.groups as groups_module

    monkeypatch.setattr(groups_module, "CAPACITY", 2)
    members = [
        groups_module.Member(f"{2 * index + 1:010x}", None, {"Function": f"orders-{index}", "RetryAttempts": 1})  # type: ignore[arg-type]
        for index in range(4)
    ]
    buckets = groups_module._buckets(members)
    assert sorted(member.key for bucket in buckets for member in bucket) == sorted(m.key for m in members)
    assert all(0 < len(bucket) <= 2 for bucket in buckets)


def test_the_payload_bound_splits_groups_that_capacity_alone_would_not():
    """200 members (the capacity) each with its own two destinations of 350 characters: about 160 KB in one group,
    over the 100 KB kept per group, so they are spread over more groups, each within the bound."""
    import async_invoke_config.groups as groups_module

    arn = "arn:aws:sqs:eu-west-1:123456789012:" + "q" * (350 - 35)
    members = [
        groups_module.Member(
            groups_module.member_key(("orders", str(index))),
            None,  # type: ignore[arg-type]
            {"Function": f"orders-{index}", "RetryAttempts": index % 3, "OnSuccess": arn, "OnFailure": arn},
        )
        for index in range(CAPACITY)
    ]
    buckets = groups_module._buckets(members)
    assert len(buckets) >= 2
    assert all(groups_module._size(bucket) <= PAYLOAD_BOUND for bucket in buckets)
    assert sum(len(bucket) for bucket in buckets) == CAPACITY
