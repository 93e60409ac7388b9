"""AwsCustomResource's API calls per life-cycle path, counted by a proxy between its Node handler and LocalStack (the
handler run as peers.py runs it). Used by benchmarks/compare.py beside handler.py's count of ours.
"""

from __future__ import annotations

import http.client
import http.server
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from calls import PATHS, REDEPLOY, Found, PathCalls, left, live_settings, write_out_of_band
from cloudformation import ResponseServer
from natives import create_function
from peers import Events, Side

LAMBDA_PATH = re.compile(r"/2019-09-25/functions/[^/]+/event-invoke-config")
LAMBDA_OPS = {"GET": "Get", "PUT": "Put", "POST": "Update", "DELETE": "Delete"}


@contextmanager
def counting_proxy(endpoint: str) -> Iterator[tuple[str, Counter[str]]]:
    """A loopback HTTP proxy in front of LocalStack that counts the Lambda event-invoke-config calls through it."""
    calls: Counter[str] = Counter()
    upstream = endpoint.removeprefix("http://")

    class Proxy(http.server.BaseHTTPRequestHandler):
        def forward(self) -> None:
            path = self.path.split("?")[0]
            if LAMBDA_PATH.fullmatch(path):
                calls[f"lambda:{LAMBDA_OPS.get(self.command, self.command)}FunctionEventInvokeConfig"] += 1
            else:
                calls[f"other:{self.command} {path}"] += 1
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            connection = http.client.HTTPConnection(upstream, timeout=30)
            connection.request(self.command, self.path, body, dict(self.headers.items()))
            response = connection.getresponse()
            data = response.read()
            self.send_response(response.status)
            for header, value in response.getheaders():
                if header.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(header, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            connection.close()

        do_GET = do_PUT = do_POST = do_DELETE = forward  # noqa: N815 - http.server's naming

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", calls
    finally:
        httpd.shutdown()
        httpd.server_close()


# CloudFormation calls a custom resource only when its properties change.
NO_EVENT = "no event: its properties did not change"


def peer_path_calls(server: ResponseServer, side: Side, lam: Any, queue: str, log: IO[bytes]) -> dict[str, PathCalls]:
    """AwsCustomResource's API calls per life-cycle path (calls.PATHS), by `service:Operation`, counted by a proxy
    between its handler and LocalStack, with what each left live. A redeploy sends it no event."""
    endpoint = side.env["AWS_ENDPOINT_URL"]
    found: dict[str, PathCalls] = {}
    with counting_proxy(endpoint) as (proxy, calls):
        env = side.env | {"AWS_ENDPOINT_URL": proxy}
        counted = Side(side.name, side.command, env, side.resource_type, side.properties)
        function = create_function(lam, f"paths-{uuid.uuid4().hex[:8]}").split(":")[-1]
        events = Events(server, counted, function, queue)
        process = counted.start(log)
        seen = Found()
        try:
            for step in PATHS:
                if step.before is not None:
                    seen.saw(step, write_out_of_band(lam, function, queue, step.before))
                calls.clear()
                if step.kind != REDEPLOY:
                    event = events.event(step.kind, step.declared.retries, step.declared.destination)
                    process.send(event)
                    events.answered(event)
                live = left(live_settings(lam, function, queue), step, seen)
                note = NO_EVENT if step.kind == REDEPLOY else ""
                found[step.name] = PathCalls(Counter(calls), live, note=note)
        finally:
            process.close()
    return found
