"""A config's own events (`Custom::LambdaAsyncInvokeConfig`), each run while it holds its resource's lock: Create and
Update claim the config, then write what differs; Delete gives the config back, then releases its claim.

CloudFormation may run a resource's events at once (a cancelled Create and its Delete, a cancelled Update and its
rollback's Update), deliver one twice, or deliver one late: the lock runs them one at a time; a Create or Update that
finds, once done, that its stack is no longer deploying undoes itself; a rollback's Update releases a config the
cancelled Update claimed (CloudFormation, having ignored that Update's answer, sends no Delete for it)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import claims
import stack
from contract import REMOVAL_POLICY, REMOVAL_RETAIN, InvalidProperty, is_config_arn
from log import decision
from plan import DELETE, FORGET_PREVIOUS, HAND_BACK, NONE, RELEASE, RESTORE, Owner, release
from reconcile import Reconciled, cannot_succeed, converge, describe, let_go, reconcile
from services import Hold, Outcome, Services
from settings import Declared, Target, from_api, from_properties

# A Delete or a rollback's Update that waits for another event of its resource (the cancelled Create or Update it
# undoes) stops waiting this long before its deadline, and a Create or an Update that is not a rollback's ends (done,
# or undone) as long before its own: begun earlier, it has always let go of the resource before its waiting events
# give up; were it not so, a rollback would not fail for waiting, and that event would undo itself (`cancelled`).
WAIT_RESERVE = 60.0
# The stack statuses in which CloudFormation sends a resource a Create, and an Update that is not a rollback's. An
# event that finds its stack in any other status when it is done was cancelled (or delivered late), and undoes itself.
CREATE_STATUSES = frozenset({"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"})
UPDATE_STATUSES = frozenset({"UPDATE_IN_PROGRESS"})


def owner_of(event: Mapping[str, Any]) -> Owner:
    return Owner(str(event.get("StackId", "")), str(event.get("LogicalResourceId", "")))


class Busy(Exception):
    """A Create or Update that could not have its resource's lock before its deadline."""


class Cancelled(Exception):
    """A Create or Update whose stack, once it was done, was no longer deploying: CloudFormation had cancelled it
    (another resource failed) or delivered it late; its changes are undone."""


def configure(event: Mapping[str, Any], services: Services) -> Outcome:
    """A config's Create and Update, one event of the resource at a time: claim the config (the claim is written
    before the config is touched), then write only what differs from the live config. A config another live
    resource owns is refused, untouched. A rollback's Update that Lambda refuses for good (the function, alias or
    destination is gone) is logged, not failed, so that the rollback completes."""
    properties = event.get("ResourceProperties") or {}
    declared = from_properties(properties)
    target, owner, kind = declared.target, owner_of(event), str(event.get("RequestType"))
    rollback, deploying = begin(services, owner.stack_id, kind)
    with services.one_at_a_time(owner, str(event.get("RequestId", "")), WAIT_RESERVE if rollback else 0.0) as hold:
        if not go_on(services, owner, hold, rollback, deploying):
            decision("left_to_running_event", request=kind, function=str(target))
            return Outcome(str(event.get("PhysicalResourceId") or target.arn(owner.stack_id)))
        first = kind == "Create" or event.get("PhysicalResourceId") != target.arn(owner.stack_id)
        claimed, live, done = claim_and_write(services, declared, owner, first, rollback)
        if rollback:
            abandoned(event, services, target, owner)
        else:
            cancelled(services, owner.stack_id, deploying, (target, claimed, live))
    if done is None:
        return Outcome(target.arn(owner.stack_id))
    decision(
        "converged",
        request=kind,
        function=done.function_arn,
        action=done.step.action,
        reason=done.step.reason,
        changed=list(done.step.changed),
        ownership=claimed.ownership.action,
        ownership_reason=claimed.ownership.reason,
        declared=declared.settings.labelled(),
        live_before=done.live_before.labelled() if done.live_before else None,
    )
    previous = event.get("PhysicalResourceId")
    if previous and previous != done.function_arn:
        decision("replaced", previous=previous, current=done.function_arn, note="CloudFormation deletes it later")
    return Outcome(done.function_arn, done.step.action, done.step.changed)


def begin(services: Services, stack_id: str, kind: str) -> tuple[bool, frozenset[str]]:
    """Whether a Create or Update is a rollback's, and the stack statuses it may run in. One that is not a
    rollback's and finds its stack in no such status was cancelled or delivered late (Cancelled); otherwise it ends
    (done, or undone) before any event that waits for it gives up (`WAIT_RESERVE`)."""
    status = stack.status(services.stack, stack_id)
    rollback = kind == "Update" and stack.is_rolling_back(status)
    deploying = CREATE_STATUSES if kind == "Create" else UPDATE_STATUSES
    if not rollback:
        if status not in deploying:
            raise Cancelled(f"the stack is {status}: this event was cancelled or delivered late; nothing was changed.")
        services.deadline.at -= WAIT_RESERVE
    return rollback, deploying


def go_on(services: Services, resource: Owner, hold: Hold, rollback: bool, deploying: frozenset[str]) -> bool:
    """Once the resource's lock was tried: False for a rollback's event that could not have it (the running event
    is left to finish); Busy for any other; Cancelled for one that waited while its stack moved on (the event it
    waited for may have been its own Delete, now answered)."""
    if not hold.held and not rollback:
        raise Busy(f"another event of resource {resource.logical_id} still runs; deploy again.")
    if hold.waited and hold.held and not rollback:
        status = stack.status(services.stack, resource.stack_id)
        if status not in deploying:
            raise Cancelled(f"the stack is {status}: this event was cancelled as it waited; nothing was changed.")
    return hold.held


def claim_and_write(
    services: Services, declared: Declared, owner: Owner, first: bool, rollback: bool
) -> tuple[claims.Claimed, dict[str, Any] | None, Reconciled | None]:
    """Claim the config for `owner`, then write only what differs. A failure undoes both (the config as read, the
    claim as found) and raises, but for a rollback's write that Lambda refuses for good (the function, alias or
    destination is gone): that is logged, and nothing is written (None)."""
    target = declared.target
    retain = declared.removal_policy == REMOVAL_RETAIN
    claimed, live = claims.take(  # reads the config before any write: IAM refuses a function no config declares
        services.records,
        services.stack,
        target,
        owner,
        declared.settings,
        retain,
        lambda: services.lambda_api.get(**target.params()),
        first,
    )
    try:
        return claimed, live, converge(services.lambda_api, target, declared.settings, live)
    except Exception as error:
        if not (rollback and cannot_succeed(error)):
            undo(services, target, claimed, live)
            raise
        decision("rollback_not_written", function=str(target), reason=describe(error))
        return claimed, live, None


Written = tuple[Target, claims.Claimed, dict[str, Any] | None]  # a config claimed and written, as read before


def cancelled(services: Services, stack_id: str, deploying: frozenset[str], *written: Written) -> None:
    """After a Create's or Update's writes: if its stack is no longer deploying, the event was cancelled (its Delete
    or its rollback's Update may have given up waiting for it) or delivered late: undo each config it wrote (the
    last first) and fail."""
    try:
        status = stack.status(services.stack, stack_id)
    except Exception as error:  # noqa: BLE001 - cannot tell: the events that undo this one, if any, still will
        decision("stack_status_unread", error=describe(error))
        return
    if status not in deploying:
        for target, claimed, live in reversed(written):
            undo(services, target, claimed, live)
        raise Cancelled(f"the stack is {status}: this event was cancelled or delivered late; its changes are undone.")


def undo(services: Services, target: Target, claimed: claims.Claimed, live: dict[str, Any] | None) -> None:
    """A Create or Update that failed (or was cancelled) after its claim: the config as read at the start, then the
    claim as found."""
    try:
        let_go(services.lambda_api, target, from_api(live) if live is not None else None)
        claims.undo(services.records, claimed)
    except Exception as error:  # noqa: BLE001 - the event fails with its own reason either way
        decision("undo_failed", function=str(target), error=describe(error))


def remove(event: Mapping[str, Any], services: Services) -> Outcome:
    """A config's Delete, one event of the resource at a time: only the owner touches the config (deleted if it
    created it, put back as found if it borrowed it, left if retained), and gives it back before it deletes its
    claim; the Delete of a resource that handed the config on leaves it alone."""
    physical_id = str(event.get("PhysicalResourceId", ""))
    target = Target.of_arn(physical_id) if is_config_arn(physical_id) else target_of(event)
    if target is None:
        decision("delete_skipped", physical_id=physical_id, reason="not a config this resource created")
        return Outcome(physical_id)
    owner = owner_of(event)
    with services.one_at_a_time(owner, str(event.get("RequestId", "")), WAIT_RESERVE) as hold:
        if not hold.held:
            decision("left_to_running_event", request="Delete", function=str(target))
            return Outcome(physical_id)
        retain = str((event.get("ResourceProperties") or {}).get(REMOVAL_POLICY, "")).lower() == REMOVAL_RETAIN
        action = let_go_of(services, target, owner, retain)
    return Outcome(physical_id, action)


def let_go_of(services: Services, target: Target, owner: Owner, retain: bool) -> str:
    """What the owner `owner` leaves when it goes: the config given back (or handed back, in a rename's rollback),
    then its claim released."""
    link = claims.own(services.records, target, owner)
    found = link.record if link is not None else None
    rolling_back = (
        found is not None
        and found.owner == owner
        and found.previous is not None
        and stack.is_rolling_back(stack.status(services.stack, owner.stack_id))
    )
    step = release(owner, found, retain, rolling_back)
    action = NONE
    if link is not None and step.record is not None and step.action in (FORGET_PREVIOUS, HAND_BACK):
        services.records.overwrite(link.name, step.record)
        if step.action == HAND_BACK:
            action = hand_back(services, target, step.record.declared)
    elif link is not None and found is not None and step.action in (RELEASE, RESTORE, DELETE):
        if step.action != RELEASE:
            action = give_back(services, target, found.prior, link.name, owner.stack_id)
        services.records.delete(link.name)  # only once the config is given back: then another may claim it
    decision("released", function=str(target), ownership=step.action, reason=step.reason, action=action)
    return action


def abandoned(event: Mapping[str, Any], services: Services, target: Target, owner: Owner) -> None:
    """A rollback's Update back from a retarget: the config the cancelled (or failed) Update moved to, if this
    resource claimed it, is let go of as its Delete would, since CloudFormation, having ignored that Update's answer,
    may never send one."""
    try:
        moved = from_properties(event.get("OldResourceProperties") or {})
    except InvalidProperty:
        return
    if moved.target.arn(owner.stack_id) != target.arn(owner.stack_id):
        let_go_of(services, moved.target, owner, moved.removal_policy == REMOVAL_RETAIN)


def hand_back(services: Services, target: Target, declared: Any) -> str:
    try:
        return reconcile(services.lambda_api, target, declared).step.action
    except Exception as error:
        if not cannot_succeed(error):
            raise
        decision("hand_back_not_written", function=str(target), reason=describe(error))
        return NONE


def give_back(services: Services, target: Target, prior: Any, claim: str, stack_id: str) -> str:
    """The config as its owner found it (none, if it created it). A failure that outlasts the retries fails the
    Delete and keeps the claim for a retry, except in a cleanup phase, which CloudFormation never retries: then the
    claim is released all the same."""
    try:
        return let_go(services.lambda_api, target, prior)
    except Exception:
        with contextlib.suppress(Exception):
            status = stack.status(services.stack, stack_id)
            if "CLEANUP" in status:
                decision("claim_released", function=str(target), reason=f"Delete failed during {status}; not retried")
                services.records.delete(claim)
        raise


def target_of(event: Mapping[str, Any]) -> Target | None:
    """The config a resource declares, for a Delete whose physical id names none: a Create that failed (or was
    cancelled, or whose answer was lost) may still have left its claim, which this resource then owns."""
    try:
        return from_properties(event.get("ResourceProperties") or {}).target
    except InvalidProperty:
        return None
