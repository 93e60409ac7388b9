"""The drift report's rows as a CI job reads them: a table with one config per line, or JSON."""

from __future__ import annotations

from typing import Any

import stack
from contract import DESTINATION_PATTERN, MAXIMUM_EVENT_AGE_IN_SECONDS, MAXIMUM_RETRY_ATTEMPTS, parse_function_name
from report import IN_SYNC, Report, Row
from settings import FAILURE_LABEL, SUCCESS_LABEL, Settings

SHORT = {
    MAXIMUM_RETRY_ATTEMPTS: "retries",
    MAXIMUM_EVENT_AGE_IN_SECONDS: "age",
    SUCCESS_LABEL: "on-success",
    FAILURE_LABEL: "on-failure",
}


def render(found: Report) -> str:
    drifted = sum(row.status != IN_SYNC for row in found.rows)
    title = f"stack {stack.name(found.stack_id)} ({found.stack_status}): {len(found.rows)} configs, "
    title += f"{drifted} not in sync" if drifted else "all in sync"
    header = ("function", "qualifier", "status", "differs", "declared", "live")
    table = [header] + [
        (
            parse_function_name(row.target.function_name)[0],
            row.target.qualifier,
            row.status,
            ", ".join(SHORT[label] for label in row.differs) or row.reason or "-",
            brief(row.declared, found.stack_id) if row.declared is not None else "-",
            live_cell(row, found.stack_id),
        )
        for row in found.rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table]
    return "\n".join([title, *lines])


def live_cell(row: Row, stack_id: str) -> str:
    if row.status == IN_SYNC:
        return "= declared"
    return brief(row.live, stack_id) if row.live is not None else "(no config)"


def brief(settings: Settings, stack_id: str) -> str:
    """Settings on one line; a destination in the stack's own account and region by its service and name."""
    parts = []
    for label, value in settings.labelled().items():
        if isinstance(value, str):
            parts.append(f"{SHORT[label]}={local_name(value, stack_id)}")
        elif value is not None:
            parts.append(f"{SHORT[label]}={value}{'s' if label == MAXIMUM_EVENT_AGE_IN_SECONDS else ''}")
    return " ".join(parts) or "(nothing set)"


def local_name(arn: str, stack_id: str) -> str:
    match, home = DESTINATION_PATTERN.fullmatch(arn), DESTINATION_PATTERN.fullmatch(stack_id)
    if (
        match is None
        or home is None
        or (match.group("account"), match.group("region"))
        not in (
            (home.group("account"), home.group("region")),
            ("", ""),
        )
    ):
        return arn
    return f"{match.group('service')}:{match.group('resource').split('/')[-1].removeprefix('function:')}"


def as_json(row: Row) -> dict[str, Any]:
    return {
        "logical_id": row.logical_id,
        "function": parse_function_name(row.target.function_name)[0],
        "qualifier": row.target.qualifier,
        "function_arn": row.target.function_name,
        "status": row.status,
        "differs": list(row.differs),
        "declared": row.declared.labelled() if row.declared is not None else None,
        "live": row.live.labelled() if row.live is not None else None,
        "reason": row.reason,
    }
