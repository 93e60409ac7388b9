"""Custom resource handler: keeps a Lambda function's async-invoke config as declared (entry point `on_event`).

Three kinds of event: a config's own Create/Update/Delete (`Custom::LambdaAsyncInvokeConfig`), the stack's drift
check on every deploy (`Custom::LambdaAsyncInvokeConfigDriftCheck`), and the optional scheduled drift check from
EventBridge (no CloudFormation response)."""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contract import (
    DATA_ACTION,
    DATA_CHANGED_FIELDS,
    DATA_CHECKED,
    DATA_CORRECTED,
    DATA_CORRECTIONS,
    DATA_FUNCTION_ARN,
    DEPLOY_TOKEN,
    DRIFT_CHECK_TYPE,
    FUNCTION_NAME,
    REMOVAL_POLICY,
    REMOVAL_RETAIN,
    SCHEDULE_KEY,
    InvalidProperty,
    is_config_arn,
)
from declarations import Declarations, Store
from drift import Report, check
from lambda_api import Api, Deadline, RateLimiter
from log import decision
from plan import DELETE, NONE
from reconcile import describe, reconcile
from respond import FAILED, SUCCESS, Opener, Responder

logging.getLogger().setLevel(logging.INFO)
for _noisy in ("boto3", "botocore", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

DEADLINE_MARGIN = 10.0
NO_CONTEXT_SECONDS = 900.0
NOT_CREATED = "not-created:"
# Lambda's control-plane quota is shared by the whole account; the drift check keeps well below it.
DRIFT_CHECK_RATE = 10.0

_clients: dict[str, Any] = {}


def default_client(service: str = "lambda") -> Any:
    """One client per service per container; retries are ours (bounded by the deadline), so botocore tries once."""
    if service not in _clients:
        import boto3
        from botocore.config import Config

        config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=15)
        _clients[service] = boto3.client(service, config=config)  # type: ignore[call-overload]
    return _clients[service]


@dataclass(frozen=True)
class Outcome:
    physical_id: str
    action: str = NONE
    changed: tuple[str, ...] = ()
    data: dict[str, str] = field(default_factory=dict)

    def response_data(self) -> dict[str, str]:
        if self.data:
            return self.data
        arn = self.physical_id if is_config_arn(self.physical_id) else ""
        return {DATA_FUNCTION_ARN: arn, DATA_ACTION: self.action, DATA_CHANGED_FIELDS: ",".join(self.changed)}


@dataclass
class Services:
    """What a request needs from AWS, built once per request."""

    lambda_api: Api
    store: Store


def on_event(
    event: Mapping[str, Any],
    context: Any,
    *,
    client: Any = None,
    store: Store | None = None,
    opener: Opener = urllib.request.urlopen,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any] | None:
    """Answer one event. Every CloudFormation event ends in exactly one response; returns the body sent (or, for a
    scheduled drift check, its summary)."""
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else NO_CONTEXT_SECONDS
    deadline = Deadline.after(remaining - DEADLINE_MARGIN, clock)

    def services(stack_id: str, rate: float | None = None) -> Services:
        limiter = RateLimiter(rate, clock, sleep) if rate else None
        lambda_api = Api(client or default_client("lambda"), deadline, sleep, limiter)
        return Services(lambda_api, store or Declarations(Api(default_client("ssm"), deadline, sleep), stack_id))

    if "ResponseURL" not in event and SCHEDULE_KEY in event:
        return scheduled(event, services)
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
        resource_type=event.get("ResourceType"),
        logical_id=event.get("LogicalResourceId"),
        request_id=event.get("RequestId"),
        physical_id=event.get("PhysicalResourceId"),
    )
    try:
        outcome = dispatch(event, services)
        responder.answer(SUCCESS, outcome.physical_id, data=outcome.response_data())
    except Exception as error:  # noqa: BLE001 - CloudFormation must get an answer whatever went wrong
        function = (event.get("ResourceProperties") or {}).get(FUNCTION_NAME)
        subject = f"the async-invoke config of {function!r}" if function else "the async-invoke drift check"
        reason = f"{event.get('RequestType')} of {subject} failed: {describe(error)}"
        if context is not None and getattr(context, "log_stream_name", None):
            reason += f" (log stream {context.log_stream_name})"
        decision("failed", reason=reason)
        responder.answer(FAILED, failed_id, reason)
    finally:
        watchdog.cancel()
    return responder.sent


ServicesFor = Callable[..., Services]


def dispatch(event: Mapping[str, Any], services: ServicesFor) -> Outcome:
    kind = event.get("RequestType")
    if kind not in ("Create", "Update", "Delete"):
        raise InvalidProperty(f"Unknown RequestType {kind!r}; expected Create, Update or Delete.")
    stack_id = str(event.get("StackId", ""))
    if event.get("ResourceType") == DRIFT_CHECK_TYPE:
        return drift_check(event, stack_id, services)
    if kind == "Delete":
        return remove(event, services(stack_id))
    return converge(event, services(stack_id))


def converge(event: Mapping[str, Any], services: Services) -> Outcome:
    """A config's Create and Update: read the live config, write only what differs, remember the declaration."""
    properties = event.get("ResourceProperties") or {}
    done = reconcile(properties, services.lambda_api)
    decision(
        "converged",
        request=event.get("RequestType"),
        function=done.function_arn,
        action=done.step.action,
        reason=done.step.reason,
        changed=list(done.step.changed),
        declared=done.declared.settings.labelled(),
        live_before=done.live_before.labelled() if done.live_before else None,
    )
    previous = event.get("PhysicalResourceId")
    if previous and previous != done.function_arn:
        decision(
            "replaced",
            previous=previous,
            current=done.function_arn,
            note="CloudFormation deletes the previous config after the update",
        )
    remember(services.store.save, done.function_arn, properties)
    return Outcome(done.function_arn, done.step.action, done.step.changed)


def remove(event: Mapping[str, Any], services: Services) -> Outcome:
    """A config's Delete: remove the config this resource wrote, unless retained or never created."""
    physical_id = str(event.get("PhysicalResourceId", ""))
    if not is_config_arn(physical_id):
        decision("delete_skipped", physical_id=physical_id, reason="not a config this resource created")
        return Outcome(physical_id)
    remember(services.store.remove, physical_id)
    policy = str((event.get("ResourceProperties") or {}).get(REMOVAL_POLICY, "")).lower()
    if policy == REMOVAL_RETAIN:
        decision("delete_skipped", function=physical_id, reason="RemovalPolicy retain")
        return Outcome(physical_id)
    deleted = services.lambda_api.delete(FunctionName=physical_id)
    decision(
        "deleted" if deleted else "delete_skipped",
        function=physical_id,
        reason="deleted" if deleted else "config, alias or function already gone",
    )
    return Outcome(physical_id, DELETE if deleted else NONE)


def remember(action: Callable[..., None], *args: Any) -> None:
    """Keep the drift check's record; a failure there must not fail a config that is already in place."""
    try:
        action(*args)
    except Exception as error:  # noqa: BLE001 - the record is bookkeeping; the config itself is done
        decision("declaration_not_recorded", function=args[0], error=describe(error))


def drift_check(event: Mapping[str, Any], stack_id: str, services: ServicesFor) -> Outcome:
    """The stack's drift check: on Create and Update, every declared config is read and corrected; a rollback and
    a Delete have nothing to do, so they cannot leave the stack stuck."""
    physical_id = f"drift-check:{stack_id.rsplit('/', 1)[-1]}"
    new_token = str((event.get("ResourceProperties") or {}).get(DEPLOY_TOKEN, ""))
    old_token = str((event.get("OldResourceProperties") or {}).get(DEPLOY_TOKEN, ""))
    if event.get("RequestType") == "Delete" or (event.get("RequestType") == "Update" and new_token < old_token):
        decision("drift_check_skipped", request=event.get("RequestType"), reason="delete or rollback")
        return Outcome(physical_id, data={DATA_CHECKED: "0", DATA_CORRECTED: "0", DATA_CORRECTIONS: ""})
    report = run_check(stack_id, services)
    corrections = "; ".join(f"{result.function} ({','.join(result.changed)})" for result in report.corrected)
    return Outcome(
        physical_id,
        data={
            DATA_CHECKED: str(len(report.results)),
            DATA_CORRECTED: str(len(report.corrected)),
            DATA_CORRECTIONS: corrections[:2000],
        },
    )


class DriftNotCorrected(Exception):
    pass


def run_check(stack_id: str, services: ServicesFor) -> Report:
    """The drift check of one stack, at the drift-check rate; raises when any correction failed."""
    needs = services(stack_id, DRIFT_CHECK_RATE)
    report = check(needs.lambda_api, needs.store)
    if report.failed:
        raise DriftNotCorrected(report.failure_reason())
    return report


def scheduled(event: Mapping[str, Any], services: ServicesFor) -> dict[str, Any]:
    """The scheduled drift check (EventBridge): the same check; failures raise, so the invocation counts as an
    error in the function's metrics."""
    stack_id = str(event[SCHEDULE_KEY].get("StackId", ""))
    decision("received", request="ScheduledDriftCheck", stack_id=stack_id)
    report = run_check(stack_id, services)
    return {"summary": report.summary(), DATA_CORRECTED: len(report.corrected)}
