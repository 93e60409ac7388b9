"""Custom resource handler: keeps a Lambda function's async-invoke config as declared (entry point `on_event`)."""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contract import (
    DATA_ACTION,
    DATA_CHANGED_FIELDS,
    DATA_FUNCTION_ARN,
    FUNCTION_NAME,
    REMOVAL_POLICY,
    REMOVAL_RETAIN,
    InvalidProperty,
    is_config_arn,
)
from lambda_api import Api, Deadline, error_code, error_message
from log import decision
from plan import DELETE, NONE, PUT, UPDATE, plan
from respond import FAILED, SUCCESS, Opener, Responder
from settings import from_api, from_properties

logging.getLogger().setLevel(logging.INFO)
for _noisy in ("boto3", "botocore", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

DEADLINE_MARGIN = 10.0
NO_CONTEXT_SECONDS = 900.0
NOT_CREATED = "not-created:"

_client: Any = None


def default_client() -> Any:
    """One Lambda client per container; retries are ours (bounded by the deadline), so botocore makes one attempt."""
    global _client
    if _client is None:
        import boto3
        from botocore.config import Config

        config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=15)
        _client = boto3.client("lambda", config=config)
    return _client


@dataclass(frozen=True)
class Outcome:
    physical_id: str
    action: str
    changed: tuple[str, ...] = ()

    def data(self) -> dict[str, str]:
        arn = self.physical_id if is_config_arn(self.physical_id) else ""
        return {DATA_FUNCTION_ARN: arn, DATA_ACTION: self.action, DATA_CHANGED_FIELDS: ",".join(self.changed)}


def on_event(
    event: Mapping[str, Any],
    context: Any,
    *,
    client: Any = None,
    opener: Opener = urllib.request.urlopen,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any] | None:
    """Answer one CloudFormation event. Every path ends in exactly one response; returns the body sent."""
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else NO_CONTEXT_SECONDS
    deadline = Deadline.after(remaining - DEADLINE_MARGIN, clock)
    responder = Responder(event, opener, sleep)
    failed_id = event.get("PhysicalResourceId") or f"{NOT_CREATED}{event.get('LogicalResourceId', '')}"
    watchdog = threading.Timer(
        max(0.0, deadline.remaining()),
        lambda: responder.answer(
            FAILED, failed_id, f"Timed out: no result {DEADLINE_MARGIN:.0f} s before the handler's own timeout."
        ),
    )
    watchdog.daemon = True
    watchdog.start()
    decision(
        "received",
        request=event.get("RequestType"),
        logical_id=event.get("LogicalResourceId"),
        request_id=event.get("RequestId"),
        physical_id=event.get("PhysicalResourceId"),
    )
    try:
        outcome = dispatch(event, Api(client or default_client(), deadline, sleep))
        responder.answer(SUCCESS, outcome.physical_id, data=outcome.data())
    except Exception as error:  # noqa: BLE001 - CloudFormation must get an answer whatever went wrong
        function = (event.get("ResourceProperties") or {}).get(FUNCTION_NAME)
        reason = f"{event.get('RequestType')} of the async-invoke config of {function!r} failed: {describe(error)}"
        if context is not None and getattr(context, "log_stream_name", None):
            reason += f" (log stream {context.log_stream_name})"
        decision("failed", reason=reason)
        responder.answer(FAILED, failed_id, reason)
    finally:
        watchdog.cancel()
    return responder.sent


def describe(error: Exception) -> str:
    if isinstance(error, InvalidProperty):
        return str(error)
    return f"{error_code(error)}: {error_message(error)}"


def dispatch(event: Mapping[str, Any], api: Api) -> Outcome:
    kind = event.get("RequestType")
    if kind in ("Create", "Update"):
        return converge(event, api)
    if kind == "Delete":
        return remove(event, api)
    raise InvalidProperty(f"Unknown RequestType {kind!r}; expected Create, Update or Delete.")


def converge(event: Mapping[str, Any], api: Api) -> Outcome:
    """Create and Update: read the live config, write only what differs from the declared one."""
    declared = from_properties(event.get("ResourceProperties") or {})
    target = declared.target.params()
    live = api.get(**target)
    current = from_api(live) if live is not None else None
    step = plan(declared.settings, current)
    if step.action == PUT:
        live = api.put(**target, **step.request)
    elif step.action == UPDATE:
        live = api.update(**target, **step.request)
    assert live is not None  # plan() puts whenever nothing was found
    function_arn = str(live["FunctionArn"])
    decision(
        "converged",
        request=event.get("RequestType"),
        function=function_arn,
        action=step.action,
        reason=step.reason,
        changed=list(step.changed),
        declared=declared.settings.labelled(),
        live_before=current.labelled() if current else None,
    )
    previous = event.get("PhysicalResourceId")
    if previous and previous != function_arn:
        decision(
            "replaced",
            previous=previous,
            current=function_arn,
            note="CloudFormation deletes the previous config after the update",
        )
    return Outcome(function_arn, step.action, step.changed)


def remove(event: Mapping[str, Any], api: Api) -> Outcome:
    """Delete: remove the config this resource wrote, unless retained or never created."""
    physical_id = str(event.get("PhysicalResourceId", ""))
    if not is_config_arn(physical_id):
        decision("delete_skipped", physical_id=physical_id, reason="not a config this resource created")
        return Outcome(physical_id, NONE)
    policy = str((event.get("ResourceProperties") or {}).get(REMOVAL_POLICY, "")).lower()
    if policy == REMOVAL_RETAIN:
        decision("delete_skipped", function=physical_id, reason="RemovalPolicy retain")
        return Outcome(physical_id, NONE)
    deleted = api.delete(FunctionName=physical_id)
    decision(
        "deleted" if deleted else "delete_skipped",
        function=physical_id,
        reason="deleted" if deleted else "config, alias or function already gone",
    )
    return Outcome(physical_id, DELETE if deleted else NONE)
