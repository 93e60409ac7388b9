"""Runs this project's handler on events read from stdin, one JSON line each, and writes one JSON line per event:
{"ms": time of the handler call, its answer PUT included}. The Python twin of handler_process.js.

    .venv/bin/python benchmarks/handler_process.py   (AWS_ENDPOINT_URL and dummy credentials in the environment)
"""

import time

started = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "handler"))

import index  # noqa: E402


class Context:
    log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def main() -> None:
    first = True
    for line in sys.stdin:
        event = json.loads(line)
        before = time.perf_counter()
        error = None
        try:
            index.on_event(event, Context())
        except Exception as caught:  # noqa: BLE001 - reported, the run goes on
            error = repr(caught)
        after = time.perf_counter()
        since_start = (after - started) * 1000 if first else None
        first = False
        print(json.dumps({"ms": (after - before) * 1000, "sinceStart": since_start, "error": error}), flush=True)


if __name__ == "__main__":
    main()
