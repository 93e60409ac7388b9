"""One structured log record per decision, its fields at the top level of Lambda's JSON log format, and CloudWatch
metrics as embedded-metric-format lines.

Under the function's JSON log format, Lambda's Python runtime writes each record of the root logger's handler as one
JSON object: `timestamp`, `level`, `message`, `logger`, `requestId`, then every attribute the record was given with
`extra=` (awslambdaric's `JsonFormatter`). It drops attributes whose value is None, encodes without a fallback for
values JSON cannot hold, and leaves out an attribute named as one of its own keys: `decision` hands it only plain
values, under names it keeps. `JsonFormatter` renders the same object outside Lambda (the local harness, tests)."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("async_invoke_config")

# A record's attributes: its own, those `Formatter.format` and Lambda's runtime set on it (a field by one of these names
# would raise in `logging`, or be overwritten); then the keys Lambda's JSON format writes itself (a field by one of
# those names would be left out).
_SET_ON_IT = {"message", "asctime", "aws_request_id", "tenant_id", "_frame_type"}
_RECORD = frozenset(vars(logging.makeLogRecord({}))) | _SET_ON_IT
_KEYS = {"timestamp", "level", "logger", "requestId", "tenantId", "location", "stackTrace", "errorType", "errorMessage"}
_RESERVED = _RECORD | _KEYS


def decision(event: str, **fields: Any) -> None:
    """Log one decision: `event` is the record's message and its `event` key; each field is a key of its own. A field
    of None is left out (Lambda's JSON format leaves it out), a value JSON cannot hold is written as its `str`, and a
    field named as a key Lambda or `logging` keeps for itself gets a trailing `_` (`level_`)."""
    plain = json.loads(json.dumps(fields, default=str))
    extra = {f"{key}_" if key in _RESERVED else key: value for key, value in plain.items() if value is not None}
    logger.info(event, extra={"event": event, **extra})


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """A record's own fields, as Lambda's JSON format writes them beside its `timestamp`, `level`, `message`: for a
    decision, `event` and the rest of its fields."""
    return {key: value for key, value in vars(record).items() if key not in _RECORD and value is not None}


class JsonFormatter(logging.Formatter):
    """A record as one line of Lambda's JSON log format, for runs outside Lambda."""

    def format(self, record: logging.LogRecord) -> str:
        timestamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        document = {
            "timestamp": timestamp,
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None),
        }
        document |= {key: value for key, value in fields(record).items() if key not in document}
        return json.dumps({key: value for key, value in document.items() if value is not None}, default=str)


def embedded_metrics(
    namespace: str, dimensions: dict[str, str], values: dict[str, int], timestamp_ms: int, unit: str = "Count"
) -> dict[str, Any]:
    """A CloudWatch embedded-metric-format document: the metrics' values, with their namespace, dimension and unit
    under `_aws`."""
    metrics = [{"Name": name, "Unit": unit} for name in values]
    directive = {"Namespace": namespace, "Dimensions": [sorted(dimensions)], "Metrics": metrics}
    return {"_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]}, **dimensions, **values}


def metrics(namespace: str, dimensions: dict[str, str], values: dict[str, int]) -> None:
    """Emit metrics as one line on stdout: Lambda's log pipeline turns it into metrics, with no API call. Printed, not
    logged: a logged record becomes a JSON object of Lambda's (the document under `message`, a string), which
    CloudWatch does not read as metrics. With no `level` of its own, Lambda's log-level filtering counts the line as
    INFO, so the handler's application log level is never above INFO (see the construct's `configure_handler`)."""
    document = embedded_metrics(namespace, dimensions, values, int(time.time() * 1000))
    sys.stdout.write(json.dumps(document, sort_keys=True) + "\n")
    sys.stdout.flush()
