"""Each lifecycle path and each fault, with botocore's Stubber and the exact parameters every call must carry."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
import time
import urllib.error
from pathlib import Path

import boto3
import config_events
import fakes
import index
import lambda_api
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from cloudformation import Context
from contract import CLAIM_TAG, claim_name, stack_key
from fakes import FakeStack, MemorySsm
from log import JsonFormatter, fields
from plan import Owner, Record
from recorded import ARN, error, response
from records import Records, encode
from settings import Target, from_api, from_properties

EVENTS = Path(__file__).parent / "events"
LATEST = f"{ARN}:$LATEST"
DLQ = "arn:aws:sqs:us-east-1:111111111111:orders-dlq"
BUCKET = "arn:aws:s3:::orders-failed-events"
TARGET = {"FunctionName": "orders", "Qualifier": "$LATEST"}
BY_ARN = {"FunctionName": LATEST, "Qualifier": "$LATEST"}  # a Delete names the config by its physical id
CLAIM = claim_name(LATEST)  # the claim of orders ($LATEST): /async-invoke-config/<account>/<region>/orders/.LATEST
STACK_ID = "arn:aws:cloudformation:us-east-1:111111111111:stack/Orders/5b2f1a40-0000-11f0-0000-000000000000"
OWNER = Owner(STACK_ID, "OrdersAsync")
OTHER_STACK_ID = "arn:aws:cloudformation:us-east-1:111111111111:stack/Billing/77777777-0000-11f0-0000-000000000000"
# A Create's or Update's run of 3 seconds (it ends WAIT_RESERVE before the deadline a Delete has).
FORWARD_SHORT = index.DEADLINE_MARGIN + index.CALL_TIMEOUT + config_events.WAIT_RESERVE + 3
READER_STACK_ID = "arn:aws:cloudformation:us-east-1:111111111111:stack/Reader/00000000-0000-0000-0000-000000000000"
DENIED = (
    "User: arn:aws:sts::111111111111:assumed-role/Handler/x is not authorized to perform: "
    "lambda:GetFunctionEventInvokeConfig on resource: arn:aws:lambda:us-east-1:111111111111:function:orders:$LATEST"
)
IAM_MESSAGE = f"The function's execution role does not have permissions to call SendMessage on {DLQ}"


def load(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Opener:
    """Stands in for urlopen: records each response PUT; fails the first `failures` of them."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.bodies: list[dict] = []
        self.attempts = 0
        self.delivered_at: list[float] = []

    def __call__(self, request, timeout):
        self.attempts += 1
        if self.attempts <= self.failures:
            raise urllib.error.URLError("connection reset")
        self.bodies.append(json.loads(request.data))
        self.delivered_at.append(time.monotonic())
        return contextlib.nullcontext()


class Harness:
    def __init__(self) -> None:
        self.client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        self.stub = Stubber(self.client)
        self.clock = FakeClock()
        self.opener = Opener()
        self.ssm = MemorySsm()
        self.stack = FakeStack()

    def clients(self, service: str):
        return {"lambda": self.client, "ssm": self.ssm, "cloudformation": self.stack}[service]

    def own(self, record: Record, name: str = CLAIM) -> None:
        """The claim a config's earlier Create left, tagged with its owner's stack; a live resource in that stack."""
        tags = [{"Key": CLAIM_TAG, "Value": stack_key(record.owner.stack_id)}]
        self.ssm.put_parameter(Name=name, Value=encode(record), Type="String", Overwrite=False, Tags=tags)
        self.stack.alive(record.owner, LATEST)
        if record.owner.stack_id != STACK_ID:
            self.stack.others.setdefault(record.owner.stack_id, "UPDATE_COMPLETE")

    def record(self) -> Record | None:
        """The config's claim that counts (the last of its chain), whichever stack holds it."""
        reader = Records(lambda_api.Api(self.ssm, lambda_api.Deadline.after(60)), READER_STACK_ID)
        return reader.find(Target("orders", "$LATEST")).record

    def run(self, event: dict, seconds: float = 300.0) -> dict:
        with self.stub:
            index.on_event(
                event,
                Context(seconds),
                clients=self.clients,
                opener=self.opener,
                sleep=self.clock.sleep,
                clock=self.clock,
                wall=self.clock,
            )
        assert len(self.opener.bodies) == 1, self.opener.bodies
        return self.opener.bodies[0]

    def get(self, body: dict | None, params: dict = TARGET, claiming: bool | None = None) -> None:
        """Lambda's answer to a read of the config; twice when the event claims it afresh (no claim stands yet): it
        reads the config before its claim and again once the claim stands (`claims.settled`)."""
        for _ in range(2 if (self.record() is None if claiming is None else claiming) else 1):
            if body is None:
                code, message, status = error("get_function_doesnotexist")
                self.stub.add_client_error(
                    "get_function_event_invoke_config", code, message, status, expected_params=params
                )
            else:
                self.stub.add_response("get_function_event_invoke_config", body, params)


@pytest.fixture
def h() -> Harness:
    return Harness()


def live(**fields) -> dict:
    return response("get_invokeconfig", FunctionArn=LATEST, DestinationConfig={"OnSuccess": {}, "OnFailure": {}}) | {
        key: value for key, value in fields.items()
    }


def without(body: dict, *keys: str) -> dict:
    return {key: value for key, value in body.items() if key not in keys}


DECLARED = {
    "MaximumRetryAttempts": 1,
    "MaximumEventAgeInSeconds": 3600,
    "DestinationConfig": {"OnFailure": {"Destination": DLQ}},
}
IN_SYNC = without(
    live(
        MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=3600,
        DestinationConfig={"OnSuccess": {}, "OnFailure": {"Destination": DLQ}},
    )
)


def test_create_with_no_config_puts_the_declared_one(h):
    h.get(None)
    h.stub.add_response("put_function_event_invoke_config", IN_SYNC, TARGET | DECLARED)

    body = h.run(load("create"))

    h.stub.assert_no_pending_responses()
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == LATEST
    assert body["Data"] == {
        "FunctionArn": LATEST,
        "Action": "put",
        "ChangedFields": "MaximumRetryAttempts,MaximumEventAgeInSeconds,DestinationConfig.OnFailure",
    }


def test_create_adopts_an_existing_config_in_sync_without_writing(h):
    h.get(IN_SYNC)

    body = h.run(load("create"))

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["PhysicalResourceId"], body["Data"]["Action"]) == ("SUCCESS", LATEST, "none")


def test_create_adopts_an_existing_config_and_updates_only_the_differing_field(h):
    h.get(IN_SYNC | {"MaximumRetryAttempts": 2})
    h.stub.add_response("update_function_event_invoke_config", IN_SYNC, TARGET | {"MaximumRetryAttempts": 1})

    body = h.run(load("create"))

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Action"], body["Data"]["ChangedFields"]) == (
        "SUCCESS",
        "update",
        "MaximumRetryAttempts",
    )


def test_update_in_sync_makes_no_write(h):
    event = load("update")
    h.get(IN_SYNC | {"MaximumRetryAttempts": 0})

    body = h.run(event)

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["PhysicalResourceId"], body["Data"]["Action"]) == ("SUCCESS", LATEST, "none")


def test_update_removing_a_declared_field_puts_the_full_config(h):
    event = load("update")
    del event["ResourceProperties"]["MaxEventAge"]
    h.get(IN_SYNC | {"MaximumRetryAttempts": 0})
    declared = {"MaximumRetryAttempts": 0, "DestinationConfig": {"OnFailure": {"Destination": DLQ}}}
    h.stub.add_response(
        "put_function_event_invoke_config", without(IN_SYNC, "MaximumEventAgeInSeconds"), TARGET | declared
    )

    body = h.run(event)

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Action"], body["Data"]["ChangedFields"]) == (
        "SUCCESS",
        "put",
        "MaximumEventAgeInSeconds",
    )


def test_update_after_config_deleted_out_of_band_puts_it_back(h):
    h.get(None)
    h.stub.add_response("put_function_event_invoke_config", IN_SYNC, TARGET | DECLARED | {"MaximumRetryAttempts": 0})

    body = h.run(load("update"))

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Action"]) == ("SUCCESS", "put")


def test_update_after_function_deleted_out_of_band_fails_keeping_the_physical_id(h):
    h.own(Record(OWNER, from_properties(load("create")["ResourceProperties"]).settings))
    h.get(None)
    code, message, status = error("put_functionname_name_notfound")
    h.stub.add_client_error(
        "put_function_event_invoke_config",
        code,
        message,
        status,
        expected_params=TARGET | DECLARED | {"MaximumRetryAttempts": 0},
    )
    h.stub.add_client_error(
        "delete_function_event_invoke_config", *error("delete_function_doesnotexist"), expected_params=TARGET
    )
    recorded = h.record()

    body = h.run(load("update"))

    h.stub.assert_no_pending_responses()
    assert body["Status"] == "FAILED"
    assert body["PhysicalResourceId"] == LATEST
    assert "ResourceNotFoundException: The function doesn't exist." in body["Reason"]
    assert "'orders'" in body["Reason"]
    assert h.record() == recorded


def test_delete_removes_the_config_it_created_and_its_record(h):
    h.own(Record(OWNER, from_properties(load("create")["ResourceProperties"]).settings))
    h.stub.add_response("delete_function_event_invoke_config", {}, BY_ARN)

    body = h.run(load("delete"))

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["PhysicalResourceId"], body["Data"]["Action"]) == ("SUCCESS", LATEST, "delete")
    assert h.record() is None


def test_delete_puts_a_borrowed_config_back_as_found(h):
    prior = from_api({"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600})
    h.own(Record(OWNER, from_properties(load("create")["ResourceProperties"]).settings, prior=prior))
    h.get(IN_SYNC, BY_ARN)
    h.stub.add_response(
        "put_function_event_invoke_config",
        live(MaximumRetryAttempts=2, MaximumEventAgeInSeconds=600),
        BY_ARN | {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600},
    )

    body = h.run(load("delete"))

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Action"]) == ("SUCCESS", "put")
    assert h.record() is None


def test_delete_removes_a_borrowed_config_lambda_no_longer_accepts_and_says_why(h, caplog):
    caplog.set_level(logging.INFO, logger="async_invoke_config")
    prior = from_api({"DestinationConfig": {"OnFailure": {"Destination": DLQ + "-gone"}}})
    h.own(Record(OWNER, from_properties(load("create")["ResourceProperties"]).settings, prior=prior))
    h.get(IN_SYNC, BY_ARN)
    code, message, status = error("put_destination_invalid_service_arn")
    h.stub.add_client_error("put_function_event_invoke_config", code, message, status)
    h.stub.add_response("delete_function_event_invoke_config", {}, BY_ARN)

    body = h.run(load("delete"))

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Action"]) == ("SUCCESS", "delete")
    lines = [fields(r) for r in caplog.records if r.name == "async_invoke_config"]
    (why,) = [line for line in lines if line["event"] == "prior_not_restored"]
    assert message in why["reason"]


def test_delete_of_a_config_another_resource_owns_touches_nothing(h):
    other = Record(Owner(STACK_ID, "OrdersAsyncRenamed"), from_api({"MaximumRetryAttempts": 1}))
    h.own(other)

    body = h.run(load("delete"))

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Action"]) == ("SUCCESS", "none")
    assert h.record() == other


@pytest.mark.parametrize("recorded_error", ["delete_function_not_found", "delete_function_doesnotexist"])
def test_delete_when_config_or_function_already_gone_succeeds(h, recorded_error):
    h.own(Record(OWNER, from_api({"MaximumRetryAttempts": 1})))
    code, message, status = error(recorded_error)
    h.stub.add_client_error("delete_function_event_invoke_config", code, message, status, expected_params=BY_ARN)

    body = h.run(load("delete"))

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Action"]) == ("SUCCESS", "none")
    assert h.record() is None


def test_delete_with_retain_leaves_the_config_and_forgets_it(h):
    h.own(Record(OWNER, from_api({"MaximumRetryAttempts": 1}), prior=from_api({"MaximumRetryAttempts": 2})))
    event = load("delete")
    event["ResourceProperties"]["RemovalPolicy"] = "retain"

    body = h.run(event)

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Action"]) == ("SUCCESS", "none")
    assert h.record() is None


def test_delete_that_fails_keeps_the_record_so_a_retry_can_finish(h, monkeypatch):
    monkeypatch.setattr(lambda_api, "full_jitter", lambda ceiling: ceiling)
    h.stack.status = "DELETE_IN_PROGRESS"  # a stack delete that fails can be retried
    record = Record(OWNER, from_api({"MaximumRetryAttempts": 1}))
    h.own(record)
    for _ in range(3):
        h.stub.add_client_error("delete_function_event_invoke_config", "ServiceException", "boom", 500)

    body = h.run(load("delete"), seconds=index.DEADLINE_MARGIN + index.CALL_TIMEOUT + 3)

    assert body["Status"] == "FAILED"
    assert h.record() == record


def test_delete_that_fails_in_a_cleanup_releases_the_record_as_cloudformation_never_retries(h, monkeypatch):
    monkeypatch.setattr(lambda_api, "full_jitter", lambda ceiling: ceiling)
    h.stack.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    h.own(Record(OWNER, from_api({"MaximumRetryAttempts": 1})))
    for _ in range(3):
        h.stub.add_client_error("delete_function_event_invoke_config", "ServiceException", "boom", 500)

    body = h.run(load("delete"), seconds=index.DEADLINE_MARGIN + index.CALL_TIMEOUT + 3)

    assert body["Status"] == "FAILED"
    assert h.record() is None


def test_a_create_that_failed_at_its_deadline_is_released_by_its_rollback_delete(h, monkeypatch):
    """Its undo could not finish (SSM failing until the deadline), so its record outlived it; the rollback's Delete
    (a physical id that names no config) finds the record by the properties and releases it."""
    monkeypatch.setattr(lambda_api, "full_jitter", lambda ceiling: ceiling)
    delete_parameter = h.ssm.delete_parameter

    def failing(**params):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "DeleteParameter")

    monkeypatch.setattr(h.ssm, "delete_parameter", failing)
    h.get(None)
    for _ in range(3):
        h.stub.add_client_error("put_function_event_invoke_config", "ServiceException", "boom", 500)
    created = h.run(load("create"), seconds=FORWARD_SHORT)
    assert (created["Status"], h.record().owner) == ("FAILED", OWNER)
    monkeypatch.setattr(h.ssm, "delete_parameter", delete_parameter)
    h.opener.bodies.clear()
    h.stub.add_response("delete_function_event_invoke_config", {}, TARGET)

    deleted = h.run(load("delete") | {"PhysicalResourceId": created["PhysicalResourceId"]})

    h.stub.assert_no_pending_responses()
    assert not created["PhysicalResourceId"].startswith("arn:")
    assert (deleted["Status"], h.record()) == ("SUCCESS", None)


def test_a_claim_that_meets_another_stacks_claim_is_refused(h, monkeypatch):
    """Two stacks claim the same config at once: each read no claim; the service lets one create it, and the other,
    refused by the service, reads the claim again and touches no config."""
    other = Record(Owner(OTHER_STACK_ID, "BillingAsync"), from_api({"MaximumRetryAttempts": 0}), claim_id="billing")
    put_parameter = h.ssm.put_parameter

    def claimed_meanwhile(**params):
        if params["Name"] == CLAIM:
            monkeypatch.setattr(h.ssm, "put_parameter", put_parameter)
            h.own(other)
        return put_parameter(**params)

    monkeypatch.setattr(h.ssm, "put_parameter", claimed_meanwhile)
    h.get(None, claiming=False)  # its claim is refused: decided again, on a new read
    h.get(None, claiming=False)

    body = h.run(load("create"))
    calls = list(h.ssm.calls)

    h.stub.assert_no_pending_responses()
    assert body["Status"] == "FAILED"
    assert "owned by resource BillingAsync of stack Billing" in body["Reason"]
    assert h.record() == other
    assert calls == [
        "PutParameter",  # the resource's lock
        "GetParameter",  # no claim yet
        "PutParameter",  # (the other stack's claim, made by the test)
        "PutParameter",  # ParameterAlreadyExists: the other stack's claim came first
        "GetParameter",  # the claim now: the other stack's, whose resource lives
        "GetParameter",  # no claim succeeded it
        "DeleteParameter",  # the lock
    ]


def test_a_second_claim_by_the_same_stack_meanwhile_is_decided_again(h, monkeypatch):
    """Within one stack, a claim created meanwhile (by a renamed construct's Create) makes the event decide again:
    it takes the config over from that resource while it lives."""
    renamed = Record(Owner(STACK_ID, "OrdersAsyncRenamed"), from_api({"MaximumRetryAttempts": 0}), claim_id="r")
    put_parameter = h.ssm.put_parameter

    def claimed_meanwhile(**params):
        if params["Name"] == CLAIM:
            monkeypatch.setattr(h.ssm, "put_parameter", put_parameter)
            h.own(renamed)
        return put_parameter(**params)

    monkeypatch.setattr(h.ssm, "put_parameter", claimed_meanwhile)
    h.get(None, claiming=False)  # its claim is refused: decided again, on a new read
    h.get(None, claiming=False)
    h.stub.add_response("put_function_event_invoke_config", IN_SYNC, TARGET | DECLARED)

    body = h.run(load("create"))

    assert body["Status"] == "SUCCESS", body
    record = h.record()
    assert record is not None and record.owner == OWNER
    assert record.previous is not None and record.previous.owner == renamed.owner
    assert record.claim_id == "r"  # the same claim, rewritten by its own stack


def test_failed_create_of_adopted_config_leaves_it_and_no_record(h):
    h.get(IN_SYNC | {"MaximumRetryAttempts": 2})
    code, message, status = error("put_destination_invalid_service_arn")
    h.stub.add_client_error(
        "update_function_event_invoke_config",
        code,
        message,
        status,
        expected_params=TARGET | {"MaximumRetryAttempts": 1},
    )
    h.get(IN_SYNC | {"MaximumRetryAttempts": 2}, claiming=False)  # the undo reads it back: unchanged, no write
    created = h.run(load("create"))
    rollback = load("delete") | {"PhysicalResourceId": created["PhysicalResourceId"]}
    h.opener.bodies.clear()

    deleted = h.run(rollback)

    h.stub.assert_no_pending_responses()
    assert created["Status"] == "FAILED"
    assert not created["PhysicalResourceId"].startswith("arn:")
    assert (deleted["Status"], deleted["Data"]["Action"]) == ("SUCCESS", "none")
    assert h.ssm.parameters == {}


def test_create_of_a_config_another_stack_owns_is_refused_naming_the_owner(h):
    other = Record(Owner(OTHER_STACK_ID, "BillingAsync"), from_api({"MaximumRetryAttempts": 0}))
    h.own(other)
    h.get(IN_SYNC)

    body = h.run(load("create"))

    h.stub.assert_no_pending_responses()
    assert body["Status"] == "FAILED"
    assert "owned by resource BillingAsync of stack Billing" in body["Reason"]
    assert h.record() == other


def test_a_record_that_cannot_be_written_fails_the_event_before_the_config_is_touched(h, monkeypatch):
    monkeypatch.setattr(lambda_api, "full_jitter", lambda ceiling: ceiling)

    put_parameter = h.ssm.put_parameter

    def refuse(**params):
        if params["Name"] != CLAIM:
            return put_parameter(**params)  # the resource's lock
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "PutParameter")

    monkeypatch.setattr(h.ssm, "put_parameter", refuse)
    h.get(None, claiming=False)  # read once: the claim is never written

    body = h.run(load("create"), seconds=FORWARD_SHORT)

    h.stub.assert_no_pending_responses()
    assert body["Status"] == "FAILED"
    assert "InternalServerError" in body["Reason"] or "deadline" in body["Reason"]


def test_access_denied_right_after_a_policy_change_is_retried(h):
    for _ in range(2):
        h.stub.add_client_error(
            "get_function_event_invoke_config", "AccessDeniedException", DENIED, 403, expected_params=TARGET
        )
    h.get(IN_SYNC)

    body = h.run(load("create"))

    h.stub.assert_no_pending_responses()
    assert body["Status"] == "SUCCESS"
    assert len(h.clock.slept) == 2


def test_access_still_denied_after_two_minutes_is_reported_with_action_and_resource(h, monkeypatch):
    monkeypatch.setattr(lambda_api, "full_jitter", lambda ceiling: ceiling)
    for _ in range(40):
        h.stub.add_client_error("get_function_event_invoke_config", "AccessDeniedException", DENIED, 403)

    body = h.run(load("create"), seconds=900)

    assert body["Status"] == "FAILED"
    assert (
        "lambda:GetFunctionEventInvokeConfig on orders (Qualifier $LATEST) still denied after 120 s" in body["Reason"]
    )
    assert 120 <= sum(h.clock.slept) < 120 + lambda_api.BACKOFF_CAP


def test_throttling_is_retried_with_backoff(h):
    code, message = "TooManyRequestsException", "Rate exceeded"
    for _ in range(2):
        h.stub.add_client_error("get_function_event_invoke_config", code, message, 429, expected_params=TARGET)
    h.get(IN_SYNC)

    body = h.run(load("create"))

    h.stub.assert_no_pending_responses()
    assert body["Status"] == "SUCCESS"
    assert len(h.clock.slept) == 2


def test_conflict_while_function_updates_is_retried(h):
    h.get(None)
    h.stub.add_client_error(
        "put_function_event_invoke_config",
        "ResourceConflictException",
        "The operation cannot be performed at this time. An update is in progress.",
        409,
        expected_params=TARGET | DECLARED,
    )
    h.stub.add_response("put_function_event_invoke_config", IN_SYNC, TARGET | DECLARED)

    body = h.run(load("create"))

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Action"]) == ("SUCCESS", "put")
    assert len(h.clock.slept) == 1


def test_execution_role_permission_error_right_after_grant_is_retried(h):
    h.get(None)
    for _ in range(3):
        h.stub.add_client_error(
            "put_function_event_invoke_config",
            "InvalidParameterValueException",
            IAM_MESSAGE,
            400,
            expected_params=TARGET | DECLARED,
        )
    h.stub.add_response("put_function_event_invoke_config", IN_SYNC, TARGET | DECLARED)

    body = h.run(load("create"))

    h.stub.assert_no_pending_responses()
    assert body["Status"] == "SUCCESS"
    assert len(h.clock.slept) == 3


def test_execution_role_permission_error_gives_up_after_about_two_minutes(h, monkeypatch):
    monkeypatch.setattr(lambda_api, "full_jitter", lambda ceiling: ceiling)
    h.get(None)
    for _ in range(40):
        h.stub.add_client_error(
            "put_function_event_invoke_config",
            "InvalidParameterValueException",
            IAM_MESSAGE,
            400,
            expected_params=TARGET | DECLARED,
        )

    body = h.run(load("create"), seconds=900)

    assert body["Status"] == "FAILED"
    assert IAM_MESSAGE in body["Reason"]
    assert 120 <= sum(h.clock.slept) < 120 + lambda_api.BACKOFF_CAP


def test_other_invalid_parameter_errors_are_not_retried(h):
    h.get(None)
    code, message, status = error("put_destination_recursive")
    h.stub.add_client_error(
        "put_function_event_invoke_config", code, message, status, expected_params=TARGET | DECLARED
    )

    body = h.run(load("create"))

    h.stub.assert_no_pending_responses()
    assert body["Status"] == "FAILED"
    assert message in body["Reason"]
    assert h.clock.slept == []


def test_retries_stop_before_the_deadline(h, monkeypatch):
    monkeypatch.setattr(lambda_api, "full_jitter", lambda ceiling: ceiling)
    for _ in range(3):
        h.stub.add_client_error(
            "get_function_event_invoke_config", "TooManyRequestsException", "Rate exceeded", 429, expected_params=TARGET
        )

    body = h.run(load("create"), seconds=FORWARD_SHORT)

    h.stub.assert_no_pending_responses()
    assert body["Status"] == "FAILED"
    assert "near the deadline" in body["Reason"]
    assert h.clock.slept == [0.5, 1.0]


def test_watchdog_answers_failed_when_a_call_hangs_near_the_deadline(monkeypatch):
    monkeypatch.setattr(index, "CALL_TIMEOUT", 0.0)  # the hanging client has no timeout of its own
    monkeypatch.setattr(config_events, "WAIT_RESERVE", 0.0)  # a Create ends this long before the deadline
    release = threading.Event()

    class HangingClient:
        def get_function_event_invoke_config(self, **params):
            release.wait(1.5)
            raise AssertionError("answered too late")

    opener = Opener()
    started = time.monotonic()
    index.on_event(
        load("create"),
        Context(index.DEADLINE_MARGIN + 0.2),
        clients=fakes.clients(**{"lambda": HangingClient()}),
        opener=opener,
    )
    release.set()

    assert len(opener.bodies) == 1
    assert opener.bodies[0]["Status"] == "FAILED"
    assert "timed out" in opener.bodies[0]["Reason"]
    assert repr(load("create")["ResourceProperties"]["Function"]) in opener.bodies[0]["Reason"]
    assert opener.delivered_at[0] - started < 1.0


def test_response_put_failing_is_retried_until_delivered(h):
    h.opener.failures = 2
    h.get(IN_SYNC)

    body = h.run(load("create"))

    assert body["Status"] == "SUCCESS"
    assert h.opener.attempts == 3


def test_s3_on_failure_destination_is_written(h):
    event = load("create")
    event["ResourceProperties"]["OnFailure"] = BUCKET
    declared = DECLARED | {"DestinationConfig": {"OnFailure": {"Destination": BUCKET}}}
    h.get(None)
    h.stub.add_response(
        "put_function_event_invoke_config",
        IN_SYNC | {"DestinationConfig": {"OnSuccess": {}, "OnFailure": {"Destination": BUCKET}}},
        TARGET | declared,
    )

    body = h.run(event)

    h.stub.assert_no_pending_responses()
    assert (body["Status"], body["Data"]["Action"]) == ("SUCCESS", "put")


class NoCalls:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        self.calls.append(name)
        raise AssertionError(f"unexpected call {name}")


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"RetryAttempts": "5"}, ["`RetryAttempts`", "5"]),
        ({"MaxEventAge": "30"}, ["`MaxEventAge`", "30"]),
        ({"Function": "orders!"}, ["`Function`", "'orders!'"]),
    ],
)
def test_invalid_properties_fail_before_any_call(change, names):
    event = load("create")
    event["ResourceProperties"].update(change)
    client, opener = NoCalls(), Opener()

    index.on_event(event, Context(), clients=fakes.clients(**{"lambda": client, "ssm": client}), opener=opener)

    assert client.calls == []
    assert opener.bodies[0]["Status"] == "FAILED"
    for name in names:
        assert name in opener.bodies[0]["Reason"]


@pytest.mark.parametrize("name", ["create", "update", "delete"])
def test_unknown_request_type_is_answered_failed(name):
    event = load(name) | {"RequestType": "Upgrade"}
    client, opener = NoCalls(), Opener()

    index.on_event(event, Context(), clients=fakes.clients(**{"lambda": client, "ssm": client}), opener=opener)

    assert opener.bodies[0]["Status"] == "FAILED"
    assert "Unknown RequestType 'Upgrade'" in opener.bodies[0]["Reason"]
    assert client.calls == []


def test_response_body_stays_within_4096_bytes_with_a_huge_reason(h):
    event = load("create")
    event["ResourceProperties"]["Function"] = "x" * 5000

    body = h.run(event)

    sent = json.dumps(body).encode()
    assert body["Status"] == "FAILED"
    assert len(sent) <= 4096
    assert body["Reason"].endswith("...")


def test_response_url_is_never_logged(h, caplog):
    caplog.set_level(logging.DEBUG)
    h.get(None)
    h.stub.add_client_error(
        "put_function_event_invoke_config", "ServiceException", "boom", 500, expected_params=TARGET | DECLARED
    )
    h.stub.add_response("put_function_event_invoke_config", IN_SYNC, TARGET | DECLARED)
    h.opener.failures = 1
    event = load("create")

    h.run(copy.deepcopy(event))

    rendered = [JsonFormatter().format(record) for record in caplog.records]
    assert any('"event": "responded"' in line for line in rendered)
    assert all("SECRET" not in line and "presigned" not in line for line in rendered)


def test_one_log_record_per_decision_its_fields_at_the_top_level_of_the_json_line(h, caplog):
    caplog.set_level(logging.INFO, logger="async_invoke_config")
    h.get(IN_SYNC | {"MaximumRetryAttempts": 2})
    h.stub.add_response("update_function_event_invoke_config", IN_SYNC, TARGET | {"MaximumRetryAttempts": 1})

    h.run(load("create"))

    lines = [fields(r) for r in caplog.records if r.name == "async_invoke_config"]
    converged = [line for line in lines if line["event"] == "converged"]
    assert len(converged) == 1
    assert converged[0]["action"] == "update"
    assert converged[0]["changed"] == ["MaximumRetryAttempts"]
    assert converged[0]["live_before"]["MaximumRetryAttempts"] == 2
    (record,) = [r for r in caplog.records if r.getMessage() == "converged"]  # the message names it, no JSON inside
    assert record.__dict__["action"] == "update"  # an attribute, which Lambda's JSON format writes as a key of its own
    line = json.loads(JsonFormatter().format(record))
    assert {key: line[key] for key in ("level", "logger", "message", "event")} == {
        "level": "INFO",
        "logger": "async_invoke_config",
        "message": "converged",
        "event": "converged",
    }
    assert (line["action"], line["live_before"]["MaximumRetryAttempts"]) == ("update", 2)


def test_a_config_changed_between_the_first_read_and_the_claim_is_found_as_it_is_once_the_claim_stands(h):
    """Another stack claimed and wrote the config after this event found no claim, then undid its writes and let go
    before this event claimed: the first read caught that stack's writes; the read once the claim stands is what the
    claim records as found, and what the event writes against (interleaving seed 69)."""
    h.get(IN_SYNC | {"MaximumRetryAttempts": 0}, claiming=False)  # another stack's write, undone since
    h.get(IN_SYNC | {"MaximumRetryAttempts": 2}, claiming=False)  # as it was found, before that stack
    h.stub.add_response("update_function_event_invoke_config", IN_SYNC, TARGET | {"MaximumRetryAttempts": 1})

    body = h.run(load("create"))

    h.stub.assert_no_pending_responses()
    assert body["Status"] == "SUCCESS", body
    record = h.record()
    assert record is not None and record.owner == OWNER
    assert record.prior == from_api(IN_SYNC | {"MaximumRetryAttempts": 2})
