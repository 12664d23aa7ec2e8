"""The loopback HTTP server: a real socket speaking OpenAI's ``/v1/chat/completions`` and
``/v1/models``, SSE over chunked HTTP/1.1 with keep-alive, and ``OpenAIServer``, which answers
each request from its queue of scripted replies."""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from .encoding import completion_body, stream_events
from .replies import Reply, echo
from .wire import Json, RecordedRequest, dumps, error_object, reason

MODELS = ("gpt-4o", "gpt-4o-mini", "echo")
"""Model ids listed by ``GET /v1/models``."""

_LAST_CHUNK = b"0\r\n\r\n"
_SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "Transfer-Encoding": "chunked",
}


def _chunked(data: bytes) -> bytes:
    return b"%X\r\n%s\r\n" % (len(data), data)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the openai client pools connections
    disable_nagle_algorithm = True  # SSE chunks must not wait for delayed ACKs
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the test and benchmark output is what matters."""

    def _dispatch(self) -> None:
        app = self.server.app
        request = self._read_request()
        app._record(request)
        route = (request.method, urlsplit(request.path).path.rstrip("/"))
        if not app._authorized(request):
            self._send_error(401, "Incorrect API key provided.", code="invalid_api_key")
        elif route == ("POST", "/v1/chat/completions"):
            self._chat(request)
        elif route == ("GET", "/v1/models"):
            self._send_json(200, dumps({"object": "list", "data": [_model_entry(m) for m in MODELS]}))
        else:
            self._send_error(404, f"Invalid URL ({request.method} {request.path})")

    def _read_request(self) -> RecordedRequest:
        # Always drain the body, even for requests we reject, so keep-alive stays in sync.
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        return RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body if isinstance(body, dict) else None,
        )

    def _chat(self, request: RecordedRequest) -> None:
        if request.body is None:
            self._send_error(400, "We could not parse the JSON body of your request.")
            return
        reply = self.server.app._next_reply(request)
        if reply.kind == "http_error":
            retry = {} if reply.retry_after is None else {"Retry-After": f"{reply.retry_after:g}"}
            self._send_json(reply.status, f'{{"error":{reply.error}}}', retry)
        elif reply.kind == "raw_sse":
            self._send_events(reply.status, [f"data: {event}\n\n" for event in reply.events])
        elif request.stream:
            self._stream(reply, request)
        else:
            self._complete(reply, request)

    def _stream(self, reply: Reply, request: RecordedRequest) -> None:
        ends_cleanly = reply.kind in ("completion", "error_event")
        if not self._send_events(200, stream_events(reply, request), reply.delay, ends_cleanly):
            return
        if reply.kind == "stall":
            self.server.stopping.wait(reply.seconds)
        if not ends_cleanly:
            self._hang_up()

    def _complete(self, reply: Reply, request: RecordedRequest) -> None:
        if reply.kind == "error_event":
            self._send_json(500, f'{{"error":{reply.error}}}')
            return
        # A non-streamed answer takes as long as its stream would have.
        wait = reply.seconds if reply.kind == "stall" else reply.delay * len(reply.deltas)
        if wait and self.server.stopping.wait(wait):
            self._hang_up()
        elif reply.kind == "completion":
            self._send_json(200, completion_body(reply, request))
        else:
            self._hang_up()

    def _send_events(self, status: int, events: list[str], delay: float = 0.0, end: bool = True) -> bool:
        """Send an SSE response; False if stop() interrupted it (connection then closed)."""
        head = self._head(status, _SSE_HEADERS)
        tail = _LAST_CHUNK if end else b""
        if delay <= 0:
            # One sendall for headers and the whole body: this path serves the benchmarks.
            body = "".join(events).encode()
            self.connection.sendall(head + (_chunked(body) if body else b"") + tail)
            return True
        self.connection.sendall(head)
        for index, event in enumerate(events):
            if index and self.server.stopping.wait(delay):
                self._hang_up()
                return False
            self.connection.sendall(_chunked(event.encode()))
        self.connection.sendall(tail)
        return True

    def _send_json(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        fields = {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}
        self.connection.sendall(self._head(status, fields) + data)

    def _send_error(self, status: int, message: str, *, code: str | None = None) -> None:
        self._send_json(status, f'{{"error":{error_object(message, "invalid_request_error", code)}}}')

    def _head(self, status: int, fields: dict[str, str]) -> bytes:
        lines = [f"{self.protocol_version} {status} {reason(status)}", *(f"{k}: {v}" for k, v in fields.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _hang_up(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _model_entry(model: str) -> Json:
    return {"id": model, "object": "model", "created": 0, "owned_by": "vel-loopback"}


class _HTTPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """One daemon thread per connection; knows its open sockets so stop() can cut them."""

    # TCPServer rather than HTTPServer: HTTPServer.server_bind does a reverse DNS lookup.
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], app: OpenAIServer) -> None:
        self.app = app
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts, dropped streams, stop()) are expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def cut_connections(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class OpenAIServer:
    """A loopback OpenAI-compatible server answering from a FIFO queue of :class:`Reply`.

    Use as a context manager, point a client at :attr:`base_url`, ``enqueue`` replies,
    and inspect :attr:`requests` afterwards. When the queue is empty, ``default``
    answers (a Reply, or a callable building one from the request); without it the
    server echoes the last user message.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        default: Reply | Callable[[RecordedRequest], Reply] | None = None,
    ) -> None:
        self.api_key = api_key
        self.default = default
        self.requests: list[RecordedRequest] = []
        self._address = (host, port)
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>/v1``, known once started."""
        if self._base_url is None:
            raise RuntimeError("OpenAIServer has not been started")
        return self._base_url

    def start(self) -> OpenAIServer:
        if self._httpd is not None:
            raise RuntimeError("OpenAIServer is already running")
        self._httpd = _HTTPServer(self._address, self)
        port = self._httpd.socket.getsockname()[1]
        self._base_url = f"http://{self._address[0]}:{port}/v1"
        # A short poll interval keeps stop() fast; serve_forever only checks for it between polls.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"openai-loopback-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._httpd = self._thread = None
        httpd.stopping.set()  # wakes stalls and inter-chunk delays
        httpd.shutdown()
        httpd.cut_connections()  # idle keep-alive connections would otherwise linger
        httpd.server_close()
        thread.join()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies; each chat-completions request consumes the oldest one."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def assert_complete(self) -> None:
        """Fail if any scripted reply was never requested."""
        with self._lock:
            leftovers = list(self._queue)
        if leftovers:
            raise AssertionError(f"{len(leftovers)} scripted replies never requested: {leftovers!r}")

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _authorized(self, request: RecordedRequest) -> bool:
        return self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}"

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.default is None:
            return echo(request)
        return self.default if isinstance(self.default, Reply) else self.default(request)
