"""The diff as a pure function: (declared, live) -> what to write."""

from __future__ import annotations

import pytest
from plan import NONE, PUT, UPDATE, plan
from settings import Settings, from_api

Q1 = "arn:aws:sqs:us-east-1:000000000000:q1"
Q2 = "arn:aws:sqs:us-east-1:000000000000:q2"
T1 = "arn:aws:sns:us-east-1:000000000000:t1"

RETRY = "MaximumRetryAttempts"
AGE = "MaximumEventAgeInSeconds"
SUCCESS = "DestinationConfig.OnSuccess"
FAILURE = "DestinationConfig.OnFailure"

CASES = [
    pytest.param(
        Settings(retry_attempts=1, on_failure=Q1),
        None,
        PUT,
        (RETRY, FAILURE),
        {RETRY: 1, "DestinationConfig": {"OnFailure": {"Destination": Q1}}},
        id="no config: put the declared one",
    ),
    pytest.param(
        Settings(retry_attempts=1, max_event_age=600),
        Settings(retry_attempts=1, max_event_age=600),
        NONE,
        (),
        {},
        id="in sync: no write",
    ),
    pytest.param(
        Settings(retry_attempts=0, max_event_age=600),
        Settings(retry_attempts=2, max_event_age=600),
        UPDATE,
        (RETRY,),
        {RETRY: 0},
        id="retry attempts differ: update just that field",
    ),
    pytest.param(
        Settings(retry_attempts=0, max_event_age=60),
        Settings(retry_attempts=0, max_event_age=3600),
        UPDATE,
        (AGE,),
        {AGE: 60},
        id="event age differs: update just that field",
    ),
    pytest.param(
        Settings(retry_attempts=1, on_success=T1, on_failure=Q2),
        Settings(retry_attempts=1, on_success=T1, on_failure=Q1),
        UPDATE,
        (FAILURE,),
        {"DestinationConfig": {"OnSuccess": {"Destination": T1}, "OnFailure": {"Destination": Q2}}},
        id="one destination differs: update sends the whole declared DestinationConfig",
    ),
    pytest.param(
        Settings(retry_attempts=1, on_failure=Q1),
        Settings(retry_attempts=1),
        UPDATE,
        (FAILURE,),
        {"DestinationConfig": {"OnFailure": {"Destination": Q1}}},
        id="destination added: update",
    ),
    pytest.param(
        Settings(retry_attempts=2, max_event_age=120, on_failure=Q1),
        Settings(retry_attempts=0, max_event_age=60),
        UPDATE,
        (RETRY, AGE, FAILURE),
        {RETRY: 2, AGE: 120, "DestinationConfig": {"OnFailure": {"Destination": Q1}}},
        id="several fields differ: one update with all of them",
    ),
    pytest.param(
        Settings(max_event_age=600),
        Settings(retry_attempts=1, max_event_age=600),
        PUT,
        (RETRY,),
        {AGE: 600},
        id="declared field dropped: put the full declared config to remove it",
    ),
    pytest.param(
        Settings(retry_attempts=1),
        Settings(retry_attempts=1, on_success=T1),
        PUT,
        (SUCCESS,),
        {RETRY: 1},
        id="destination dropped: put without it",
    ),
    pytest.param(
        Settings(retry_attempts=0, on_failure=Q1),
        Settings(retry_attempts=1, on_success=T1, on_failure=Q1),
        PUT,
        (RETRY, SUCCESS),
        {RETRY: 0, "DestinationConfig": {"OnFailure": {"Destination": Q1}}},
        id="a change and a removal together: put",
    ),
    pytest.param(
        Settings(max_event_age=600),
        Settings(retry_attempts=2, max_event_age=600),
        PUT,
        (RETRY,),
        {AGE: 600},
        id="live value equal to the AWS default still differs from an undeclared field",
    ),
    pytest.param(
        Settings(retry_attempts=2, max_event_age=21600),
        Settings(),
        UPDATE,
        (RETRY, AGE),
        {RETRY: 2, AGE: 21600},
        id="declared value equal to the AWS default is written explicitly",
    ),
]


@pytest.mark.parametrize(("desired", "current", "action", "changed", "request_"), CASES)
def test_plan_writes_only_what_differs(desired, current, action, changed, request_):
    step = plan(desired, current)

    assert (step.action, step.changed, step.request) == (action, changed, request_)


@pytest.mark.parametrize(
    "destination_config",
    [
        {"OnSuccess": {}, "OnFailure": {}},
        {"OnSuccess": {"Destination": None}, "OnFailure": {"Destination": None}},
        {},
        None,
    ],
    ids=["empty halves", "null destinations", "empty config", "no config"],
)
def test_empty_destination_halves_equal_absent_ones(destination_config):
    live = {"FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST", "MaximumRetryAttempts": 1}
    if destination_config is not None:
        live["DestinationConfig"] = destination_config

    assert plan(Settings(retry_attempts=1), from_api(live)).action == NONE


def test_live_destination_read_from_api_shape():
    live = {"MaximumEventAgeInSeconds": 60, "DestinationConfig": {"OnSuccess": {}, "OnFailure": {"Destination": Q1}}}

    assert from_api(live) == Settings(max_event_age=60, on_failure=Q1)


# Ownership: which record a Create or Update writes, and what a Delete does, as pure decisions.

from plan import (  # noqa: E402
    CLAIM,
    DELETE,
    FORGET_PREVIOUS,
    HAND_BACK,
    KEEP,
    LEAVE,
    REFUSE,
    RELEASE,
    RESTORE,
    TAKE_OVER,
    Handover,
    Owner,
    Record,
    claim,
    release,
)

STACK = "arn:aws:cloudformation:us-east-1:000000000000:stack/Orders/1"
OTHER_STACK = "arn:aws:cloudformation:us-east-1:000000000000:stack/Billing/2"
A, B = Owner(STACK, "A"), Owner(STACK, "B")
STRANGER = Owner(OTHER_STACK, "A")
DECLARED = Settings(retry_attempts=0)
LIVE = Settings(retry_attempts=2, max_event_age=600)


@pytest.mark.parametrize(
    ("found", "live", "first", "action", "record"),
    [
        pytest.param(None, None, True, CLAIM, Record(A, DECLARED), id="nothing there: created"),
        pytest.param(None, LIVE, True, CLAIM, Record(A, DECLARED, prior=LIVE), id="a config there: borrowed as found"),
        pytest.param(None, LIVE, False, CLAIM, Record(A, DECLARED), id="an update that finds no record: no prior"),
        pytest.param(
            Record(A, LIVE, prior=LIVE), DECLARED, True, KEEP, Record(A, DECLARED, prior=LIVE), id="a repeated create"
        ),
        pytest.param(
            Record(B, LIVE, retain=True, prior=Settings(max_event_age=60)),
            LIVE,
            True,
            TAKE_OVER,
            Record(A, DECLARED, prior=Settings(max_event_age=60), previous=Handover(B, LIVE, retain=True)),
            id="a rename: taken over, the previous owner kept until its delete",
        ),
        pytest.param(Record(STRANGER, LIVE), LIVE, True, REFUSE, None, id="another stack owns it: refused"),
    ],
)
def test_claim(found, live, first, action, record):
    decided = claim(A, DECLARED, False, found, live, first)

    assert (decided.action, decided.record) == (action, record)
    if action == REFUSE:
        assert "owned by resource A of stack Billing" in decided.reason


@pytest.mark.parametrize(
    ("found", "retain", "rolling_back", "action", "record"),
    [
        pytest.param(None, False, False, LEAVE, None, id="no record: nothing of ours"),
        pytest.param(Record(B, LIVE), False, False, LEAVE, None, id="another resource owns it"),
        pytest.param(Record(STRANGER, LIVE), False, False, LEAVE, None, id="another stack owns it"),
        pytest.param(
            Record(B, LIVE, previous=Handover(A, DECLARED)),
            False,
            False,
            FORGET_PREVIOUS,
            Record(B, LIVE),
            id="renamed away: the new owner keeps it",
        ),
        pytest.param(
            Record(A, LIVE, prior=DECLARED, previous=Handover(B, Settings(max_event_age=60))),
            False,
            True,
            HAND_BACK,
            Record(B, Settings(max_event_age=60), prior=DECLARED),
            id="a rename rolled back: handed back",
        ),
        pytest.param(
            Record(A, LIVE, previous=Handover(B, DECLARED)), False, False, DELETE, None, id="stale previous ignored"
        ),
        pytest.param(Record(A, LIVE, prior=DECLARED), True, False, RELEASE, None, id="retain: left as declared"),
        pytest.param(Record(A, LIVE, prior=DECLARED), False, False, RESTORE, None, id="borrowed: put back"),
        pytest.param(Record(A, LIVE), False, False, DELETE, None, id="created: deleted"),
    ],
)
def test_release(found, retain, rolling_back, action, record):
    decided = release(A, found, retain, rolling_back)

    assert (decided.action, decided.record) == (action, record)
