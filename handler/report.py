"""The read-only drift report: each config a stack holds (a config resource's, or a member of one of its groups),
what its record declares against the live config. Nothing is written: CloudFormation's list of the stack's
resources, the records (and, for a stack with groups, the names of the claims it created) and the live configs are
only read."""

from __future__ import annotations

from dataclasses import dataclass

import members
import stack
from lambda_api import Api
from plan import NONE, Owner, Record, plan
from records import Records
from settings import Settings, Target, from_api

IN_SYNC = "in sync"
DRIFTED = "drifted"
UNCHECKED = "unchecked"  # no record of this resource says what it declares: nothing to compare with


@dataclass(frozen=True)
class Row:
    logical_id: str
    target: Target
    status: str
    differs: tuple[str, ...] = ()
    declared: Settings | None = None
    live: Settings | None = None
    reason: str = ""


@dataclass(frozen=True)
class Report:
    stack_id: str
    stack_status: str
    rows: list[Row]

    @property
    def in_sync(self) -> bool:
        return all(row.status == IN_SYNC for row in self.rows)


def compare(target: Target, owner: Owner, record: Record | None, live: Settings | None) -> Row:
    """One config: in sync, drifted (the fields that differ; a config that is gone differs in every declared field),
    or unchecked when no record names this resource as the config's owner."""
    if record is None:
        return Row(owner.logical_id, target, UNCHECKED, live=live, reason="no record")
    if record.owner != owner:
        return Row(owner.logical_id, target, UNCHECKED, live=live, reason=f"the record names {record.owner}")
    step = plan(record.declared, live)
    if step.action == NONE:
        return Row(owner.logical_id, target, IN_SYNC, declared=record.declared, live=live)
    return Row(owner.logical_id, target, DRIFTED, step.changed, record.declared, live, step.reason)


def read(cloudformation: Api, lambda_api: Api, ssm: Api, stack_name: str) -> Report:
    """The report of the stack of that name: every config it holds now, as CloudFormation lists them, with the
    records the stack keeps of them; then each member its groups carry now, found by its claim (`members.current`)."""
    stack_id, status = stack.find(cloudformation, stack_name)
    holdings = stack.holdings(cloudformation, stack_id)
    held = [(Owner(stack_id, logical_id), Target.of_arn(arn)) for logical_id, arn in holdings.configs]
    records = Records(ssm, stack_id)
    found = records.held([target for _, target in held])
    claims = [(owner, target, found[target].record) for owner, target in held]
    read = frozenset(link.name for link in found.values())
    claims += [(m.owner, m.target, m.record) for m in members.current(records, holdings.groups, read)]
    rows = []
    for owner, target, record in claims:
        config = lambda_api.get(**target.params())
        live = from_api(config) if config is not None else None
        rows.append(compare(target, owner, record, live))
    return Report(stack_id, status, rows)
