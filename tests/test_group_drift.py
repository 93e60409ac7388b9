"""The checks that start from a deployed stack, not from its template, see the members of its groups
(`Custom::LambdaAsyncInvokeConfigs`), found by their claims: the scheduled drift check corrects a member changed out of
band, and only it, and the drift report lists it as drifted (exit 1), then in sync once corrected (exit 0). Played
by the local CloudFormation against LocalStack, every call checked against the policy synthesized for the handler,
or the CI policy the README gives (with the statement a stack with groups needs)."""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import replace
from typing import Any

import aws_cdk as cdk
import emulator
import iam
import index
import pytest
from async_invoke_config import AsyncInvokeConfig, cli
from aws_cdk.assertions import Match, Template
from cloudformation import Context
from contract import claim_name, successor_name
from records import claimed_config, encode
from stack_harness import Harness, Policed, harness
from test_claims_cli import OPERATOR_POLICY
from test_construct import function
from test_drift_report import REGION, readme_policy
from test_groups import DELETE, GROUP_TYPE, PUT, UPDATE
from test_scenarios import ok

SCHEDULE = cdk.Duration.hours(1)
DECLARED = {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 3600}
# What a CI role needs beside the README's policy to report a stack with groups: the names of the stack's claims,
# listed by their tag (DescribeParameters takes no resource).
LISTING: dict[str, Any] = {"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*"}
WRITES = (PUT, UPDATE, DELETE)


def operator() -> iam.World:
    """The policy the README gives an operator's role for `claims` and `release`."""
    return iam.World(OPERATOR_POLICY)


def build(names: list[str], own: str, schedule: bool = True) -> Any:
    """In-stack functions of those names under the defaults (carried by a group), a config resource of its own for a
    function outside the stack, and a scheduled drift check."""

    def stack(s: cdk.Stack) -> None:
        for index_, name in enumerate(names):
            function(s, f"Worker{index_}", name)
        AsyncInvokeConfig.apply_defaults(s, retry_attempts=1, max_event_age=cdk.Duration.hours(1))
        AsyncInvokeConfig(s, "Own", function=own, retry_attempts=0)
        if schedule:
            AsyncInvokeConfig.configure_drift_check(s, schedule=SCHEDULE)

    return stack


class Deployed:
    def __init__(self, h: Harness) -> None:
        self.h = h
        self.stack = h.name("GroupDrift")
        self.names = [h.name(f"gd-{number}") for number in range(12)]
        self.own = h.function("gd-own")

    def deploy(self) -> None:
        status = "UPDATE_COMPLETE" if self.stack in self.h.stacks else "CREATE_COMPLETE"
        ok(self.h.deploy(self.stack, build(self.names, self.own)), status)

    def change(self, name: str, **settings: Any) -> None:
        self.h.aws.client("lambda").put_function_event_invoke_config(FunctionName=name, **settings)

    def scheduled(self) -> tuple[dict[str, Any], iam.World, Counter[str]]:
        """The scheduled check, as EventBridge invokes it, every call checked against the handler's policy now; its
        summary, the policy's record of the calls (one per resource) and the calls made, by operation."""
        cloud = self.h.stacks[self.stack].cloud
        world, sent = cloud.world(), Counter[str]()

        def clients(service: str) -> Any:
            endpoint = self.h.server.url if service == "cloudformation" else self.h.aws.endpoint
            client = iam.install(emulator.client(endpoint, service), world)
            client.meta.events.register("before-call", lambda model, **_: sent.update([model.name]))
            return client

        event = {"AsyncInvokeConfigDriftCheck": {"StackId": cloud.stack_id}}
        summary = index.on_event(event, Context(), clients=clients)
        assert summary is not None
        return summary, world, sent

    def report(self, *statements: dict[str, Any]) -> tuple[int, str, str, iam.World]:
        world = iam.World(readme_policy(self.stack) + list(statements))
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(
            ["drift", "--stack", self.stack, "--json"], session=Policed(self.h, world, REGION), out=out, err=err
        )
        return code, out.getvalue(), err.getvalue(), world


@pytest.fixture(scope="module")
def deployed(aws, tmp_path_factory):
    with harness(aws, tmp_path_factory.mktemp("group-drift")) as running:
        stack = Deployed(running)
        stack.deploy()
        yield stack


def lambda_writes(world: iam.World) -> list[tuple[str, str]]:
    return [(action, resource) for action, resource, _ in world.calls if action in WRITES]


def test_a_scheduled_check_corrects_a_member_changed_out_of_band_and_only_it(deployed):
    deployed.deploy()
    drifted = deployed.names[4]
    deployed.change(drifted, MaximumRetryAttempts=2)

    summary, world, calls = deployed.scheduled()

    assert summary == {"summary": "checked 13 configs: 1 corrected, 0 failed, 12 in sync; 0 skipped", "Corrected": 1}
    assert world.denied == []
    assert [(action, resource.split(":")[6]) for action, resource in lambda_writes(world)] == [(UPDATE, drifted)]
    assert [deployed.h.live(name) for name in deployed.names] == [DECLARED] * len(deployed.names)
    assert deployed.h.live(deployed.own) == {"MaximumRetryAttempts": 0}
    # per config one read, and the claims: their names listed (50 a page), read 10 a call, and 2 GetParameter for
    # the write (the claim before and after it); SSM fills a filtered page on a best-effort basis, so the listing
    # takes at least one page, and more where the region holds other parameters
    assert calls.pop("DescribeParameters") >= 1
    assert dict(calls) == {
        "DescribeStacks": 1,
        "ListStackResources": 1,
        "GetParameters": 1 + 2,  # the config resource's claim; the 12 members' in batches of 10
        "GetFunctionEventInvokeConfig": 13,
        "GetParameter": 2,
        "UpdateFunctionEventInvokeConfig": 1,
    }


def test_a_member_its_group_dropped_and_did_not_give_back_is_not_checked(deployed):
    """A member marked `leaving` (its group's cleanup has not given it back) belongs to no resource of the stack any
    more: the scheduled check neither reads nor writes it."""
    deployed.deploy()
    dropped = deployed.names[7]
    link = deployed.h.claim(dropped)
    assert link.record is not None
    ssm = deployed.h.aws.client("ssm")
    ssm.put_parameter(Name=link.name, Value=encode(replace(link.record, leaving=True)), Type="String", Overwrite=True)
    deployed.change(dropped, MaximumRetryAttempts=0)
    try:
        summary, world, _ = deployed.scheduled()

        assert summary["summary"] == "checked 12 configs: 0 corrected, 0 failed, 12 in sync; 0 skipped"
        assert world.denied == [] and lambda_writes(world) == []
        assert not [resource for _, resource, _ in world.calls if f":function:{dropped}:" in resource]
        assert deployed.h.live(dropped) == {"MaximumRetryAttempts": 0}
        out = io.StringIO()  # and `claims` counts its claim as stale
        assert (
            cli.main(["claims", "--function", dropped, "--json"], session=Policed(deployed.h, operator()), out=out) == 1
        )
        ((claim,),) = [chain["claims"] for chain in json.loads(out.getvalue())]
        assert claim["stale"] and claim["reason"].endswith("dropped it and did not give it back")
    finally:
        ssm.put_parameter(Name=link.name, Value=encode(link.record), Type="String", Overwrite=True)
        deployed.deploy()


def test_the_drift_report_lists_a_drifted_member_exits_1_then_0_once_the_scheduled_check_corrected_it(deployed):
    deployed.deploy()
    drifted = deployed.names[9]
    deployed.change(drifted, MaximumRetryAttempts=0, MaximumEventAgeInSeconds=60)

    code, out, err, world = deployed.report(LISTING)

    assert code == 1, err
    rows = {row["function"]: row for row in json.loads(out)}
    assert sorted(rows) == sorted([*deployed.names, deployed.own])
    row = rows[drifted]
    assert (row["status"], row["differs"]) == ("drifted", ["MaximumRetryAttempts", "MaximumEventAgeInSeconds"])
    assert row["live"]["MaximumRetryAttempts"] == 0 and row["declared"]["MaximumRetryAttempts"] == 1
    groups = {
        key for key, r in deployed.h.stacks[deployed.stack].cloud.resources.items() if r.resource_type == GROUP_TYPE
    }
    assert row["logical_id"].split("/")[0] in groups
    assert [name for name, r in rows.items() if r["status"] != "in sync"] == [drifted]
    assert world.denied == []
    assert not [
        action for action, _, _ in world.calls if not action.split(":")[1].startswith(("Get", "List", "Describe"))
    ]

    summary, _, _ = deployed.scheduled()
    assert summary["Corrected"] == 1

    code, out, err, world = deployed.report(LISTING)
    assert code == 0, out + err
    assert {row["status"] for row in json.loads(out)} == {"in sync"} and world.denied == []


def test_the_drift_report_of_a_stack_with_groups_needs_describe_parameters_and_says_so(deployed):
    code, out, err, world = deployed.report()  # the README's policy alone

    assert code == 2
    assert json.loads(out)["error"].startswith("access denied: ssm:DescribeParameters: User:")
    assert [action for action, _ in world.denied] == ["ssm:DescribeParameters"]


def test_the_claims_command_names_a_members_group_and_key(deployed):
    deployed.deploy()
    world = operator()
    out = io.StringIO()
    name = deployed.names[1]

    code = cli.main(["claims", "--function", name, "--json"], session=Policed(deployed.h, world), out=out)
    text = io.StringIO()
    cli.main(["claims", "--function", name], session=Policed(deployed.h, world), out=text)

    assert code == 0
    ((claim,),) = [chain["claims"] for chain in json.loads(out.getvalue())]
    group, key = claim["owner_logical_id"].split("/")
    assert (claim["owner_group"], claim["stale"]) == (group, False)
    assert f"{group} (member {key}) of stack {deployed.stack}" in text.getvalue()
    assert world.denied == []


def test_only_a_stack_with_a_group_and_a_schedule_may_list_claims():
    def statements(names: list[str], schedule: bool) -> list[dict[str, Any]]:
        app = cdk.App()
        stack = cdk.Stack(app, "Listing")
        build(names, "outside", schedule)(stack)
        roles = Template.from_stack(stack).find_resources(
            "AWS::IAM::Role", {"Properties": {"Policies": Match.any_value()}}
        )
        (role,) = roles.values()
        return [
            s
            for p in role["Properties"]["Policies"]
            if p["PolicyName"] == "Claims"
            for s in p["PolicyDocument"]["Statement"]
        ]

    listing = {"Action": ["ssm:DescribeParameters"], "Effect": "Allow", "Resource": ["*"]}
    assert listing in statements(["a", "b"], schedule=True)
    assert listing not in statements(["a", "b"], schedule=False)
    assert listing not in statements([], schedule=True)


@pytest.mark.parametrize("qualifier", ["$LATEST", "$LATEST.PUBLISHED", "live", "7"])
def test_a_claims_name_gives_back_the_config_it_is_of(qualifier):
    arn = f"arn:aws:lambda:eu-west-1:111111111111:function:orders-v2_x:{qualifier}"

    assert claimed_config(claim_name(arn), "aws") == arn
    assert claimed_config(successor_name(claim_name(arn), "0123abcd0123abcd"), "aws") == arn
