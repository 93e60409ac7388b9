"""One structured (JSON) log line per decision."""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger("async_invoke_config")


def decision(event: str, **fields: Any) -> None:
    logger.info(json.dumps({"event": event, **fields}, default=str, sort_keys=True))
