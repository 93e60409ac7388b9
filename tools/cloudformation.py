"""What CloudFormation does around a custom resource handler, reproduced locally: the event it sends (every scalar
property a string) and the presigned ResponseURL it waits on (here an HTTP server on 127.0.0.1)."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from typing import Any

STACK_ID = "arn:aws:cloudformation:us-east-1:000000000000:stack/Rehearsal/00000000-0000-0000-0000-000000000000"


def new_stack_id(name: str) -> str:
    return f"arn:aws:cloudformation:us-east-1:000000000000:stack/{name}/{uuid.uuid4()}"


def stringify(value: Any) -> Any:
    """Property values as CloudFormation delivers them: scalars become strings, objects and lists keep their shape."""
    if isinstance(value, dict):
        return {key: stringify(item) for key, item in value.items()}
    if isinstance(value, list):
        return [stringify(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ResponseServer:
    """Receives the handlers' response PUTs; one path per request so each answer is matched to its event."""

    def __init__(self, stack_id: str = STACK_ID) -> None:
        self.stack_id = stack_id
        self.responses: dict[str, list[dict[str, Any]]] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                server.responses.setdefault(self.path.lstrip("/"), []).append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ResponseServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def event(
        self,
        request_type: str,
        properties: dict[str, Any],
        *,
        logical_id: str = "Config",
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
        resource_type: str = "Custom::LambdaAsyncInvokeConfig",
    ) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": "arn:aws:lambda:us-east-1:000000000000:function:Handler",
            "ResponseURL": f"{self.url}/{request_id}",
            "StackId": self.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": stringify(properties),
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = stringify(old_properties)
        return event

    def answers(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return self.responses.get(event["RequestId"], [])


class Context:
    """The parts of the Lambda context object the handler reads."""

    def __init__(self, seconds: float = 300.0) -> None:
        self.seconds = seconds
        self.log_stream_name = "2026/11/27/[$LATEST]local"

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds * 1000)
