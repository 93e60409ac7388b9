"""The decision: what to write so that the live config matches the declared one. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
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
