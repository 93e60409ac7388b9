"""The answer to CloudFormation: one PUT of a JSON body to the presigned ResponseURL, sent exactly once."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from log import decision

SUCCESS = "SUCCESS"
FAILED = "FAILED"
BODY_LIMIT = 4096
ATTEMPTS = 4
TIMEOUT = 5.0

Opener = Callable[..., Any]


def body(event: Mapping[str, Any], status: str, physical_id: str, reason: str, data: Mapping[str, str]) -> bytes:
    """The response body, with Reason trimmed so the whole stays within CloudFormation's 4096 bytes."""
    fields = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_id,
        "StackId": event.get("StackId", ""),
        "RequestId": event.get("RequestId", ""),
        "LogicalResourceId": event.get("LogicalResourceId", ""),
        "Data": dict(data),
    }
    encoded = json.dumps(fields).encode()
    keep = len(reason)
    while len(encoded) > BODY_LIMIT and keep > 0:
        keep = max(0, keep - (len(encoded) - BODY_LIMIT) - 3)
        fields["Reason"] = reason[:keep] + "..."
        encoded = json.dumps(fields).encode()
    return encoded


class Responder:
    """Sends the first answer it is given and ignores the rest, so a watchdog and the main path cannot both answer."""

    def __init__(
        self,
        event: Mapping[str, Any],
        opener: Opener = urllib.request.urlopen,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.event = event
        self.opener = opener
        self.sleep = sleep
        self._lock = threading.Lock()
        self.sent: dict[str, Any] | None = None

    def answer(self, status: str, physical_id: str, reason: str = "", data: Mapping[str, str] | None = None) -> bool:
        with self._lock:
            if self.sent is not None:
                return False
            payload = body(self.event, status, physical_id, reason, data or {})
            self.sent = json.loads(payload)
            self._put(payload, status)
            return True

    def _put(self, payload: bytes, status: str) -> None:
        request = urllib.request.Request(
            self.event["ResponseURL"],
            data=payload,
            method="PUT",
            headers={"Content-Type": "", "Content-Length": str(len(payload))},
        )
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self.opener(request, timeout=TIMEOUT):
                    decision("responded", status=status, attempt=attempt, bytes=len(payload))
                    return
            except Exception as error:  # noqa: BLE001 - any failure of the PUT is retried the same way
                decision("response_put_failed", attempt=attempt, error=type(error).__name__)
                if attempt < ATTEMPTS:
                    self.sleep(0.5 * 2 ** (attempt - 1))
