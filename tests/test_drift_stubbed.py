"""The drift check and the declarations it reads, with botocore's Stubber (one worker, so calls come in order)."""

from __future__ import annotations

import json
import logging

import boto3
import drift
import index
import pytest
from botocore.stub import Stubber
from cloudformation import Context
from declarations import Declarations, parameter_name
from lambda_api import Api, Deadline
from memory_store import MemoryStore
from recorded import ARN, error, response
from test_handler_stubbed import FakeClock, Opener, load

STACK_ID = "arn:aws:cloudformation:us-east-1:111111111111:stack/Orders/5b2f1a40-0000-11f0-0000-000000000000"
DLQ = "arn:aws:sqs:us-east-1:111111111111:orders-dlq"
NAMES = ("orders", "billing", "shipping")


def declared(name: str, retry: str = "1") -> dict:
    return {
        "FunctionName": name,
        "MaximumRetryAttempts": retry,
        "DestinationConfig": {"OnFailure": {"Destination": DLQ}},
    }


def live(name: str, retry: int = 1, destination: str | None = DLQ) -> dict:
    return response(
        "get_invokeconfig",
        FunctionArn=f"arn:aws:lambda:us-east-1:111111111111:function:{name}:$LATEST",
        MaximumRetryAttempts=retry,
        DestinationConfig={"OnSuccess": {}, "OnFailure": {"Destination": destination} if destination else {}},
    ) | {"MaximumEventAgeInSeconds": None}


def clean(body: dict) -> dict:
    return {key: value for key, value in body.items() if value is not None}


class DriftHarness:
    def __init__(self) -> None:
        self.client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        self.stub = Stubber(self.client)
        self.store = MemoryStore()
        for name in NAMES:
            self.store.save(f"arn:aws:lambda:us-east-1:111111111111:function:{name}:$LATEST", declared(name))
        self.clock = FakeClock()
        self.opener = Opener()

    def get(self, name: str, body: dict) -> None:
        self.stub.add_response(
            "get_function_event_invoke_config", clean(body), {"FunctionName": name, "Qualifier": "$LATEST"}
        )

    def event(self, kind: str, token: str = "20261127T100000Z", old_token: str | None = None) -> dict:
        event = load("create") | {
            "RequestType": kind,
            "ResourceType": "Custom::LambdaAsyncInvokeConfigDriftCheck",
            "LogicalResourceId": "DriftCheck",
            "StackId": STACK_ID,
            "ResourceProperties": {"ServiceToken": "arn:token", "DeployToken": token},
        }
        if kind != "Create":
            event["PhysicalResourceId"] = "drift-check:5b2f1a40-0000-11f0-0000-000000000000"
        if old_token is not None:
            event["OldResourceProperties"] = {"ServiceToken": "arn:token", "DeployToken": old_token}
        return event

    def run(self, event: dict) -> dict:
        with self.stub:
            index.on_event(
                event,
                Context(),
                client=self.client,
                store=self.store,
                opener=self.opener,
                sleep=self.clock.sleep,
                clock=self.clock,
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

    body = d.run(d.event("Update", old_token="20261126T100000Z"))

    d.stub.assert_no_pending_responses()
    assert body["Status"] == "SUCCESS"
    assert body["Data"] == {"Checked": "3", "Corrected": "0", "Corrections": ""}


def test_drifted_config_is_corrected_and_reported_per_field(d, caplog):
    caplog.set_level(logging.INFO, logger="async_invoke_config")
    d.get("orders", live("orders"))
    d.get("billing", live("billing", retry=2, destination=None))
    d.stub.add_response(
        "update_function_event_invoke_config",
        clean(live("billing")),
        {
            "FunctionName": "billing",
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 1,
            "DestinationConfig": {"OnFailure": {"Destination": DLQ}},
        },
    )
    d.get("shipping", live("shipping"))

    body = d.run(d.event("Update", old_token="20261126T100000Z"))

    d.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Checked"], body["Data"]["Corrected"]) == ("SUCCESS", "3", "1")
    assert "function:billing:$LATEST (MaximumRetryAttempts,DestinationConfig.OnFailure)" in body["Data"]["Corrections"]
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "async_invoke_config"]
    corrected = {
        (line["function"].split(":")[-2], line["field"], line["live_before"], line["declared"])
        for line in lines
        if line["event"] == "drift_corrected"
    }
    assert corrected == {
        ("billing", "MaximumRetryAttempts", 2, 1),
        ("billing", "DestinationConfig.OnFailure", None, DLQ),
    }


def test_failed_correction_fails_the_deploy_naming_function_and_field(d):
    d.get("orders", live("orders"))
    d.get("billing", live("billing", retry=0))
    code, message, status = error("put_destination_invalid_service_arn")
    d.stub.add_client_error(
        "update_function_event_invoke_config",
        code,
        message,
        status,
        expected_params={"FunctionName": "billing", "Qualifier": "$LATEST", "MaximumRetryAttempts": 1},
    )
    d.get("shipping", live("shipping"))

    body = d.run(d.event("Update", old_token="20261126T100000Z"))

    d.stub.assert_no_pending_responses()
    assert body["Status"] == "FAILED"
    assert "1 of 3 configs" in body["Reason"]
    assert "update of MaximumRetryAttempts on billing" in body["Reason"]
    assert body["PhysicalResourceId"] == "drift-check:5b2f1a40-0000-11f0-0000-000000000000"


def test_rollback_update_and_delete_touch_nothing_and_succeed(d):
    rollback = d.run(d.event("Update", token="20261126T100000Z", old_token="20261127T100000Z"))
    d.opener.bodies.clear()
    deleted = d.run(d.event("Delete"))

    d.stub.assert_no_pending_responses()
    assert (rollback["Status"], rollback["Data"]["Checked"]) == ("SUCCESS", "0")
    assert (deleted["Status"], deleted["Data"]["Checked"]) == ("SUCCESS", "0")


def test_scheduled_check_runs_without_a_cloudformation_response(d):
    d.get("orders", live("orders", retry=0))
    d.stub.add_response(
        "update_function_event_invoke_config",
        clean(live("orders")),
        {"FunctionName": "orders", "Qualifier": "$LATEST", "MaximumRetryAttempts": 1},
    )
    d.get("billing", live("billing"))
    d.get("shipping", live("shipping"))

    with d.stub:
        summary = index.on_event(
            {"AsyncInvokeConfigDriftCheck": {"StackId": STACK_ID}},
            Context(),
            client=d.client,
            store=d.store,
            opener=d.opener,
        )

    d.stub.assert_no_pending_responses()
    assert summary == {"summary": "checked 3 configs: 1 corrected, 0 failed, 2 in sync", "Corrected": 1}
    assert d.opener.bodies == []


def test_a_config_records_its_declaration_and_forgets_it_on_delete():
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub, store = Stubber(client), MemoryStore()
    stub.add_client_error("get_function_event_invoke_config", *error("get_function_doesnotexist"))
    stub.add_response("put_function_event_invoke_config", clean(live("orders")))
    stub.add_response("delete_function_event_invoke_config", {})
    create, delete = load("create"), load("delete")

    with stub:
        index.on_event(create, Context(), client=client, store=store, opener=Opener())
        recorded = dict(store.saved)
        index.on_event(
            delete | {"PhysicalResourceId": f"{ARN}:$LATEST"}, Context(), client=client, store=store, opener=Opener()
        )

    expected = {
        key: value
        for key, value in create["ResourceProperties"].items()
        if key not in ("ServiceToken", "ServiceTimeout")
    }
    assert recorded == {f"{ARN}:$LATEST": expected}
    assert store.saved == {}


def test_declarations_live_in_ssm_under_the_stacks_path():
    ssm = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(ssm)
    store = Declarations(Api(ssm, Deadline.after(60)), STACK_ID)
    name = "/async-invoke-config/5b2f1a40-0000-11f0-0000-000000000000/orders/.LATEST"
    stub.add_response(
        "put_parameter",
        {"Version": 1},
        {"Name": name, "Value": '{"FunctionName":"orders"}', "Type": "String", "Overwrite": True},
    )
    path = {"Path": "/async-invoke-config/5b2f1a40-0000-11f0-0000-000000000000", "Recursive": True, "MaxResults": 10}
    stub.add_response(
        "get_parameters_by_path",
        {"Parameters": [{"Name": name, "Value": '{"FunctionName":"orders"}'}], "NextToken": "n"},
        path,
    )
    stub.add_response(
        "get_parameters_by_path",
        {"Parameters": [{"Name": f"{name}2", "Value": '{"FunctionName":"billing"}'}]},
        path | {"NextToken": "n"},
    )
    stub.add_client_error("delete_parameter", "ParameterNotFound", "gone", 400, expected_params={"Name": name})

    with stub:
        store.save(f"{ARN}:$LATEST", {"FunctionName": "orders", "ServiceToken": "t", "ServiceTimeout": "360"})
        loaded = store.load()
        store.remove(f"{ARN}:$LATEST")

    stub.assert_no_pending_responses()
    assert loaded == [{"FunctionName": "orders"}, {"FunctionName": "billing"}]
    assert parameter_name(STACK_ID, f"{ARN}:live") == name.replace(".LATEST", "live")
