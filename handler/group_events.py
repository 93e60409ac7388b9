"""A group's events (`Custom::LambdaAsyncInvokeConfigs`): many configs carried by one resource, each kept with the
promises of a config of its own (its claim, owned as `<group>/<key>`; the config read, then written only where it
differs; given back as found when it goes), one event of the group at a time (its lock).

A member a Create or Update adds or keeps is claimed and written at once, in key order. A member an Update drops is
only marked (`Record.leaving`): the Update answers a new physical id, so CloudFormation deletes the old one in the
cleanup phase, once every resource of the stack is created or updated, and that Delete gives the dropped members
back. A member that moved to another group (or to a resource of its own) has been taken over by then, and is left as
it is; a rollback's Update claims the members of the old properties back, which clears their marks. A member whose
function changed (a replaced function) lets go of the old function as soon as the new one is written. A rollback's
Update lets go at once of the members the update it undoes added (given back, or handed back to the group it took
them from) and keeps its physical id: that update may have been cancelled, its answer ignored, and CloudFormation
then sends no Delete that would give them back later (as a config's rollback lets go of a config its cancelled
Update moved to: `config_events.abandoned`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import claims
import stack
from config_events import WAIT_RESERVE, begin, cancelled, claim_and_write, go_on, let_go_of
from contract import (
    DATA_CHECKED,
    DATA_CORRECTED,
    DATA_RELEASED,
    GROUP_ID_PREFIX,
    REMOVAL_RETAIN,
    InvalidProperty,
    member_owner,
)
from log import decision
from plan import NONE, Owner
from reconcile import describe
from services import Outcome, Services
from settings import Declared, Target, members_of


class MemberFailed(Exception):
    """One member of a group could not be kept as declared; the message names its function."""


@dataclass(frozen=True)
class Kept:
    """A member this event claimed and wrote (or found in sync): what to undo if the event is cancelled."""

    target: Target
    claimed: claims.Claimed
    live: dict[str, Any] | None
    action: str


def member(event: Mapping[str, Any], key: str) -> Owner:
    return Owner(str(event.get("StackId", "")), member_owner(str(event.get("LogicalResourceId", "")), key))


def group_id(logical_id: str, keys: list[str], previous: str = "") -> str:
    """A group's physical id: new whenever an Update drops a member (a digest of the id it had and the members it
    keeps), the same for a duplicate of that Update."""
    digest = hashlib.sha256(json.dumps([previous, sorted(keys)]).encode()).hexdigest()[:16]
    return f"{GROUP_ID_PREFIX}{logical_id}:{digest}"


def configure(event: Mapping[str, Any], services: Services) -> Outcome:
    """A group's Create and Update: each member claimed and written as a config's own event would; members it drops
    marked for the cleanup's Delete. A rollback's Update that Lambda refuses for good on one member (its function is
    gone) logs it and goes on, so that the rollback completes."""
    kind, logical_id = str(event.get("RequestType")), str(event.get("LogicalResourceId", ""))
    members = members_of(event.get("ResourceProperties") or {})
    before = members_of(event.get("OldResourceProperties") or {}) if kind == "Update" else {}
    stack_id = str(event.get("StackId", ""))
    rollback, deploying = begin(services, stack_id, kind)
    kept: list[Kept] = []
    group = Owner(stack_id, logical_id)
    with services.one_at_a_time(group, str(event.get("RequestId", "")), WAIT_RESERVE if rollback else 0.0) as hold:
        if not go_on(services, group, hold, rollback, deploying):
            decision("left_to_running_event", request=kind, group=logical_id)
            return Outcome(str(event.get("PhysicalResourceId") or group_id(logical_id, list(members))))
        for key, declared in sorted(members.items()):
            old = before.get(key)
            first = old is None or old.target != declared.target
            done = keep(services, declared, member(event, key), first, rollback)
            if done is not None:
                kept.append(done)
        for key, old in sorted(before.items()):
            moved = key in members and members[key].target != old.target
            if moved or (rollback and key not in members):  # let go of now: no Delete may come for it
                let_go_of(services, old.target, member(event, key), old.removal_policy == REMOVAL_RETAIN)
            elif key not in members:
                mark_leaving(services, old.target, member(event, key))
        if not rollback:
            cancelled(services, stack_id, deploying, *[(done.target, done.claimed, done.live) for done in kept])
    dropped = [] if rollback else sorted(set(before) - set(members))
    previous = str(event.get("PhysicalResourceId") or "")
    physical_id = group_id(logical_id, list(members), previous) if dropped or not previous else previous
    corrected = [done for done in kept if done.action != NONE]
    decision(
        "group_converged",
        request=kind,
        group=logical_id,
        members=len(members),
        written=[str(done.target) for done in corrected][:50],
        dropped=len(dropped),
        physical_id=physical_id,
    )
    return Outcome(physical_id, data={DATA_CHECKED: str(len(members)), DATA_CORRECTED: str(len(corrected))})


def keep(services: Services, declared: Declared, owner: Owner, first: bool, rollback: bool) -> Kept | None:
    """One member, as a config's own event would keep it (`claim_and_write`); a failure names its function."""
    target = declared.target
    try:
        claimed, live, done = claim_and_write(services, declared, owner, first, rollback)
    except Exception as error:
        raise MemberFailed(f"{target}: {describe(error)}") from error
    if done is None:
        return None
    if done.step.action != NONE:
        decision(
            "converged",
            function=done.function_arn,
            owner=owner.logical_id,
            action=done.step.action,
            changed=list(done.step.changed),
            ownership=claimed.ownership.action,
            declared=declared.settings.labelled(),
            live_before=done.live_before.labelled() if done.live_before else None,
        )
    return Kept(target, claimed, live, done.step.action)


def mark_leaving(services: Services, target: Target, owner: Owner) -> None:
    """A member the Update drops: its claim, if this member still owns it, says so; the cleanup gives it back."""
    link = claims.own(services.records, target, owner)
    record = link.record if link is not None else None
    if link is None or record is None or record.owner != owner or record.leaving:
        return
    services.records.overwrite(link.name, replace(record, leaving=True))
    decision("member_dropped", function=str(target), owner=owner.logical_id)


def remove(event: Mapping[str, Any], services: Services) -> Outcome:
    """A group's Delete. The old physical id of a group still in the stack (an Update dropped members): only the
    members marked as dropped go. The group itself going (removed, its stack deleted, a failed Create rolled back):
    every member it owns goes, each as a config's Delete would (deleted, put back as found, or retained; left to the
    resource that took it over). Every member is tried; the event fails if any could not be given back."""
    physical_id, logical_id = str(event.get("PhysicalResourceId", "")), str(event.get("LogicalResourceId", ""))
    stack_id = str(event.get("StackId", ""))
    try:
        members = members_of(event.get("ResourceProperties") or {})
    except InvalidProperty as error:
        decision("delete_skipped", physical_id=physical_id, reason=str(error))
        return Outcome(physical_id)
    released, failures = 0, []
    with services.one_at_a_time(Owner(stack_id, logical_id), str(event.get("RequestId", "")), WAIT_RESERVE) as hold:
        if not hold.held:
            decision("left_to_running_event", request="Delete", group=logical_id)
            return Outcome(physical_id)
        superseded = still_held(services, stack_id, logical_id, physical_id)
        for key, declared in sorted(members.items()):
            owner = member(event, key)
            if superseded and not dropped(services, declared.target, owner):
                continue
            try:
                let_go_of(services, declared.target, owner, declared.removal_policy == REMOVAL_RETAIN)
                released += 1
            except Exception as error:  # noqa: BLE001 - the others are still given back; the event then fails
                failures.append(f"{declared.target}: {describe(error)}")
    if failures:
        raise MemberFailed(f"{len(failures)} of {len(members)} configs not given back: {'; '.join(failures[:5])}")
    return Outcome(physical_id, data={DATA_RELEASED: str(released)})


def still_held(services: Services, stack_id: str, logical_id: str, physical_id: str) -> bool:
    """Whether this Delete is of a group's old physical id while the group stays (an Update dropped members, or a
    rollback's Update put members back), as opposed to the group going."""
    status = stack.status(services.stack, stack_id)
    if status in ("DELETE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
        return False
    current = stack.current_physical_id(services.stack, stack_id, logical_id)
    return current is not None and current != physical_id and current.startswith(GROUP_ID_PREFIX)


def dropped(services: Services, target: Target, owner: Owner) -> bool:
    """Whether an old physical id's Delete lets go of this member: it was marked as dropped, or another resource
    took it over from it (then only the handover is forgotten)."""
    link = claims.own(services.records, target, owner)
    record = link.record if link is not None else None
    return record is not None and (record.owner != owner or record.leaving)
