"""What CloudFormation does around a custom resource handler, reproduced locally: the event it sends (every scalar
property a string), the presigned ResponseURL it waits on (here an HTTP server on 127.0.0.1), and the read-only part
of its API the handler calls (DescribeStacks, DescribeStackResource, ListStackResources), served by the same
server."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any, Protocol
from xml.sax.saxutils import escape

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


class StackView(Protocol):
    """What DescribeStacks and ListStackResources show of a stack."""

    status: str
    changed_at: str

    def summaries(self) -> list[dict[str, str]]: ...


@dataclass
class StaticStack:
    """A stack whose status is whatever it is set to, holding no resources CloudFormation would list."""

    status: str = "UPDATE_IN_PROGRESS"
    changed_at: str = "2026-11-28T00:00:00Z"

    def summaries(self) -> list[dict[str, str]]:
        return []


NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


def _members(items: list[dict[str, str]]) -> str:
    return "".join(
        "<member>" + "".join(f"<{key}>{escape(str(value))}</{key}>" for key, value in item.items()) + "</member>"
        for item in items
    )


def _error(code: str, message: str) -> bytes:
    error = f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    return f'<ErrorResponse xmlns="{NAMESPACE}">{error}<RequestId>local</RequestId></ErrorResponse>'.encode()


class ResponseServer:
    """Receives the handlers' response PUTs (one path per request, so each answer is matched to its event), and
    answers CloudFormation's DescribeStacks, DescribeStackResource and ListStackResources for the stacks registered in
    `stacks` (a deleted stack stays there, DELETE_COMPLETE, as CloudFormation keeps it for 90 days). With
    `refuse_puts` set, each request's first that many PUTs are answered 503 (as S3 does when it is overloaded) and
    counted in `refused`; only an accepted PUT is an answer."""

    def __init__(
        self,
        stack_id: str = STACK_ID,
        refuse_puts: int = 0,
        address: tuple[str, int] = ("127.0.0.1", 0),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.stack_id = stack_id
        self.refuse_puts = refuse_puts
        self.refused: dict[str, int] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.stacks: dict[str, StackView] = {}
        self.exports: dict[str, str] = {}  # the stacks' outputs exported (by name), for Fn::ImportValue
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                path = self.path.lstrip("/")
                if server.refused.get(path, 0) < server.refuse_puts:
                    server.refused[path] = server.refused.get(path, 0) + 1
                    self.send_response(503)
                    self.end_headers()
                    return
                server.responses.setdefault(path, []).append(body)
                self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                status, body = server.api(form)
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(address, Handler)
        host, port = str(self.httpd.server_address[0]), self.httpd.server_address[1]
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        default_port = tls is not None and port == 443
        self.url = f"{'https' if tls else 'http'}://{host}{'' if default_port else f':{port}'}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def api(self, form: dict[str, str]) -> tuple[int, bytes]:
        """One CloudFormation query-API call, answered as the service would (XML)."""
        action, name = form.get("Action", ""), form.get("StackName", "")
        found = [
            (stack_id, view) for stack_id, view in self.stacks.items() if name in (stack_id, stack_id.split("/")[1])
        ]
        if not found:
            return 400, _error("ValidationError", f"Stack with id {name} does not exist")
        ((stack_id, view),) = found
        if action == "DescribeStacks":
            stack = {
                "StackName": stack_id.split("/")[1],
                "StackId": stack_id,
                "CreationTime": "2026-11-28T00:00:00Z",
                "LastUpdatedTime": view.changed_at,
                "StackStatus": view.status,
            }
            result = f"<Stacks>{_members([stack])}</Stacks>"
        elif action == "ListStackResources":
            result = f"<StackResourceSummaries>{_members(view.summaries())}</StackResourceSummaries>"
        elif action == "DescribeStackResource":
            logical_id = form.get("LogicalResourceId", "")
            held = [summary for summary in view.summaries() if summary["LogicalResourceId"] == logical_id]
            if not held:
                return 400, _error("ValidationError", f"Resource {logical_id} does not exist for stack {name}")
            detail = "".join(f"<{key}>{escape(str(value))}</{key}>" for key, value in held[0].items())
            result = f"<StackResourceDetail>{detail}</StackResourceDetail>"
        else:
            return 400, _error("InvalidAction", f"{action} is not served here")
        metadata = "<ResponseMetadata><RequestId>local</RequestId></ResponseMetadata>"
        body = f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{result}</{action}Result>{metadata}'
        return 200, f"{body}</{action}Response>".encode()

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
        stack_id: str | None = None,
    ) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": "arn:aws:lambda:us-east-1:000000000000:function:Handler",
            "ResponseURL": f"{self.url}/{request_id}",
            "StackId": stack_id or self.stack_id,
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
