"""A partner's webhook endpoint on 127.0.0.1 for the e2e tests: it keeps every request and
answers 500 to the first `fail_first` tries of each webhook-id, 204 after that."""

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver(ThreadingHTTPServer):
    def __init__(self, fail_first: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fail_first = fail_first
        self.requests: list[tuple[bytes, dict[str, str], int]] = []
        self.tries: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/candor"

    @property
    def received(self) -> list[tuple[bytes, dict[str, str]]]:
        """Every request's body and (lower-cased) headers, in arrival order."""
        return [(body, headers) for body, headers, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.server.lock:
            webhook_id = headers.get("webhook-id", "")
            self.server.tries[webhook_id] += 1
            status = 500 if self.server.tries[webhook_id] <= self.server.fail_first else 204
            self.server.requests.append((body, headers, status))
        self.send_response(status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def running_receiver(fail_first: int = 0) -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(fail_first)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
