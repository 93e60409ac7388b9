"""The drift check and the records it reads, with botocore's Stubber (one worker, so calls come in order)."""

from __future__ import annotations

import json
import logging

import boto3
import drift
import index
import pytest
from botocore.stub import Stubber
from cloudformation import Context
from contract import CLAIM_TAG, claim_name
from fakes import FakeStack, MemorySsm
from lambda_api import Api, Deadline
from log import fields
from plan import Handover, Owner, Record
from recorded import error, response
from records import Records, decode, encode
from settings import Target, from_api
from test_handler_stubbed import FakeClock, Opener, load

STACK_ID = "arn:aws:cloudformation:us-east-1:111111111111:stack/Orders/5b2f1a40-0000-11f0-0000-000000000000"
OTHER_STACK_ID = "arn:aws:cloudformation:us-east-1:111111111111:stack/Billing/77777777-0000-11f0-0000-000000000000"
DLQ = "arn:aws:sqs:us-east-1:111111111111:orders-dlq"
NAMES = ("orders", "billing", "shipping")
DECLARED = from_api({"MaximumRetryAttempts": 1, "DestinationConfig": {"OnFailure": {"Destination": DLQ}}})


def arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:111111111111:function:{name}:$LATEST"


def live(name: str, retry: int = 1, destination: str | None = DLQ) -> dict:
    return response(
        "get_invokeconfig",
        FunctionArn=arn(name),
        MaximumRetryAttempts=retry,
        DestinationConfig={"OnSuccess": {}, "OnFailure": {"Destination": destination} if destination else {}},
    ) | {"MaximumEventAgeInSeconds": None}


def clean(body: dict) -> dict:
    return {key: value for key, value in body.items() if value is not None}


EMF_UNITS = {"Count", "None", "Seconds", "Milliseconds"}


def metrics(printed: str) -> list[dict]:
    """The embedded-metric-format documents among printed lines, each checked against the format's rules: `_aws`
    with a millisecond Timestamp and directives whose dimensions name string members and whose metrics name numbers."""
    documents = [json.loads(line) for line in printed.splitlines() if line.startswith("{") and '"_aws"' in line]
    for document in documents:
        meta = document["_aws"]
        assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_600_000_000_000
        for directive in meta["CloudWatchMetrics"]:
            assert isinstance(directive["Namespace"], str) and directive["Namespace"]
            assert all(isinstance(document[key], str) for keys in directive["Dimensions"] for key in keys)
            for metric in directive["Metrics"]:
                assert isinstance(document[metric["Name"]], int) and metric["Unit"] in EMF_UNITS
    return [
        {"namespace": d["Namespace"], "dimensions": d["Dimensions"]}
        | {key: value for key, value in document.items() if key != "_aws"}
        for document in documents
        for d in document["_aws"]["CloudWatchMetrics"]
    ]


class DriftHarness:
    def __init__(self) -> None:
        self.client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        self.stub = Stubber(self.client)
        self.ssm = MemorySsm()
        self.stack = FakeStack("UPDATE_IN_PROGRESS")
        for name in NAMES:
            self.own(name, Record(Owner(STACK_ID, f"{name.title()}Async"), DECLARED))
        self.ssm.calls.clear()
        self.clock = FakeClock()
        self.opener = Opener()

    def own(self, name: str, record: Record) -> None:
        self.ssm.put_parameter(Name=claim(name), Value=encode(record), Type="String", Overwrite=True)

    def clients(self, service: str):
        return {"lambda": self.client, "ssm": self.ssm, "cloudformation": self.stack}[service]

    def get(self, name: str, body: dict) -> None:
        self.stub.add_response(
            "get_function_event_invoke_config", clean(body), {"FunctionName": arn(name), "Qualifier": "$LATEST"}
        )

    def event(self, kind: str, configs: tuple[str, ...] = NAMES) -> dict:
        event = load("create") | {
            "RequestType": kind,
            "ResourceType": "Custom::LambdaAsyncInvokeConfigDriftCheck",
            "LogicalResourceId": "DriftCheck",
            "StackId": STACK_ID,
            "ResourceProperties": {
                "ServiceToken": "arn:token",
                "DeployToken": "t2",
                "Configs": ",".join(arn(n) for n in configs),
            },
        }
        if kind != "Create":
            event["PhysicalResourceId"] = "drift-check:5b2f1a40-0000-11f0-0000-000000000000"
            event["OldResourceProperties"] = {"ServiceToken": "arn:token", "DeployToken": "t1", "Configs": []}
        return event

    def run(self, event: dict) -> dict:
        with self.stub:
            index.on_event(
                event, Context(), clients=self.clients, opener=self.opener, sleep=self.clock.sleep, clock=self.clock
            )
        assert len(self.opener.bodies) == 1
        return self.opener.bodies[0]


@pytest.fixture
def d(monkeypatch) -> DriftHarness:
    monkeypatch.setattr(drift, "WORKERS", 1)
    return DriftHarness()


def test_every_declared_config_is_read_and_none_written_when_in_sync(d):
    for name in NAMES:
        d.get(name, live(name))

    body = d.run(d.event("Update"))

    d.stub.assert_no_pending_responses()
    assert body["Status"] == "SUCCESS"
    assert body["Data"] == {"Checked": "3", "Corrected": "0", "Corrections": "", "Skipped": "0"}
    assert d.ssm.calls == ["GetParameters"]


def test_configs_listed_as_earlier_versions_list_them_are_read_alike(d):
    for name in NAMES:
        d.get(name, live(name))
    event = d.event("Update")
    event["ResourceProperties"]["Configs"] = [arn(name) for name in NAMES]

    body = d.run(event)

    d.stub.assert_no_pending_responses()
    assert body["Data"]["Checked"] == "3"


def test_drifted_config_is_corrected_and_reported_per_field(d, caplog, capsys):
    caplog.set_level(logging.INFO, logger="async_invoke_config")
    d.get("orders", live("orders"))
    d.get("billing", live("billing", retry=2, destination=None))
    d.stub.add_response(
        "update_function_event_invoke_config",
        clean(live("billing")),
        {
            "FunctionName": arn("billing"),
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 1,
            "DestinationConfig": {"OnFailure": {"Destination": DLQ}},
        },
    )
    d.get("shipping", live("shipping"))

    body = d.run(d.event("Update"))

    d.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Checked"], body["Data"]["Corrected"]) == ("SUCCESS", "3", "1")
    assert "function:billing:$LATEST (MaximumRetryAttempts,DestinationConfig.OnFailure)" in body["Data"]["Corrections"]
    lines = [fields(r) for r in caplog.records if r.name == "async_invoke_config"]
    corrected = {
        (line["function"].split(":")[-2], line["field"], line.get("live_before"), line["declared"])  # None: left out
        for line in lines
        if line["event"] == "drift_corrected"
    }
    assert corrected == {
        ("billing", "MaximumRetryAttempts", 2, 1),
        ("billing", "DestinationConfig.OnFailure", None, DLQ),
    }
    assert metrics(capsys.readouterr().out) == [
        {
            "namespace": "AsyncInvokeConfig",
            "dimensions": [["Stack"]],
            "Stack": "Orders",
            "Checked": 3,
            "Corrected": 1,
            "Failed": 0,
        }
    ]


def test_failed_correction_fails_the_deploy_naming_function_and_field(d, capsys):
    d.get("orders", live("orders"))
    d.get("billing", live("billing", retry=0))
    code, message, status = error("put_destination_invalid_service_arn")
    d.stub.add_client_error(
        "update_function_event_invoke_config",
        code,
        message,
        status,
        expected_params={"FunctionName": arn("billing"), "Qualifier": "$LATEST", "MaximumRetryAttempts": 1},
    )
    d.get("shipping", live("shipping"))

    body = d.run(d.event("Update"))

    d.stub.assert_no_pending_responses()
    assert body["Status"] == "FAILED"
    assert "1 of 3 configs" in body["Reason"]
    assert f"update of MaximumRetryAttempts on {arn('billing')}" in body["Reason"]
    assert body["PhysicalResourceId"] == "drift-check:5b2f1a40-0000-11f0-0000-000000000000"
    (emitted,) = metrics(capsys.readouterr().out)
    assert (emitted["Stack"], emitted["Checked"], emitted["Corrected"], emitted["Failed"]) == ("Orders", 3, 0, 1)


def test_rollback_update_and_delete_touch_nothing_and_succeed(d, capsys):
    d.stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    rollback = d.run(d.event("Update"))
    d.opener.bodies.clear()
    deleted = d.run(d.event("Delete"))

    d.stub.assert_no_pending_responses()
    assert (rollback["Status"], rollback["Data"]["Checked"]) == ("SUCCESS", "0")
    assert (deleted["Status"], deleted["Data"]["Checked"]) == ("SUCCESS", "0")
    assert d.ssm.calls.count("GetParameters") == 0
    assert d.stack.calls == ["DescribeStacks"]
    assert metrics(capsys.readouterr().out) == []  # a check that checks nothing emits nothing


def test_a_forward_update_whose_token_sorts_lower_still_runs(d):
    for name in NAMES:
        d.get(name, live(name))
    event = d.event("Update")
    event["ResourceProperties"]["DeployToken"], event["OldResourceProperties"]["DeployToken"] = "a", "z"

    body = d.run(event)

    d.stub.assert_no_pending_responses()
    assert body["Data"]["Checked"] == "3"


def test_only_the_configs_the_template_declares_are_read(d):
    d.get("billing", live("billing"))

    body = d.run(d.event("Update", configs=("billing",)))

    d.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Checked"]) == ("SUCCESS", "1")


def test_two_configs_of_the_stack_on_one_function_fail_the_check(d):
    body = d.run(d.event("Update", configs=("orders", "billing", "orders")))

    d.stub.assert_no_pending_responses()
    assert body["Status"] == "FAILED"
    assert "Two configs of this stack configure" in body["Reason"] and arn("orders") in body["Reason"]


def test_a_config_another_stack_owns_is_skipped_not_written(d):
    del d.ssm.parameters[claim("billing")]
    d.own("billing", Record(Owner(OTHER_STACK_ID, "B"), DECLARED))
    d.get("orders", live("orders"))
    d.get("shipping", live("shipping"))

    body = d.run(d.event("Update"))

    d.stub.assert_no_pending_responses()
    assert (body["Data"]["Checked"], body["Data"]["Skipped"]) == ("2", "1")


def test_scheduled_check_runs_without_a_cloudformation_response(d, capsys):
    d.stack.status = "UPDATE_COMPLETE"
    d.stack.resources = [
        {
            "LogicalResourceId": f"{n.title()}Async",
            "PhysicalResourceId": arn(n),
            "ResourceType": "Custom::LambdaAsyncInvokeConfig",
            "ResourceStatus": "UPDATE_COMPLETE",
        }
        for n in NAMES
    ]
    d.get("orders", live("orders", retry=0))
    d.stub.add_response(
        "update_function_event_invoke_config",
        clean(live("orders")),
        {"FunctionName": arn("orders"), "Qualifier": "$LATEST", "MaximumRetryAttempts": 1},
    )
    d.get("billing", live("billing"))
    d.get("shipping", live("shipping"))

    with d.stub:
        summary = index.on_event(
            {"AsyncInvokeConfigDriftCheck": {"StackId": STACK_ID}}, Context(), clients=d.clients, opener=d.opener
        )

    d.stub.assert_no_pending_responses()
    assert summary == {"summary": "checked 3 configs: 1 corrected, 0 failed, 2 in sync; 0 skipped", "Corrected": 1}
    assert d.opener.bodies == []
    (emitted,) = metrics(capsys.readouterr().out)
    assert (emitted["Stack"], emitted["Checked"], emitted["Corrected"], emitted["Failed"]) == ("Orders", 3, 1, 0)


def test_scheduled_check_waits_for_no_deploy(d):
    d.stack.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"

    with d.stub:
        summary = index.on_event(
            {"AsyncInvokeConfigDriftCheck": {"StackId": STACK_ID}}, Context(), clients=d.clients, opener=d.opener
        )

    assert summary is not None
    assert summary["summary"] == "skipped: the stack is UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    assert d.stack.calls == ["DescribeStacks"]


def test_scheduled_check_writes_only_configs_whose_record_names_that_resource(d):
    d.stack.status = "UPDATE_COMPLETE"
    d.stack.resources = [
        {
            "LogicalResourceId": "OldName",
            "PhysicalResourceId": arn("orders"),
            "ResourceType": "Custom::LambdaAsyncInvokeConfig",
            "ResourceStatus": "UPDATE_COMPLETE",
        },
    ]

    with d.stub:
        summary = index.on_event(
            {"AsyncInvokeConfigDriftCheck": {"StackId": STACK_ID}}, Context(), clients=d.clients, opener=d.opener
        )

    d.stub.assert_no_pending_responses()
    assert summary is not None
    assert summary["summary"].endswith("1 skipped")


def claim(name: str) -> str:
    return claim_name(arn(name))


def test_claims_live_in_ssm_one_standard_parameter_per_config_created_only_if_absent():
    ssm = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(ssm)
    records = Records(Api(ssm, Deadline.after(60)), STACK_ID, new_id=lambda: "c2")
    record = Record(
        Owner(STACK_ID, "OrdersAsync"),
        DECLARED,
        prior=from_api({"MaximumRetryAttempts": 2}),
        previous=Handover(Owner(STACK_ID, "Old"), from_api({"MaximumEventAgeInSeconds": 60}), retain=True),
    )
    gone = Record(Owner(OTHER_STACK_ID, "BillingAsync"), DECLARED, claim_id="c1")
    orders, billing = Target("orders", "$LATEST"), Target("billing", "live")
    base = "/async-invoke-config/111111111111/us-east-1/orders/.LATEST"
    after = f"{base}/after-c1"
    created = Record(record.owner, DECLARED, record.retain, record.prior, record.previous, claim_id="c2")
    tag = [{"Key": CLAIM_TAG, "Value": "5b2f1a40-0000-11f0-0000-000000000000"}]
    create = {"Name": after, "Value": encode(created), "Type": "String", "Overwrite": False, "Tier": "Standard"}
    stub.add_response("put_parameter", {"Version": 1}, create | {"Tags": tag})
    stub.add_client_error("put_parameter", "ParameterAlreadyExists", "exists", 400, create | {"Tags": tag})
    rewrite = {"Name": after, "Value": encode(created), "Type": "String", "Overwrite": True, "Tier": "Standard"}
    stub.add_response("put_parameter", {"Version": 2}, rewrite)
    stub.add_response(
        "get_parameter", {"Parameter": {"Name": base, "Value": encode(gone), "Version": 1}}, {"Name": base}
    )
    stub.add_response(
        "get_parameter", {"Parameter": {"Name": after, "Value": encode(created), "Version": 2}}, {"Name": after}
    )
    missing = "/async-invoke-config/111111111111/us-east-1/billing/live"
    stub.add_response(
        "get_parameters",
        {"Parameters": [{"Name": base, "Value": encode(gone), "Version": 1}], "InvalidParameters": [missing]},
        {"Names": [base, missing]},
    )
    stub.add_response(
        "get_parameter", {"Parameter": {"Name": after, "Value": encode(created), "Version": 2}}, {"Name": after}
    )
    stub.add_client_error("delete_parameter", "ParameterNotFound", "gone", 400, expected_params={"Name": after})

    with stub:
        assert records.create(after, record) == created
        assert records.create(after, record) is None  # the service refuses: someone claimed it first
        records.overwrite(after, created)
        found = records.find(orders)  # the first claim names a resource of another stack: its successor counts
        held = records.held([orders, billing])
        records.delete(after)

    stub.assert_no_pending_responses()
    assert found.record is not None
    assert (found.name, found.record, found.record.version) == (after, created, 2)
    assert {target: link.record for target, link in held.items()} == {orders: created, billing: None}
    assert decode(encode(record)) == record


def test_the_largest_record_fits_a_standard_parameter():
    longest = "arn:aws:sqs:us-east-1:111111111111:" + "q" * 315
    full = from_api(
        {
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 21600,
            "DestinationConfig": {"OnSuccess": {"Destination": longest}, "OnFailure": {"Destination": longest}},
        }
    )
    stack = "arn:aws:cloudformation:us-east-1:111111111111:stack/" + "s" * 128 + "/5b2f1a40-0000-11f0-0000-000000000000"
    owner = Owner(stack, "L" * 255)
    record = Record(owner, full, prior=full, previous=Handover(owner, full))

    assert len(encode(record).encode()) <= 4096
