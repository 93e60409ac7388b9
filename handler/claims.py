"""The claim protocol: who owns a live config, decided by the service (a claim is created only if absent), changed only
by its owner's stack (IAM), and taken over when its owner is gone. `plan.claim` and `plan.release` decide; this
module reads and writes the claims (`records.py`) and asks CloudFormation whether an owner still exists (`stack.py`).

Every write to a config happens while its owner's claim stands: a Create or Update claims before it writes the
config, and a Delete gives the config back before it deletes the claim, so that another stack can claim a config
only once its last owner has let go of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import stack
from lambda_api import Api
from log import decision
from plan import KEEP, REFUSE, TAKE_OVER_STALE, Owner, Ownership, Record, claim
from reconcile import Refused
from records import Link, Records
from settings import Settings, Target, from_api

ATTEMPTS = 3


@dataclass(frozen=True)
class Claimed:
    """A claim this event wrote (or kept): where it is, what it says, and what was there before (None: created)."""

    link: Link
    ownership: Ownership
    before: Record | None
    created: bool

    @property
    def record(self) -> Record:
        assert self.link.record is not None
        return self.link.record


def take(
    records: Records,
    cloudformation: Api,
    target: Target,
    owner: Owner,
    declared: Settings,
    retain: bool,
    read_live: Callable[[], dict[str, Any] | None],
    first: bool,
) -> tuple[Claimed, dict[str, Any] | None]:
    """Claim the config for `owner` before it is written: a new claim if there is none (or a successor of one whose
    owner is gone), this stack's own claim rewritten otherwise. Refused, untouching, when another live resource owns
    it. A claim created meanwhile by another event makes this one decide again. Returns the claim and the live config
    (`read_live`), read again once a new claim stands (`settled`): a last owner gives the config back before it
    releases its claim, so a config read once this claim stands is as that owner left it."""
    config_arn = target.arn(owner.stack_id)
    for _ in range(ATTEMPTS):
        link = records.find(target)
        found = link.record
        live = read_live()
        gone = None
        if found is not None and found.owner != owner:
            gone = stack.gone(cloudformation, found.owner.stack_id, found.owner.logical_id, config_arn, found.leaving)
            if gone is not None and records.get(link.name) != found:
                continue  # its owner let go of it meanwhile: decide again on what is there now
        ownership = claim(owner, declared, retain, found, from_api(live) if live else None, first, gone)
        if ownership.action == REFUSE or ownership.record is None:
            raise Refused(f"{target} is {ownership.reason}.")
        if found is not None and ownership.action == TAKE_OVER_STALE:
            decision("stale_claim_taken_over", function=str(target), previous_owner=str(found.owner), reason=gone)
        if found is None or (ownership.action == TAKE_OVER_STALE and found.owner.stack_id != owner.stack_id):
            name = link.name if found is None else link.successor()
            created = records.create(name, ownership.record)
            if created is None:
                continue  # claimed by another event since it was read
            claimed = Claimed(Link(name, created, link.base), ownership, None, True)
            return settled(records, claimed, owner, declared, retain, read_live, live, first)
        if ownership.action == KEEP and ownership.record == found:
            return Claimed(link, ownership, found, False), live
        records.overwrite(link.name, ownership.record)
        return Claimed(Link(link.name, ownership.record, link.base), ownership, found, False), live
    raise Refused(f"{target} was claimed by other events while this one claimed it; deploy again.")


def settled(
    records: Records,
    claimed: Claimed,
    owner: Owner,
    declared: Settings,
    retain: bool,
    read_live: Callable[[], dict[str, Any] | None],
    live: dict[str, Any] | None,
    first: bool,
) -> tuple[Claimed, dict[str, Any] | None]:
    """A claim just created, and the live config read again now that it stands: the read before it may have caught
    another event's writes between its claim and its undoing (that event claimed after this one found no claim, and let
    go before this one claimed). Read now, the config is as its last owner left it; the claim is rewritten if what it
    found differs."""
    now = read_live()
    found = from_api(now) if now else None
    if found == (from_api(live) if live else None):
        return claimed, now
    decision(
        "found_changed_while_claiming",
        claim=claimed.link.name,
        before=from_api(live).labelled() if live else None,
        now=found.labelled() if found else None,
    )
    ownership = claim(owner, declared, retain, None, found, first)
    assert ownership.record is not None
    record = replace(ownership.record, claim_id=claimed.record.claim_id, version=claimed.record.version)
    records.overwrite(claimed.link.name, record)
    return Claimed(Link(claimed.link.name, record, claimed.link.base), ownership, None, True), now


def undo(records: Records, claimed: Claimed) -> None:
    """The claim as this event found it."""
    if claimed.created:
        records.delete(claimed.link.name)
    elif claimed.before is not None and claimed.before != claimed.record:
        records.overwrite(claimed.link.name, claimed.before)


def own(records: Records, target: Target, owner: Owner) -> Link | None:
    """The claim that names `owner`, as owner or as the owner it was handed over from (a rename); None if none does."""
    link = records.find(target)
    record = link.record
    if record is None:
        return None
    if record.owner == owner or (record.previous is not None and record.previous.owner == owner):
        return link
    return None
