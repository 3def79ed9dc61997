"""A real HTTP server on 127.0.0.1 and a free port, in a thread, that plays a provider.

`HttpPeer(respond)` records every request (method, path, headers, body) and answers with what
`respond(request)` returns: (status, headers, body), where a dict or list body is sent as JSON.
It speaks HTTP/1.1 with keep-alive, so clients pool their connections as with a real provider.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, dict[str, str], Any]
Responder = Callable[[Request], Answer]


@dataclass
class HttpPeer:
    respond: Responder
    requests: list[Request] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with peer._lock:
                    peer.requests.append(request)
                    peer.in_flight += 1
                    peer.peak_in_flight = max(peer.peak_in_flight, peer.in_flight)
                try:
                    status, headers, body = peer.respond(request)
                finally:
                    with peer._lock:
                        peer.in_flight -= 1
                if isinstance(body, dict | list):
                    data = json.dumps(body).encode()
                    headers = {"Content-Type": "application/json", **headers}
                else:
                    data = body if isinstance(body, bytes) else str(body or "").encode()
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            do_POST = do_PUT = do_GET = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def serving(respond: Responder) -> Iterator[HttpPeer]:
    """A running peer, stopped afterwards."""
    peer = HttpPeer(respond)
    try:
        yield peer
    finally:
        peer.stop()


def slow(seconds: float, answer: Answer) -> Responder:
    """A responder that answers after `seconds` (to make the client time out)."""

    def respond(request: Request) -> Answer:
        time.sleep(seconds)
        return answer

    return respond
