"""Any OpenAI-compatible server through the official ``openai`` client (sync and async).

OpenAI, Ollama, vLLM, llama.cpp's server, LM Studio...: set ``base_url`` (or
``OPENAI_BASE_URL``) and, where the server wants one, ``api_key`` (or
``OPENAI_API_KEY``). Streams always; the chunk handling is shared by both clients.

Requests go through the client's low-level ``post()`` with a body we build, not through
``chat.completions.create()``: ``create()`` first walks every message through
``maybe_transform`` against its TypedDicts (about 0.1 ms a message, ~1 s for 10,000),
which does nothing to the plain JSON dicts we already hold. ``post()`` still gives us the
client's auth, retries, timeouts, error types and SSE parsing, and only json-encodes the
body. ``tests/providers/test_request_body.py`` checks that both send the same JSON and headers.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..core.message import ToolCall, Usage
from ..core.response import StreamEvent
from ..core.secrets import KEYRING, Secret, env_key_for, guard_logs, redact_text
from ..errors import (
    AuthenticationError,
    BadRequestError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
    StreamError,
)
from .base import Completion, ProviderEvent, ProviderRequest

# Parameters create() accepts as keywords and puts in the body; anything else travels in
# extra_body so a server-specific option (top_k, repetition_penalty, ...) still reaches the
# server. Both end up in the body we send; the split only decides which wins a clash.
_BODY_PARAMS = frozenset(
    {
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "n",
        "parallel_tool_calls",
        "presence_penalty",
        "reasoning_effort",
        "seed",
        "service_tier",
        "stop",
        "store",
        "temperature",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
    }
)
# create()'s request options, handled as its make_request_options() does.
_OPTION_PARAMS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
# What create() passes as security=; older clients (1.x) have no such option and ignore the key.
_SECURITY = {"bearer_auth": True}
_NO_KEY = "not-needed"  # local servers need no key, but the client insists on one


class OpenAIProvider:
    name = "openai"
    default_model = "gpt-4o-mini"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        # Keys (an api_key, or one inside the URL) are Secrets: no repr or vars() shows them;
        # base_url is the URL as it may be shown, ``***`` where a key was.
        self._base_url = Secret(url, KEYRING.keep(url)) if url else None
        # OPENAI_API_KEY goes only to the server it belongs to (core/secrets.py): an api_key
        # given with this URL is the caller's word that it is this server's.
        key = api_key or env_key_for(url)
        KEYRING.keep_value(key)
        self._api_key = Secret(key) if key else None
        self.timeout = timeout
        self.max_retries = max_retries
        self._sync: Any = None
        self._logs_guarded = False  # see _guard_after_first_request
        # An AsyncOpenAI client's connection pool belongs to the loop that opened it, and
        # scripts may call asyncio.run() many times: one client per live event loop.
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        key = "set" if self._api_key else "not set"
        return f"OpenAIProvider(base_url={self.base_url!r}, api_key={key})"

    @property
    def base_url(self) -> str | None:
        """The server's URL as it may be shown and stored (keys in it replaced by ``***``)."""
        return self._base_url.shown if self._base_url else None

    @property
    def _where(self) -> str:
        return self.base_url or "api.openai.com"

    def _client_options(self) -> dict[str, Any]:
        guard_logs()  # the HTTP stack logs request URLs: no key in those lines
        options: dict[str, Any] = {"api_key": self._api_key.get() if self._api_key else _NO_KEY}
        if self._base_url:
            # The client appends "/chat/completions" to the base URL's raw path, query and
            # all: a query (a gateway's ?api-key=, an ?api-version=) travels as default_query.
            url, query = _split_query(self._base_url.get())
            options["base_url"] = url
            if query:
                options["default_query"] = query
        if self.timeout is not None:
            options["timeout"] = self.timeout
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        return options

    def _sync_client(self) -> Any:
        if self._sync is None:
            import openai

            self._sync = openai.OpenAI(**self._client_options())
        return self._sync

    def _async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            import openai

            client = self._async[loop] = openai.AsyncOpenAI(**self._client_options())
        return client

    def _body_and_options(self, request: ProviderRequest) -> tuple[dict[str, Any], dict[str, Any]]:
        """The JSON body and request options ``chat.completions.create(stream=True)`` would send."""
        import openai

        body: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = request.tools
            if request.tool_choice is not None:
                body["tool_choice"] = request.tool_choice
        if request.response_format is not None:
            body["response_format"] = request.response_format
        params = request.params
        # create() drops its "not given" sentinels (older clients do not export openai.Omit).
        unset = tuple(kind for kind in (openai.NotGiven, getattr(openai, "Omit", None)) if isinstance(kind, type))
        extra: dict[str, Any] = {}
        for key, value in params.items():
            if key in _BODY_PARAMS:
                if not isinstance(value, unset):
                    body[key] = value
            elif key not in _OPTION_PARAMS:
                extra[key] = value
        options: dict[str, Any] = {"security": {**_SECURITY}}
        if params.get("extra_headers") is not None:
            options["headers"] = params["extra_headers"]
        if params.get("extra_query") is not None:
            options["params"] = {**params["extra_query"]}
        if "timeout" in params and not isinstance(params["timeout"], openai.NotGiven):
            options["timeout"] = params["timeout"]
        extra_body = {**extra, **(params.get("extra_body") or {})}
        if extra_body:
            # The client merges this over the body (top level, Omit values dropped), as for create().
            options["extra_json"] = extra_body
        return body, options

    def _post_stream(self, client: Any, stream_cls: Any, request: ProviderRequest) -> Any:
        """Start the streamed call: a ``Stream`` (or, for the async client, an awaitable ``AsyncStream``)."""
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        body, options = self._body_and_options(request)
        return client.post(
            "/chat/completions",
            body=body,
            options=options,
            cast_to=ChatCompletion,
            stream=True,
            stream_cls=stream_cls[ChatCompletionChunk],
        )

    def _guard_after_first_request(self) -> None:
        # The HTTP stack makes some of its loggers at its first connection: guard those too.
        if not self._logs_guarded:
            guard_logs()
            self._logs_guarded = True

    def stream(self, request: ProviderRequest) -> Iterator[ProviderEvent]:
        assembler = ChunkAssembler()
        try:
            import openai

            chunks = self._post_stream(self._sync_client(), openai.Stream, request)
            self._guard_after_first_request()
            try:
                for chunk in chunks:
                    text = assembler.feed(chunk)
                    if text:
                        yield StreamEvent("text_delta", text=text)
            finally:
                chunks.close()
        except Exception as exc:
            raise self._translate(exc, request, assembler) from None
        yield assembler.completion(request.model)

    async def astream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        assembler = ChunkAssembler()
        try:
            import openai

            chunks = await self._post_stream(self._async_client(), openai.AsyncStream, request)
            self._guard_after_first_request()
            try:
                async for chunk in chunks:
                    text = assembler.feed(chunk)
                    if text:
                        yield StreamEvent("text_delta", text=text)
            finally:
                await chunks.close()
        except Exception as exc:
            raise self._translate(exc, request, assembler) from None
        yield assembler.completion(request.model)

    def _translate(self, exc: Exception, request: ProviderRequest, assembler: ChunkAssembler) -> Exception:
        """Turn an ``openai`` exception into ours, with a message that says what to do."""
        import openai

        if isinstance(exc, ProviderError):
            return exc
        partial = "".join(assembler.text_parts)
        server_message = redact_text(_server_message(exc))
        where = self._where
        status = getattr(exc, "status_code", None)
        common: dict[str, Any] = {"partial_text": partial, "status_code": status, "provider": self.name}
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            if self._base_url and "@" in self._base_url.shown:
                hint = "check the credentials in the server URL"
            elif not self._api_key:
                hint = (
                    "no API key was sent: OPENAI_API_KEY goes only to OPENAI_BASE_URL's server (OpenAI's when it "
                    "is unset), so set OPENAI_BASE_URL to this server or pass api_key= with base_url="
                )
            else:
                hint = "check the key in OPENAI_API_KEY (or api_key=...) is valid for this server"
            return AuthenticationError(f"{where} rejected the request ({status}: {server_message}); {hint}.", **common)
        if isinstance(exc, openai.NotFoundError):
            return ModelNotFoundError(
                f"{where} answered 404 for model {request.model!r} ({server_message}); check the model name "
                "and that base_url ends with the API root (e.g. http://localhost:11434/v1).",
                **common,
            )
        if isinstance(exc, openai.RateLimitError):
            retry_after = _retry_after(exc)
            wait = f"wait {retry_after:g} s and retry" if retry_after else "wait a moment and retry"
            return RateLimitError(
                f"{where} is rate-limiting us (429: {server_message}); {wait}, or check your quota.",
                retry_after=retry_after,
                **common,
            )
        if isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)):
            return BadRequestError(
                f"{where} rejected the request ({status}: {server_message}); check the parameters you passed.",
                **common,
            )
        if isinstance(exc, openai.APIStatusError):
            return ProviderUnavailableError(
                f"{where} failed with HTTP {status} ({server_message}); retry in a moment.", **common
            )
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeoutError(
                f"{where} did not answer in time; retry, or raise the limit with Agent(timeout=...).", **common
            )
        if isinstance(exc, openai.APIConnectionError):
            if assembler.started:
                return StreamError(
                    f"the connection to {where} dropped mid-answer; the turn was not added, retry it.", **common
                )
            return ProviderUnavailableError(
                f"cannot reach {where}: is the server running?", hint="Check OPENAI_BASE_URL or base_url=.", **common
            )
        if isinstance(exc, openai.APIError):
            return StreamError(f"{where} reported an error mid-stream ({server_message}); retry the turn.", **common)
        return exc


def _split_query(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its query, and the query's parameters (in order, last one wins)."""
    from urllib.parse import parse_qsl, urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.query:
        return url, {}
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", parts.fragment)), query


def _server_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(getattr(exc, "message", "") or exc)


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class ChunkAssembler:
    """Folds ``ChatCompletionChunk``s into text, tool calls, usage and a finish reason.

    Tool calls arrive as deltas keyed by ``index``: the id and name once, the arguments
    in pieces, and several calls may interleave. The usage chunk has no choices.
    """

    __slots__ = ("calls", "finish_reason", "model", "refusal_parts", "started", "text_parts", "usage")

    def __init__(self) -> None:
        self.text_parts: list[str] = []
        self.refusal_parts: list[str] = []
        self.calls: dict[int, list[str]] = {}  # index -> [id, name, arguments...]
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.model = ""
        self.started = False

    def feed(self, chunk: Any) -> str:
        """Take one chunk; return its visible text ('' if none)."""
        self.started = True
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:
            self.usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
        if not chunk.choices:
            return ""
        choice = chunk.choices[0]
        delta = choice.delta
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason
        if delta is None:
            return ""
        if delta.refusal:
            self.refusal_parts.append(delta.refusal)
        if delta.tool_calls:
            for call in delta.tool_calls:
                entry = self.calls.setdefault(call.index, ["", ""])
                if call.id and not entry[0]:
                    entry[0] = call.id
                function = call.function
                if function is not None:
                    if function.name and not entry[1]:
                        entry[1] = function.name
                    if function.arguments:
                        entry.append(function.arguments)
        text = delta.content
        if text:
            self.text_parts.append(text)
            return str(text)
        return ""

    def completion(self, requested_model: str) -> Completion:
        calls = tuple(
            ToolCall(entry[0] or f"call_{index}", entry[1], "".join(entry[2:]) or "{}")
            for index, entry in sorted(self.calls.items())
        )
        return Completion(
            text="".join(self.text_parts),
            finish_reason=self.finish_reason,
            tool_calls=calls,
            usage=self.usage,
            model=self.model or requested_model,
            refusal="".join(self.refusal_parts) or None,
        )
