"""A push gateway on 127.0.0.1 for the tests: it keeps every notification it is posted, and
answers each with the next status of a script (then 200), rejecting the pushkeys it is told
to reject."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOTIFY = "/_matrix/push/v1/notify"


class PushGateway(ThreadingHTTPServer):
    def __init__(self, statuses: list[int] | None = None, reject: set[str] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses = list(statuses or [])
        self.reject = set(reject or ())
        self.received: list[tuple[str, Any, int]] = []  # path, JSON body, status answered
        self.changed = threading.Condition()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{NOTIFY}"

    @property
    def notifications(self) -> list[Any]:
        """The `notification` objects posted, in arrival order."""
        with self.changed:
            return [body["notification"] for _, body, _ in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until `count` requests have arrived (run it in a thread from async code)."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.received) >= count, timeout)


class _Handler(BaseHTTPRequestHandler):
    server: PushGateway

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        body = json.loads(raw)
        with self.server.changed:
            status = self.server.statuses.pop(0) if self.server.statuses else 200
            self.server.received.append((self.path, body, status))
            self.server.changed.notify_all()
        devices = body.get("notification", {}).get("devices", [])
        rejected = [d["pushkey"] for d in devices if d.get("pushkey") in self.server.reject]
        answer = json.dumps({"rejected": rejected}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def running_gateway(
    statuses: list[int] | None = None, reject: set[str] | None = None
) -> Iterator[PushGateway]:
    server = PushGateway(statuses, reject)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
