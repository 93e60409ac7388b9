"""One structured (JSON) log line per decision, and CloudWatch metrics as embedded-metric-format lines."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

logger = logging.getLogger("async_invoke_config")


def decision(event: str, **fields: Any) -> None:
    logger.info(json.dumps({"event": event, **fields}, default=str, sort_keys=True))


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
    logged: the runtime's logging handler prefixes each line, and a prefixed line is not read as metrics."""
    document = embedded_metrics(namespace, dimensions, values, int(time.time() * 1000))
    sys.stdout.write(json.dumps(document, sort_keys=True) + "\n")
    sys.stdout.flush()
