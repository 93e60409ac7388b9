"""Custom resource handler: keeps a Lambda function's async-invoke config as declared (entry point `on_event`).

Three kinds of event: a config's own Create/Update/Delete (`Custom::LambdaAsyncInvokeConfig`), the stack's drift
check on every deploy (`Custom::LambdaAsyncInvokeConfigDriftCheck`), and the optional scheduled drift check from
EventBridge (no CloudFormation response)."""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import config_events
import group_events
import members
import stack
from contract import (
    CONFIGS,
    DATA_CHECKED,
    DATA_CORRECTED,
    DATA_CORRECTIONS,
    DATA_SKIPPED,
    DRIFT_CHECK_TYPE,
    FUNCTION,
    FUNCTION_NAME,
    GROUP_TYPE,
    METRICS_DIMENSION,
    METRICS_NAMESPACE,
    SCHEDULE_KEY,
    InvalidProperty,
    config_ids,
    is_config_arn,
)
from drift import Item, Report, check
from lambda_api import PROPAGATION_WINDOW, Deadline, RateLimiter
from log import decision, metrics
from plan import Owner
from reconcile import describe
from respond import FAILED, SUCCESS, Opener, Responder
from services import Outcome, Services
from settings import Target

DEADLINE_MARGIN = 10.0
# No call starts that could still be running when the handler answers: the clients give up on a call after
# CALL_TIMEOUT (connect + read), so calls stop this long before the answer's deadline.
CALL_TIMEOUT = 20.0
NO_CONTEXT_SECONDS = 900.0
NOT_CREATED = "not-created:"
# Lambda's control-plane quota is shared by the whole account; the drift check keeps well below it.
DRIFT_CHECK_RATE = 10.0
# A scheduled check runs on a stack no deploy is changing (it checks first), so a refusal is not IAM catching up
# with a new policy; it waits out a short lag only, and a refusal that lasts means a deploy removed the config
# meanwhile (see `scheduled`).
SCHEDULED_PROPAGATION_WINDOW = 10.0


def set_log_levels(environ: Mapping[str, str]) -> None:
    """INFO for the handler's own records, unless Lambda's runtime already set the root logger to the function's
    application log level (`AWS_LAMBDA_LOG_LEVEL`, under the JSON log format); boto3, botocore and urllib3 at WARNING
    whatever that level is (their DEBUG lines would carry each request's headers)."""
    if not environ.get("AWS_LAMBDA_LOG_LEVEL"):
        logging.getLogger().setLevel(logging.INFO)
    for noisy in ("boto3", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


set_log_levels(os.environ)

_clients: dict[str, Any] = {}


def default_client(service: str) -> Any:
    """One client per service per container; retries are ours (bounded by the deadline), so botocore tries once."""
    if service not in _clients:
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=CALL_TIMEOUT - 5
        )
        _clients[service] = boto3.client(service, config=config)  # type: ignore[call-overload]
    return _clients[service]


ServicesFor = Callable[..., Services]


def on_event(
    event: Mapping[str, Any],
    context: Any,
    *,
    clients: Callable[[str], Any] | None = None,
    opener: Opener = urllib.request.urlopen,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
) -> dict[str, Any] | None:
    """Answer one event. Every CloudFormation event ends in exactly one response; returns the body sent (or, for a
    scheduled drift check, its summary)."""
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else NO_CONTEXT_SECONDS
    deadline = Deadline.after(remaining - DEADLINE_MARGIN - CALL_TIMEOUT, clock)
    ends_at = wall() + remaining

    stack_id = str(event.get("StackId") or (event.get(SCHEDULE_KEY) or {}).get("StackId", ""))

    def services(rate: float | None = None, propagation: float = PROPAGATION_WINDOW) -> Services:
        limiter = RateLimiter(rate, clock, sleep) if rate else None
        return Services(clients or default_client, stack_id, deadline, sleep, limiter, propagation, wall, ends_at)

    if "ResponseURL" not in event and SCHEDULE_KEY in event:
        return scheduled(event, services)
    responder = Responder(event, opener, sleep)
    failed_id = event.get("PhysicalResourceId") or f"{NOT_CREATED}{event.get('LogicalResourceId', '')}"
    properties = event.get("ResourceProperties") or {}
    function = properties.get(FUNCTION) or properties.get(FUNCTION_NAME)  # either shape (see contract.py)
    subject = f"the async-invoke config of {function!r}" if function else "the async-invoke drift check"
    if event.get("ResourceType") == GROUP_TYPE:
        subject = f"the async-invoke configs of {event.get('LogicalResourceId')}"
    watchdog = threading.Timer(
        max(0.0, deadline.remaining() + CALL_TIMEOUT),
        lambda: responder.answer(
            FAILED,
            failed_id,
            f"{event.get('RequestType')} of {subject} timed out: no result {DEADLINE_MARGIN:.0f} s before the "
            "handler's own timeout.",
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
        reason = f"{event.get('RequestType')} of {subject} failed: {describe(error)}"
        if context is not None and getattr(context, "log_stream_name", None):
            reason += f" (log stream {context.log_stream_name})"
        decision("failed", reason=reason)
        responder.answer(FAILED, failed_id, reason)
    finally:
        watchdog.cancel()
    return responder.sent


def on_expired(record: Mapping[str, Any], context: Any, **injected: Any) -> dict[str, Any] | None:
    """The handler's own on-failure destination (`index.on_expired` of the stack's second function): an event that
    waited longer than the handler's maximum event age (throttled) or whose run failed without answering arrives here
    with its payload, and a CloudFormation event is run again, so that CloudFormation always gets an answer. A Create
    or an Update run late finds its stack no longer deploying and undoes itself; a Delete or a rollback runs as
    ever."""
    payload = record.get("requestPayload") or {}
    condition = (record.get("requestContext") or {}).get("condition")
    if not isinstance(payload, Mapping) or "ResponseURL" not in payload:
        decision("expired_event_dropped", condition=condition, reason="not a CloudFormation event")
        return None
    decision(
        "expired_event_rerun",
        condition=condition,
        request=payload.get("RequestType"),
        logical_id=payload.get("LogicalResourceId"),
        request_id=payload.get("RequestId"),
    )
    return on_event(payload, context, **injected)


def dispatch(event: Mapping[str, Any], services: ServicesFor) -> Outcome:
    kind = event.get("RequestType")
    if kind not in ("Create", "Update", "Delete"):
        raise InvalidProperty(f"Unknown RequestType {kind!r}; expected Create, Update or Delete.")
    if event.get("ResourceType") == DRIFT_CHECK_TYPE:
        return drift_check(event, services)
    if event.get("ResourceType") == GROUP_TYPE:  # many configs: Lambda calls paced as the drift check's
        if kind == "Delete":
            return group_events.remove(event, services(DRIFT_CHECK_RATE))
        return group_events.configure(event, services(DRIFT_CHECK_RATE))
    if kind == "Delete":
        return config_events.remove(event, services())
    return config_events.configure(event, services())


def drift_check(event: Mapping[str, Any], services_for: ServicesFor) -> Outcome:
    """The stack's drift check: reads and corrects exactly the configs the template declares (its `Configs`). A
    rollback (the stack says so) and a Delete do nothing, so the check cannot leave the stack stuck."""
    stack_id = str(event.get("StackId", ""))
    physical_id = f"drift-check:{stack_id.rsplit('/', 1)[-1]}"
    services = services_for(DRIFT_CHECK_RATE)
    kind = event.get("RequestType")
    skip = "delete" if kind == "Delete" else rollback(services, stack_id) if kind == "Update" else ""
    if skip:
        decision("drift_check_skipped", request=kind, reason=skip)
        return Outcome(physical_id, data={DATA_CHECKED: "0", DATA_CORRECTED: "0", DATA_CORRECTIONS: ""})
    arns = [arn for arn in config_ids((event.get("ResourceProperties") or {}).get(CONFIGS)) if is_config_arn(arn)]
    twice = sorted({arn for arn in arns if arns.count(arn) > 1})
    if twice:
        raise InvalidProperty(
            f"Two configs of this stack configure {', '.join(twice)}: each would take it over from the other; "
            "declare one config per function and qualifier."
        )
    items = owned(services, [(Target.of_arn(arn), lambda owner: owner.stack_id == stack_id) for arn in arns])
    report = run_check(services, items, stack_id)
    corrections = "; ".join(f"{result.function} ({','.join(result.changed)})" for result in report.corrected)
    return Outcome(
        physical_id,
        data={
            DATA_CHECKED: str(len(report.checked)),
            DATA_CORRECTED: str(len(report.corrected)),
            DATA_CORRECTIONS: corrections[:2000],
            DATA_SKIPPED: str(len(report.skipped)),
        },
    )


def owned(services: Services, targets: list[tuple[Target, Callable[[Owner], bool]]]) -> list[Item]:
    """The configs to check with their claims (read in batches); one whose claim names another owner is skipped."""
    links = services.records.held([target for target, _ in targets])
    items = []
    for target, ours in targets:
        link = links[target]
        record = link.record
        skip = f"owned by {record.owner}" if record is not None and not ours(record.owner) else ""
        items.append(Item(target, record, skip, link.name))
    return items


def rollback(services: Services, stack_id: str) -> str:
    """Why an Update of the drift check must do nothing: the stack is rolling back (so the check must neither write
    nor fail), or its status cannot be read (then it cannot tell, and doing nothing is the safe side)."""
    try:
        status = stack.status(services.stack, stack_id)
    except Exception as error:  # noqa: BLE001 - a failure here must not fail a rollback
        return f"stack status unreadable: {describe(error)}"
    return f"stack is {status}" if stack.is_rolling_back(status) else ""


class DriftNotCorrected(Exception):
    pass


def run_check(services: Services, items: list[Item], stack_id: str) -> Report:
    """The drift check over some configs, with its metrics; raises when any correction failed."""
    report = check(services.lambda_api, services.records, items)
    emit_metrics(stack_id, report)
    if report.failed:
        raise DriftNotCorrected(report.failure_reason())
    return report


def emit_metrics(stack_id: str, report: Report, explained_failures: bool = False) -> None:
    """The check's counts as CloudWatch metrics of the stack (embedded metric format: a log line, no API call)."""
    metrics(METRICS_NAMESPACE, {METRICS_DIMENSION: stack.name(stack_id)}, report.counts(explained_failures))


def scheduled(event: Mapping[str, Any], services_for: ServicesFor) -> dict[str, Any]:
    """The scheduled drift check (EventBridge): the configs the stack holds now, as CloudFormation lists them, each
    checked only if its record names that very resource as owner, and the members its groups carry now (found by
    their claims, `members.current`). Skipped while a deploy is under way (its own check
    runs); failures that come from a deploy that started meanwhile (a config removed, its permission gone) are
    reported as such. Other failures raise, so the invocation counts as an error in the function's metrics."""
    stack_id = str(event[SCHEDULE_KEY].get("StackId", ""))
    decision("received", request="ScheduledDriftCheck", stack_id=stack_id)
    services = services_for(DRIFT_CHECK_RATE, SCHEDULED_PROPAGATION_WINDOW)
    before = stack.describe(services.stack, stack_id)
    if before[0].endswith("_IN_PROGRESS"):
        decision("drift_check_skipped", request="ScheduledDriftCheck", reason=f"stack is {before[0]}")
        return {"summary": f"skipped: the stack is {before[0]}", DATA_CORRECTED: 0}
    held = stack.holdings(services.stack, stack_id)
    # A stack of several handlers schedules each for its own groups (`Groups`); the first also checks the configs of
    # their own resources (`Own`). Without `Groups`, the one handler checks everything.
    mine = event[SCHEDULE_KEY].get("Groups")
    groups = held.groups if mine is None else held.groups & frozenset(mine)
    own = held.configs if mine is None or event[SCHEDULE_KEY].get("Own") else []
    items = owned(
        services,
        [(Target.of_arn(physical_id), Owner(stack_id, logical_id).__eq__) for logical_id, physical_id in own],
    )
    read = frozenset(item.claim for item in items)
    items += [Item(m.target, m.record, "", m.claim) for m in members.current(services.records, groups, read)]
    report = check(services.lambda_api, services.records, items)
    summary = {"summary": report.summary(), DATA_CORRECTED: len(report.corrected)}
    overtaken = not any(result.unsettled for result in report.failed)
    if report.failed and overtaken and stack.describe(services.stack, stack_id) != before:
        decision("drift_check_overtaken", failed=len(report.failed), reason="a deploy changed the stack meanwhile")
        emit_metrics(stack_id, report, explained_failures=True)
        return summary | {"summary": f"{report.summary()}; the stack changed during the check, failures ignored"}
    emit_metrics(stack_id, report)
    if report.failed:
        raise DriftNotCorrected(report.failure_reason())
    return summary
