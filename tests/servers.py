"""A scriptable HTTP server on 127.0.0.1 for tests: serves feeds and pages, records requests.

Each path answers with a fixed ``Reply``, a list of replies consumed in order (the last one
repeats), or a function of the request. Every request is recorded, so tests assert on what the
monitor actually sent (headers, bodies, signatures), never on mocks.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: seconds to wait before answering, to stand in for a slow server
    delay: float = 0.0
    #: chunks written one by one, without Content-Length, then the connection closes
    stream: Callable[[], Iterator[bytes]] | None = None


Responder = Reply | list[Reply] | Callable[[Recorded], Reply]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # the default backlog of 5 drops connections when a client opens a hundred at once
    request_queue_size = 512

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up (a capped reader, a timed-out sender) is expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LoopbackServer:
    def __init__(self) -> None:
        self._routes: dict[str, Responder] = {}
        #: answers paths that have no route of their own (many feeds from one function)
        self._default: Responder | None = None
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reply = server._reply_for(recorded)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.stream is not None:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                    self.end_headers()
                    try:
                        for chunk in reply.stream():
                            self.wfile.write(chunk)
                            self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the client gave up, as it should
                    return
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    # A capped reader stops reading early and hangs up; that is expected here.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = do_PUT = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def set(self, path: str, responder: Responder) -> None:
        with self._lock:
            self._routes[path] = list(responder) if isinstance(responder, list) else responder

    def set_default(self, responder: Responder) -> None:
        with self._lock:
            self._default = responder

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _reply_for(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            responder = self._routes.get(recorded.path.split("?")[0]) or self._routes.get(
                recorded.path
            )
            if responder is None:
                responder = self._default
            if responder is None:
                return Reply(status=404, body=b"not found")
            if isinstance(responder, list):
                return responder.pop(0) if len(responder) > 1 else responder[0]
        if isinstance(responder, Reply):
            return responder
        return responder(recorded)

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def wait_until(
    predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05
) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; bounded, never loops forever."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
