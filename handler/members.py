"""A stack's group members as they stand now, for the checks that start from the stack rather than from a template
(the scheduled drift check, the drift report): a group's properties are not read back from CloudFormation, so the
members are found by their claims. Each claim is tagged with the stack that created it; a claim that names a member
of this stack (`<group>/<key>`) is current when its group is a resource of the stack now and the claim is not marked
`leaving` (dropped by an Update, to be given back by the cleanup).

The cost is the claims': 1 DescribeParameters per 50 claims the stack created (names only), 1 GetParameters per 10 of
them, less the claims already read; nothing at all for a stack with no group."""

from __future__ import annotations

from dataclasses import dataclass

from contract import carrier
from plan import Owner, Record
from records import Records, claimed_config
from settings import Target


@dataclass(frozen=True)
class Member:
    """A config a group of the stack carries now: its owner (`<group>/<key>`), what it configures, and its claim
    (`claim`, the parameter; `record`, what it says)."""

    owner: Owner
    target: Target
    claim: str
    record: Record


def current(records: Records, groups: frozenset[str], read: frozenset[str] = frozenset()) -> list[Member]:
    """The members of `groups` (the stack's groups now), by owner; `read` names claims the caller has read already
    (a config resource's), which are not read again. A config is listed once, under the claim that counts: a
    successor rather than the claim it succeeded."""
    if not groups:
        return []
    names = sorted(name for name in records.tagged() if name not in read)
    partition = records.stack_id.split(":")[1]
    found: dict[Target, Member] = {}
    for name, record in sorted(records.read(names).items()):
        owner = record.owner
        if owner.stack_id != records.stack_id or carrier(owner.logical_id) not in groups or record.leaving:
            continue
        target = Target.of_arn(claimed_config(name, partition))
        if target not in found or len(name) > len(found[target].claim):
            found[target] = Member(owner, target, name, record)
    return sorted(found.values(), key=lambda member: member.owner.logical_id)
