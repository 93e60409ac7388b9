"""The decision: what to write so that the live config matches the declared one. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from settings import Settings

PUT = "put"
UPDATE = "update"
DELETE = "delete"
NONE = "none"


@dataclass(frozen=True)
class Plan:
    action: str
    changed: tuple[str, ...] = ()
    request: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def plan(desired: Settings, current: Settings | None) -> Plan:
    """Put when there is no config or a field must go away (Update cannot remove), Update the differing fields
    otherwise, nothing when in sync. A field left undeclared must be unset live: an AWS default is not a match."""
    wanted = desired.labelled()
    if current is None:
        changed = tuple(label for label, value in wanted.items() if value is not None)
        return Plan(PUT, changed, desired.request(), "no config exists")
    live = current.labelled()
    changed = tuple(label for label in wanted if wanted[label] != live[label])
    if not changed:
        return Plan(NONE, reason="in sync")
    removed = [label for label in changed if wanted[label] is None]
    if removed:
        return Plan(PUT, changed, desired.request(), f"{', '.join(removed)} must be removed")
    return Plan(UPDATE, changed, desired.request(only=changed), "fields differ")


# Who owns a live config. Each config (function and qualifier, in an account and region) has one owning resource at
# a time, named by its stack and logical id. A config that existed before its owner's first Create is borrowed: the
# owner keeps the config as found (`prior`) and puts it back when it goes.


@dataclass(frozen=True)
class Owner:
    stack_id: str
    logical_id: str

    def __str__(self) -> str:
        parts = self.stack_id.split("/")
        stack = f"{parts[1]} ({self.stack_id})" if len(parts) > 2 else self.stack_id
        return f"resource {self.logical_id} of stack {stack}"


@dataclass(frozen=True)
class Handover:
    """The owner a resource of the same stack took a config over from (a rename or a move), kept until that owner's
    Delete arrives, so that a rollback can hand the config back."""

    owner: Owner
    declared: Settings
    retain: bool = False


@dataclass(frozen=True)
class Record:
    owner: Owner
    declared: Settings
    retain: bool = False
    prior: Settings | None = None
    previous: Handover | None = None
    claim_id: str = ""  # this claim instance: a successor claim, if its owner goes away, is named after it
    leaving: bool = False  # a group dropped it: given back when the group's old physical id is deleted
    version: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Ownership:
    """What an event does about ownership, why, and the record it writes (if any)."""

    action: str
    reason: str
    record: Record | None = None


REFUSE = "refuse"
CLAIM = "claim"
KEEP = "keep"
TAKE_OVER = "take over"
TAKE_OVER_STALE = "take over a stale claim"


def claim(
    owner: Owner,
    declared: Settings,
    retain: bool,
    found: Record | None,
    live: Settings | None,
    first: bool,
    stale: str | None = None,
) -> Ownership:
    """A Create or Update: which record to write before the config is touched. `first` is true when this resource
    has not configured this function and qualifier before (a Create, or an Update that retargets); `stale` says why
    the owner `found` names is gone (its stack deleted, its resource no longer in that stack), None while it lives."""
    if found is None:
        prior = live if first else None
        reason = "borrowed: a config existed before" if prior else "no owner"
        return Ownership(CLAIM, reason, Record(owner, declared, retain, prior))
    if found.owner == owner:
        return Ownership(
            KEEP, "already the owner", Record(owner, declared, retain, found.prior, found.previous, found.claim_id)
        )
    if stale is not None:
        return Ownership(
            TAKE_OVER_STALE,
            f"borrowed from {found.owner}, which is gone ({stale})",
            Record(owner, declared, retain, live),
        )
    if found.owner.stack_id == owner.stack_id:
        handover = Handover(found.owner, found.declared, found.retain)
        return Ownership(
            TAKE_OVER,
            f"taken over from {found.owner.logical_id}",
            Record(owner, declared, retain, found.prior, handover, found.claim_id),
        )
    return Ownership(REFUSE, f"owned by {found.owner}; remove it there first (or deploy that removal first)")


LEAVE = "leave"
FORGET_PREVIOUS = "forget previous owner"
HAND_BACK = "hand back"
RELEASE = "release"
RESTORE = "restore"


def release(owner: Owner, found: Record | None, retain: bool, rolling_back: bool) -> Ownership:
    """A Delete: what happens to the config and its record. Only the owner touches the config: a config it created
    is deleted, a borrowed one is put back as found, and `retain` leaves it as declared."""
    if found is None:
        return Ownership(LEAVE, "no record: this resource owns no config here")
    if found.owner != owner:
        if found.previous is not None and found.previous.owner == owner:
            return Ownership(
                FORGET_PREVIOUS, f"ownership moved to {found.owner.logical_id}", replace(found, previous=None)
            )
        return Ownership(LEAVE, f"owned by {found.owner}")
    if found.previous is not None and rolling_back:
        back = found.previous
        record = Record(back.owner, back.declared, back.retain, found.prior, claim_id=found.claim_id)
        return Ownership(HAND_BACK, f"rollback: handed back to {back.owner.logical_id}", record)
    if retain:
        return Ownership(RELEASE, "RemovalPolicy retain: the config stays as declared")
    if found.prior is not None:
        return Ownership(RESTORE, "borrowed: put back as found")
    return Ownership(DELETE, "created by this resource")
