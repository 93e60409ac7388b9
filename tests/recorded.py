"""Responses recorded against real AWS (LocalStack's parity snapshots), as Stubber fixtures."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

SNAPSHOTS = Path(__file__).parent / "events" / "aws-recorded-event-invoke-config.json"
FUNCTION = "orders"
ACCOUNT = "111111111111"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{FUNCTION}"
SUBSTITUTIONS = {"<partition>": "aws", "<region>": "us-east-1", "<function-name:1>": FUNCTION}


def _load() -> dict[str, Any]:
    text = SNAPSHOTS.read_text()
    for placeholder, value in SUBSTITUTIONS.items():
        text = text.replace(placeholder, value)
    merged: dict[str, Any] = {}
    for snapshot in json.loads(text)["snapshots"].values():
        merged.update(snapshot["recorded-content"])
    return merged


RECORDED = _load()


def response(name: str, **overrides: Any) -> dict[str, Any]:
    """A recorded success response, without its metadata, with LastModified as botocore parses it."""
    body = {key: value for key, value in RECORDED[name].items() if key != "ResponseMetadata"}
    if "LastModified" in body:
        body["LastModified"] = datetime.datetime(2025, 11, 1, tzinfo=datetime.UTC)
    return body | overrides


def error(name: str) -> tuple[str, str, int]:
    """A recorded error as (code, message, HTTP status) for Stubber.add_client_error."""
    recorded = RECORDED[name]
    return recorded["Error"]["Code"], recorded["Error"]["Message"], recorded["ResponseMetadata"]["HTTPStatusCode"]
