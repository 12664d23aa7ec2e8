"""A scriptable OpenAI-compatible HTTP server bound to loopback.

Why it exists: our tests and benchmarks have to exercise the *official* ``openai``
client end to end -- its HTTP transport, connection pooling, SSE decoder, error
mapping and timeouts -- without touching the network and without monkeypatching.
So this is a real server on a real socket, speaking the same wire format as
OpenAI's ``/v1/chat/completions``, whose answers are scripted with :class:`Reply`
(including the failure modes real providers exhibit: HTTP errors, in-stream error
events, stalls and dropped connections).

Standard library only, so it can run in any environment the package runs in, and
as a separate process for benchmarks::

    python -m vel_jupyter._loopback --port 0 --words 5000
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = ["MODELS", "OpenAIServer", "RecordedRequest", "Reply"]

Json = dict[str, Any]
ToolCallSpec = tuple[str, dict[str, Any] | str] | Json
_Kind = Literal["completion", "http_error", "error_event", "stall", "drop", "raw_sse"]

MODELS = ("gpt-4o", "gpt-4o-mini", "echo")
"""Model ids listed by ``GET /v1/models``."""

_FALLBACK_MODEL = "echo"
_SLOT = "__vel_delta_slot__"
_LAST_CHUNK = b"0\r\n\r\n"
_DONE = "data: [DONE]\n\n"
_SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "Transfer-Encoding": "chunked",
}


def _dumps(obj: object) -> str:
    # Compact separators match OpenAI's payloads and keep 5,000-chunk bodies small.
    return json.dumps(obj, separators=(",", ":"))


def _reason(status: int) -> str:
    return BaseHTTPRequestHandler.responses.get(status, ("Unknown",))[0]


def _split_words(text: str) -> list[str]:
    """One piece per word, each carrying its leading whitespace (like LLM tokens)."""
    pieces: list[str] = re.findall(r"\s*\S+(?:\s+$)?", text)
    return pieces or ([text] if text else [])


def _split_even(text: str, parts: int) -> list[str]:
    if parts < 1:
        raise ValueError(f"need at least one chunk, got {parts}")
    size = len(text)
    return [text[size * i // parts : size * (i + 1) // parts] for i in range(parts)]


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _error_object(message: str, type_: str, code: str | None) -> str:
    return _dumps({"message": message, "type": type_, "param": None, "code": code})


def _text_of(content: object) -> str:
    """Text of a message ``content``: a string or a list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


@dataclass(frozen=True)
class _ToolCall:
    id: str
    name: str
    arguments: str


def _tool_call(index: int, spec: ToolCallSpec, ids: list[str] | None) -> _ToolCall:
    if isinstance(spec, tuple):
        name, arguments, call_id = spec[0], spec[1], None
    else:
        # Accept both {"name", "arguments"} and OpenAI's {"id", "function": {...}} shapes.
        function = spec.get("function", spec)
        name, arguments, call_id = function["name"], function.get("arguments", ""), spec.get("id")
    if ids is not None:
        call_id = ids[index]
    return _ToolCall(
        id=call_id or f"call_{uuid.uuid4().hex[:24]}",
        name=name,
        arguments=arguments if isinstance(arguments, str) else json.dumps(arguments),
    )


def _call_delta(index: int, **fields: Any) -> Json:
    return {"tool_calls": [{"index": index, **fields}]}


def _tool_deltas(calls: list[_ToolCall], arg_chunks: int, interleave: bool) -> list[Json]:
    pieces = [_split_even(call.arguments, arg_chunks) for call in calls]
    order = list(itertools.product(range(len(calls)), range(arg_chunks)))
    if interleave:
        order.sort(key=lambda pair: (pair[1], pair[0]))
    deltas: list[Json] = []
    for index, piece in order:
        if piece == 0:
            call = calls[index]
            header = {"name": call.name, "arguments": ""}
            deltas.append(_call_delta(index, id=call.id, type="function", function=header))
        deltas.append(_call_delta(index, function={"arguments": pieces[index][piece]}))
    return deltas


def _with_role(deltas: list[Json]) -> list[Json]:
    # OpenAI folds the role into the first tool-call header, but sends a separate
    # empty-content role chunk before text; consumers must cope with both.
    if deltas and "tool_calls" in deltas[0]:
        return [{"role": "assistant", "content": None, **deltas[0], "refusal": None}, *deltas[1:]]
    return [{"role": "assistant", "content": "", "refusal": None}, *deltas]


@dataclass(frozen=True, repr=False)
class Reply:
    """A scripted answer to one request. Immutable; build it with the classmethods.

    The streamed deltas and the non-streaming message are JSON-encoded once, here,
    so serving a request only wraps pre-built strings.
    """

    kind: _Kind
    summary: str  # shown by repr(), e.g. in assert_complete() failures
    deltas: tuple[str, ...] = ()  # encoded delta objects, role first
    message: str = "null"  # encoded non-streaming `message` object
    finish_reason: str | None = None
    prompt_tokens: int | None = None  # None: count the request's words
    completion_tokens: int = 0
    model: str | None = None  # None: echo the request's model
    delay: float = 0.0
    status: int = 200
    error: str = "null"  # encoded OpenAI error object
    retry_after: float | None = None
    seconds: float = 0.0  # how long a stall lasts
    events: tuple[str, ...] = ()  # raw_sse payloads

    def __repr__(self) -> str:
        return f"Reply.{self.summary}"

    @classmethod
    def text(
        cls,
        text: str,
        *,
        chunks: int | None = None,
        model: str | None = None,
        finish_reason: str | None = "stop",
        usage: tuple[int, int] | None = None,
        refusal: str | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """Stream ``text`` (one chunk per word, or ``chunks`` even pieces), then ``refusal``.

        ``finish_reason=None`` imitates a broken server: ``[DONE]`` arrives but no
        chunk ever carries a finish reason. ``usage`` is ``(prompt, completion)``
        tokens; by default the request's word count and the number of chunks.
        ``delay`` seconds pass between chunks.
        """
        pieces = _split_words(text) if chunks is None else _split_even(text, chunks)
        refusal_pieces = _split_words(refusal) if refusal else []
        deltas: list[Json] = [{"content": piece} for piece in pieces]
        deltas += [{"refusal": piece} for piece in refusal_pieces]
        message = {"role": "assistant", "content": text or (None if refusal else ""), "refusal": refusal}
        return cls._completion(
            f"text({_short(text)}, {len(deltas)} chunks)",
            deltas,
            message,
            finish_reason=finish_reason,
            usage=usage,
            model=model,
            delay=delay,
        )

    @classmethod
    def tool_calls(
        cls,
        calls: Sequence[ToolCallSpec],
        *,
        text: str = "",
        arg_chunks: int = 3,
        interleave: bool = True,
        ids: list[str] | None = None,
        finish_reason: str = "tool_calls",
        usage: tuple[int, int] | None = None,
        model: str | None = None,
    ) -> Reply:
        """Stream optional leading ``text``, then tool calls the way OpenAI does.

        Each call is ``(name, arguments)``; a dict is JSON-encoded, a string is sent
        verbatim (so it may be deliberately invalid JSON). The first delta of a call
        carries index, id, type and name; later ones only argument pieces, which
        alternate between calls when ``interleave`` is true.
        """
        if ids is not None and len(ids) != len(calls):
            raise ValueError(f"{len(ids)} ids for {len(calls)} tool calls")
        parsed = [_tool_call(index, spec, ids) for index, spec in enumerate(calls)]
        deltas: list[Json] = [{"content": piece} for piece in _split_words(text)]
        deltas += _tool_deltas(parsed, arg_chunks, interleave)
        message = {
            "role": "assistant",
            "content": text or None,
            "refusal": None,
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in parsed
            ],
        }
        names = ", ".join(call.name for call in parsed)
        return cls._completion(
            f"tool_calls([{names}])", deltas, message, finish_reason=finish_reason, usage=usage, model=model
        )

    @classmethod
    def http_error(
        cls,
        status: int,
        message: str | None = None,
        *,
        type: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> Reply:
        """Answer with an OpenAI-style JSON error body (message defaults to the reason phrase)."""
        type_ = type or ("server_error" if status >= 500 else "invalid_request_error")
        return cls(
            kind="http_error",
            summary=f"http_error({status})",
            status=status,
            error=_error_object(message or _reason(status), type_, code),
            retry_after=retry_after,
        )

    @classmethod
    def error_event(cls, message: str, *, after_text: str = "", code: str | None = None) -> Reply:
        """HTTP 200 stream of ``after_text``, then an ``{"error": ...}`` event, then the end."""
        return cls(
            kind="error_event",
            summary=f"error_event({_short(message)})",
            deltas=cls._partial(after_text),
            error=_error_object(message, "server_error", code),
        )

    @classmethod
    def stall(cls, seconds: float, *, after_text: str = "") -> Reply:
        """Stream ``after_text``, go silent for ``seconds`` (or until stop()), then hang up."""
        return cls(kind="stall", summary=f"stall({seconds})", deltas=cls._partial(after_text), seconds=seconds)

    @classmethod
    def drop(cls, *, after_text: str = "") -> Reply:
        """Stream ``after_text``, then close the TCP connection mid-body."""
        return cls(kind="drop", summary=f"drop(after_text={_short(after_text)})", deltas=cls._partial(after_text))

    @classmethod
    def raw_sse(cls, events: list[str], *, status: int = 200) -> Reply:
        """Send each string verbatim as one ``data: <string>`` event; nothing is added."""
        return cls(kind="raw_sse", summary=f"raw_sse({len(events)} events)", status=status, events=tuple(events))

    @classmethod
    def _completion(
        cls,
        summary: str,
        deltas: list[Json],
        message: Json,
        *,
        finish_reason: str | None,
        usage: tuple[int, int] | None,
        model: str | None,
        delay: float = 0.0,
    ) -> Reply:
        return cls(
            kind="completion",
            summary=summary,
            deltas=tuple(_dumps(delta) for delta in _with_role(deltas)),
            message=_dumps(message),
            finish_reason=finish_reason,
            prompt_tokens=None if usage is None else usage[0],
            completion_tokens=len(deltas) if usage is None else usage[1],
            model=model,
            delay=delay,
        )

    @staticmethod
    def _partial(after_text: str) -> tuple[str, ...]:
        return tuple(_dumps(delta) for delta in _with_role([{"content": p} for p in _split_words(after_text)]))


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: Json | None

    @property
    def messages(self) -> list[Json]:
        messages = (self.body or {}).get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def stream(self) -> bool:
        return bool((self.body or {}).get("stream"))


def _echo(request: RecordedRequest) -> Reply:
    """The unscripted answer: 'Echo: <last user message>' for plain chat; for structured
    output, tool results or a requested tool call, what the offline echo provider answers."""
    body = request.body or {}
    after_tools = bool(request.messages) and request.messages[-1].get("role") == "tool"
    if body.get("response_format") or after_tools:
        return _like_echo_provider(body)
    if body.get("tools"):
        reply = _like_echo_provider(body)
        if reply.kind == "completion" and '"tool_calls"' in reply.message:
            return reply
    users = [m for m in request.messages if isinstance(m, dict) and m.get("role") == "user"]
    return Reply.text("Echo: " + (_text_of(users[-1].get("content")) if users else ""))


def _like_echo_provider(body: Json) -> Reply:
    from .providers.base import ProviderRequest
    from .providers.echo import plan_answer

    request = ProviderRequest(
        model=str(body.get("model") or "echo"),
        messages=list(body.get("messages") or []),
        tools=list(body.get("tools") or []),
        tool_choice=body.get("tool_choice"),
        response_format=body.get("response_format"),
        params={k: body[k] for k in ("max_tokens", "max_completion_tokens") if k in body},
    )
    _, completion = plan_answer(request)
    if completion.tool_calls:
        return Reply.tool_calls([(c.name, c.arguments) for c in completion.tool_calls])
    return Reply.text(completion.text, finish_reason=completion.finish_reason)


@dataclass(frozen=True)
class _Envelope:
    """The per-request fields every chunk repeats."""

    chunk_id: str
    created: int
    model: str
    include_usage: bool
    usage: Json

    @classmethod
    def of(cls, reply: Reply, request: RecordedRequest) -> _Envelope:
        body = request.body or {}
        options = body.get("stream_options")
        prompt = reply.prompt_tokens
        if prompt is None:
            prompt = sum(len(_text_of(m.get("content")).split()) for m in request.messages if isinstance(m, dict))
        return cls(
            chunk_id=f"chatcmpl-{uuid.uuid4().hex[:24]}",
            created=int(time.time()),
            model=str(reply.model or body.get("model") or _FALLBACK_MODEL),
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
            usage={
                "prompt_tokens": prompt,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": prompt + reply.completion_tokens,
            },
        )

    def head(self, obj: str) -> Json:
        return {"id": self.chunk_id, "object": obj, "created": self.created, "model": self.model}

    def frame(self, finish_reason: str | None) -> tuple[str, str]:
        """The SSE event text before and after a chunk's delta object."""
        chunk = self.head("chat.completion.chunk")
        chunk["choices"] = [{"index": 0, "delta": _SLOT, "logprobs": None, "finish_reason": finish_reason}]
        if self.include_usage:
            chunk["usage"] = None
        # rpartition: the slot is the last string in the chunk, even if the model name mimics it.
        before, _, after = _dumps(chunk).rpartition(_dumps(_SLOT))
        return "data: " + before, after + "\n\n"

    def usage_event(self) -> str:
        chunk = self.head("chat.completion.chunk")
        chunk["choices"] = []
        chunk["usage"] = self.usage
        return f"data: {_dumps(chunk)}\n\n"


def _stream_events(reply: Reply, request: RecordedRequest) -> list[str]:
    envelope = _Envelope.of(reply, request)
    before, after = envelope.frame(None)
    events = [before + delta + after for delta in reply.deltas]
    if reply.kind == "error_event":
        events.append(f'data: {{"error":{reply.error}}}\n\n')
    elif reply.kind == "completion":
        if reply.finish_reason is not None:
            before, after = envelope.frame(reply.finish_reason)
            events.append(before + "{}" + after)
        if envelope.include_usage:
            events.append(envelope.usage_event())
        events.append(_DONE)
    return events


def _completion_body(reply: Reply, request: RecordedRequest) -> str:
    envelope = _Envelope.of(reply, request)
    body = envelope.head("chat.completion")
    body["choices"] = [
        {"index": 0, "message": json.loads(reply.message), "logprobs": None, "finish_reason": reply.finish_reason}
    ]
    body["usage"] = envelope.usage
    return _dumps(body)


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
            self._send_json(200, _dumps({"object": "list", "data": [_model_entry(m) for m in MODELS]}))
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
        if not self._send_events(200, _stream_events(reply, request), reply.delay, ends_cleanly):
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
            self._send_json(200, _completion_body(reply, request))
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
        self._send_json(status, f'{{"error":{_error_object(message, "invalid_request_error", code)}}}')

    def _head(self, status: int, fields: dict[str, str]) -> bytes:
        lines = [f"{self.protocol_version} {status} {_reason(status)}", *(f"{k}: {v}" for k, v in fields.items())]
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
            return _echo(request)
        return self.default if isinstance(self.default, Reply) else self.default(request)


def _main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m vel_jupyter._loopback", description="Serve a loopback OpenAI-compatible API."
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: any free port)")
    answer = parser.add_mutually_exclusive_group()
    answer.add_argument(
        "--words", type=int, metavar="N", help="answer every request with the N words tok0 ... tok<N-1> (default: echo)"
    )
    answer.add_argument("--text", help="answer every request with exactly TEXT (default: echo)")
    parser.add_argument(
        "--delay", type=float, default=0.0, metavar="SECONDS", help="pause between streamed chunks (one chunk per word)"
    )
    args = parser.parse_args(argv)
    text: str | None = args.text if args.words is None else " ".join(f"tok{i}" for i in range(args.words))
    if args.delay and text is None:
        parser.error("--delay needs --words or --text")
    default = None if text is None else Reply.text(text, delay=args.delay)
    server = OpenAIServer(port=args.port, default=default).start()
    print(f"READY {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    _main()
