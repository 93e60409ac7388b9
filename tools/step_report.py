"""A rehearsal step as the report prints it, in lines of at most WIDTH columns: the events CloudFormation sent, where
a deploy failed, the IAM line, what the synth printed, a command's table fitted to the width, a block per config,
and the legend that says how to read them."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import iam
from local_cloud import Deployment

if TYPE_CHECKING:
    from rehearsal_fleet import Fleet

WIDTH = 120


@dataclass
class Row:
    """One config resource's physical config in a step (a replaced config has two: the old target, then the new)."""

    logical_id: str
    target: str
    declared: str
    before: str
    after: str
    owner: str
    physical_id: str = ""


@dataclass
class Step:
    title: str
    status: str
    events: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)
    live_after: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    deployment: Deployment | None = None
    notes: list[str] = field(default_factory=list)
    checks: str = ""
    synth: list[str] = field(default_factory=list)  # what the synth printed, when it differs from the last shown
    report: list[str] = field(default_factory=list)  # a command's output, shown as printed where it fits
    fleet: Fleet | None = None  # the configs the stack's groups carry, counted
    surprises: list[str] = field(default_factory=list)  # where the step did not end as its scenario expects

    def render(self) -> str:
        """The step in lines of at most WIDTH columns: its events, what they mean, and each config in a block."""
        lines = wrap(f"== {self.title}: {self.status}", "", "   ")
        for line in self.synth:
            lines += wrap(line.lstrip(" "), " " * (3 + len(line) - len(line.lstrip(" "))), " " * 9)
        for event in self.events or ["(no events: nothing in the template changed)"]:
            lines += wrap(event, "   ", " " * (12 if event.startswith("  ") else 6))
        if self.report:
            title, *table = self.report
            lines += wrap(title, "   ", "      ")
            for line in fit_table(table, WIDTH - 3):
                cells = re.match(r"\s*\S+\s+", line)  # a cell too long goes on under the next one
                lines += wrap(line, "   ", " " * (3 + (cells.end() if cells else 0)))
        lines += wrap(self.checks, "   ", "        ") if self.checks else []
        for note in self.notes:
            lines += wrap(note, "   > ", "     ")
        for surprise in self.surprises:
            lines += wrap(f"UNEXPECTED: {surprise}", "   > ", "     ")
        for row in self.rows:
            lines += wrap(f"{row.logical_id} on {row.target}; record's owner: {row.owner}", "   ", "      ")
            for label, value in (("declared", row.declared), ("live before", row.before), ("live after", row.after)):
                lines += wrap(f"{label:<11}  {value}", "      ", " " * 19)
        lines += self.fleet.render() if self.fleet else []
        return "\n".join(lines)


def wrap(text: str, indent: str, subsequent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=subsequent, break_on_hyphens=False) or [
        indent.rstrip()
    ]


def events(deployment: Deployment | None, template: dict[str, Any] | None) -> list[str]:
    """Each event CloudFormation sent the handler and its answer, under the stack status it was sent in, and where the
    deploy failed: the failing resource and its reason, before the rollback's events."""
    if deployment is None:
        return []
    lines: list[str] = []
    width = max((len(sent.logical_id) for sent in deployment.sent), default=0)
    phase, failure = "", failed(deployment, template)
    for sent in deployment.sent:
        if failure and "ROLLBACK" in sent.phase:
            lines, failure = [*lines, failure], ""
        if sent.phase != phase:
            lines.append(f"stack {sent.phase}")
            phase = sent.phase
        data = sent.answer.get("Data") or {}
        detail = ", ".join(f"{k}={str(v).replace(',', ', ')}" for k, v in data.items() if v and k != "FunctionArn")
        reason = detail or sent.answer.get("Reason", "")
        lines.append(f"  {sent.request:<6} {sent.logical_id:<{width}}  {sent.status:<7}  {reason}".rstrip())
        lines += [f"  DENIED {action} on {resource}" for action, resource in sent.denied]
    return lines + ([failure] if failure else [])


def failed(deployment: Deployment, template: dict[str, Any] | None) -> str:
    """Where and why a deploy failed, as CloudFormation's events say it: the first resource that failed."""
    if not deployment.failure:
        return ""
    logical_id, _, reason = deployment.failure.partition(": ")
    kind = "create" if deployment.status.startswith("ROLLBACK") else "update"
    if any(sent.logical_id == logical_id and sent.status == "FAILED" for sent in deployment.sent):
        return f"the stack's {kind} failed at {logical_id} (the reason above); CloudFormation rolls it back"
    resource_type = ((template or {}).get("Resources", {}).get(logical_id) or {}).get("Type", "")
    reason = reason.removeprefix(f"{resource_type} {logical_id}: ")
    return f"the stack's {kind} failed at {logical_id} ({resource_type}): {reason}; CloudFormation rolls it back"


def checks(deployment: Deployment | None) -> str:
    """How many calls the handler made in a step, each checked against the handler role's policy then."""
    calls = [verdict for sent in (deployment.sent if deployment else []) for _, _, verdict in sent.calls]
    line = f"IAM: {len(calls)} handler calls checked against the policy, {calls.count(iam.DENIED)} denied"
    if calls.count(iam.PROPAGATING):
        line += f", {calls.count(iam.PROPAGATING)} refused while a new grant propagated (and retried)"
    return line + ("" if deployment else " (no deploy: the handler did not run)")


def fit_table(table: list[str], room: int) -> list[str]:
    """A table's lines as printed if they fit in `room` columns; otherwise its first columns as a table, and each of
    the others under each row, by its header (the columns start where their header does, as in the drift report)."""
    if not table or max(len(line) for line in table) <= room:
        return table
    header, *rows = table
    starts = [match.start() for match in re.finditer(r"\S+", header)]
    names = header.split()
    keep = next(
        (n for n in range(len(starts) - 1, 0, -1) if all(len(line[: starts[n]].rstrip()) <= room for line in table)), 1
    )
    width = max(len(name) for name in names[keep:])
    lines = [header[: starts[keep]].rstrip()]
    for row in rows:
        lines.append(row[: starts[keep]].rstrip())
        for column in range(keep, len(starts)):
            cell = row[starts[column] : starts[column + 1] if column + 1 < len(starts) else None].strip()
            lines.append(f"    {names[column]:<{width}}  {cell}")
    note = f"(the table is {max(len(line) for line in table)} columns wide: its columns from `{names[keep]}` on are "
    return [*lines, note + "shown under each row)"]


LEGEND = [
    "How to read each step:",
    "- its events: each one CloudFormation sent the handler (request, logical id, status, what the handler did or "
    "why it failed), under the stack status it was sent in, and where a deploy failed, the resource and its reason;",
    "- IAM: how many calls the handler made in the step, each checked against the handler role's policy as "
    "synthesized for that step, and how many that policy denied;",
    "- a block per config the step concerns (declared before or after it, or sent an event in it; none on a function "
    "the stack deleted, whose config went with it): its logical id, "
    "its target (function:qualifier), its record's owner (the resource its claim in SSM names; (borrowed): the config "
    "was found live and is put back as found when that resource goes; (no record): no claim; (native resource): an "
    "AWS::Lambda::EventInvokeConfig, which keeps none), then what the template declares and what Lambda had live "
    "before and after the step;",
    "- the configs a group carries (Custom::LambdaAsyncInvokeConfigs: the defaults'), in one block, counted: how "
    "many are declared so, were live so before and after the step (as declared, (none), or as shown), were written "
    "(how, in which stack status), and whose claim owns them; where 5 or fewer are alike, they are named;",
    "- settings: r= retry attempts, a= maximum event age in seconds, ok= on-success destination, fail= on-failure "
    "destination (by name); - not set; (none) no config.",
]


def legend() -> list[str]:
    return [line for entry in LEGEND for line in wrap(entry, "", "  ")]
