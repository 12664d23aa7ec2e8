"""The provider's self-built request is the one ``chat.completions.create()`` would send.

``OpenAIProvider`` skips ``create()`` (whose ``maybe_transform`` walk costs ~0.1 ms a
message) and posts a body it built itself through the client's low-level ``post()``.
Here both paths run on the provider's own sync and async clients against one recording
loopback server, and must send the same method, path, query, headers and JSON body.
``create()`` is called with the keywords the provider passed it before it stopped doing so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vel_jupyter.errors import (
    AuthenticationError,
    BadRequestError,
    ProviderError,
    RateLimitError,
    StreamError,
)
from vel_jupyter.providers.base import Completion, ProviderRequest
from vel_jupyter.providers.openai import OpenAIProvider
from vel_jupyter.testing import OpenAIServer, RecordedRequest, Reply

from ..support.fixtures import TEST_KEY

# What the provider passed to create() as keywords before it built the body itself.
CREATE_KEYWORDS = frozenset(
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
        "extra_headers",
        "extra_query",
        "extra_body",
        "timeout",
        "verbosity",
    }
)


def create_kwargs(request: ProviderRequest) -> dict[str, Any]:
    """The reference: ``chat.completions.create()`` keywords for ``request``."""
    kwargs: dict[str, Any] = {
        "model": request.model,
        "messages": request.messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.tools:
        kwargs["tools"] = request.tools
        if request.tool_choice is not None:
            kwargs["tool_choice"] = request.tool_choice
    if request.response_format is not None:
        kwargs["response_format"] = request.response_format
    extra: dict[str, Any] = {}
    for key, value in request.params.items():
        if key in CREATE_KEYWORDS:
            kwargs[key] = value
        else:
            extra[key] = value
    if extra:
        kwargs["extra_body"] = {**extra, **kwargs.get("extra_body", {})}
    return kwargs


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(api_key=TEST_KEY, default=Reply.text("ok")) as srv:
        yield srv


@pytest.fixture(scope="module")
def provider(server: OpenAIServer) -> OpenAIProvider:
    return OpenAIProvider(base_url=server.base_url, api_key=TEST_KEY, max_retries=0, timeout=5)


def recorded(server: OpenAIServer, send: Callable[[], None]) -> RecordedRequest:
    server.reset()
    send()
    assert len(server.requests) == 1, server.requests
    return server.requests[0]


def canonical(body: Any) -> str:
    """JSON text that tells ``true`` from ``1`` and ``1`` from ``1.0`` (Python's == does not)."""
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


def assert_same_request(ours: RecordedRequest, theirs: RecordedRequest) -> None:
    assert (ours.method, ours.path) == (theirs.method, theirs.path)
    assert ours.body is not None
    assert canonical(ours.body) == canonical(theirs.body)
    # Every header, Content-Length included: the same JSON through the same encoder.
    assert ours.headers == theirs.headers
    assert ours.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert ours.headers["content-type"] == "application/json"


def sync_pair(server: OpenAIServer, provider: OpenAIProvider, request: ProviderRequest) -> None:
    def ours() -> None:
        events = list(provider.stream(request))
        assert isinstance(events[-1], Completion)

    def theirs() -> None:
        with provider._sync_client().chat.completions.create(**create_kwargs(request)) as stream:
            for _ in stream:
                pass

    assert_same_request(recorded(server, ours), recorded(server, theirs))


def async_pair(server: OpenAIServer, provider: OpenAIProvider, request: ProviderRequest) -> None:
    async def ours() -> RecordedRequest:
        server.reset()
        events = [event async for event in provider.astream(request)]
        assert isinstance(events[-1], Completion)
        return server.requests[-1]

    async def theirs() -> RecordedRequest:
        server.reset()
        stream = await provider._async_client().chat.completions.create(**create_kwargs(request))
        async with stream:
            async for _ in stream:
                pass
        return server.requests[-1]

    async def both() -> tuple[RecordedRequest, RecordedRequest]:
        return await ours(), await theirs()

    assert_same_request(*asyncio.run(both()))


SYSTEM = {"role": "system", "content": "You are terse."}
USER = {"role": "user", "content": "What is 2 + 2?"}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TOOL_HISTORY = [
    SYSTEM,
    {"role": "user", "content": "Weather in Paris and Oslo?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21.5, "sky": "clear"}'},
    {"role": "tool", "tool_call_id": "call_2", "content": "-3 °C, snow"},
]
UNICODE = [
    {"role": "system", "content": "Réponds en français ✓"},
    {"role": "user", "content": '日本語 😀 עברית ضمّة e\u0301 \u2028 \x00 tab\t "quotes" back\\slash </script>'},
    {"role": "assistant", "content": "\U0001f9d1\u200d\U0001f680 ok", "name": "bøt"},
    {"role": "user", "content": [{"type": "text", "text": "part one ∑"}, {"type": "text", "text": "part two"}]},
]
SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "Answer",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "value": {"type": "number"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "detail": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
            "required": ["value", "tags", "detail"],
            "additionalProperties": False,
        },
    },
}
LONG_HISTORY = [SYSTEM] + [
    {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} ✓"} for i in range(1_000)
]

CORPUS: dict[str, ProviderRequest] = {
    "plain": ProviderRequest("gpt-4o", [SYSTEM, USER]),
    "tools and tool_choice": ProviderRequest(
        "gpt-4o", [USER], tools=[WEATHER_TOOL], tool_choice="required", params={"parallel_tool_calls": False}
    ),
    "tool_choice without tools is dropped": ProviderRequest("gpt-4o", [USER], tool_choice="auto"),
    "tool calls and tool results": ProviderRequest("gpt-4o", TOOL_HISTORY, tools=[WEATHER_TOOL], tool_choice="auto"),
    "json_schema response_format": ProviderRequest("gpt-4o", [USER], response_format=SCHEMA_FORMAT),
    "json_object response_format": ProviderRequest("gpt-4o", [USER], response_format={"type": "json_object"}),
    "unicode": ProviderRequest("gpt-4o-mini", UNICODE),
    "client params": ProviderRequest(
        "gpt-4o",
        [USER],
        params={
            "temperature": 0.3,
            "top_p": 1,
            "max_tokens": 50,
            "seed": 7,
            "stop": ["\n\n", "END"],
            "logit_bias": {"50256": -100},
            "metadata": {"run": "é"},
            "user": "u-1",
            "frequency_penalty": 0.0,
            "presence_penalty": -0.5,
            "n": 1,
            "logprobs": True,
            "top_logprobs": 2,
        },
    ),
    "newer client params": ProviderRequest(
        "o3-mini",
        [USER],
        params={"max_completion_tokens": 64, "reasoning_effort": "low", "verbosity": "low", "store": False},
    ),
    "None values are sent as null": ProviderRequest("gpt-4o", [USER], params={"temperature": None, "stop": None}),
    "server-specific params go to extra_body": ProviderRequest(
        "llama", [USER], params={"top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1, "cache_prompt": True}
    ),
    "extra_body wins over loose params": ProviderRequest(
        "llama", [USER], params={"top_k": 1, "extra_body": {"top_k": 2, "mirostat": 0}}
    ),
    "extra_body alone": ProviderRequest("gpt-4o", [USER], params={"extra_body": {"guided_json": {"type": "object"}}}),
    "stream_options override": ProviderRequest(
        "vllm", [USER], params={"stream_options": {"include_usage": True, "continuous_usage_stats": True}}
    ),
    "extra_body overrides the model and stream_options": ProviderRequest(
        "gpt-4o", [USER], params={"extra_body": {"model": "other", "stream_options": {"include_usage": False}}}
    ),
    "extra_headers, extra_query and timeout": ProviderRequest(
        "gpt-4o",
        [USER],
        params={
            "extra_headers": {"X-Trace-Id": "abc-123", "OpenAI-Beta": "assistants=v2"},
            "extra_query": {"api-version": "2024-10-21", "debug": "1"},
            "timeout": 7.5,
            "max_tokens": 9,
        },
    ),
    "timeout None": ProviderRequest("gpt-4o", [USER], params={"timeout": None}),
    "1,000 messages": ProviderRequest("gpt-4o", LONG_HISTORY, params={"top_k": 5}),
}


@pytest.mark.parametrize("request_", CORPUS.values(), ids=list(CORPUS))
def test_sync_request_matches_create(server: OpenAIServer, provider: OpenAIProvider, request_: ProviderRequest) -> None:
    sync_pair(server, provider, request_)


@pytest.mark.parametrize("request_", CORPUS.values(), ids=list(CORPUS))
def test_async_request_matches_create(
    server: OpenAIServer, provider: OpenAIProvider, request_: ProviderRequest
) -> None:
    async_pair(server, provider, request_)


def test_the_extra_headers_and_query_reach_the_server(server: OpenAIServer, provider: OpenAIProvider) -> None:
    request = CORPUS["extra_headers, extra_query and timeout"]
    sent = recorded(server, lambda: list(provider.stream(request)) and None)
    assert sent.headers["x-trace-id"] == "abc-123"
    assert sent.path == "/v1/chat/completions?api-version=2024-10-21&debug=1"


@pytest.mark.parametrize(
    ("reply", "error", "partial"),
    [
        (Reply.http_error(401, "Incorrect API key"), AuthenticationError, ""),
        (Reply.http_error(400, "bad param"), BadRequestError, ""),
        (Reply.http_error(429, "slow down", retry_after=2), RateLimitError, ""),
        (Reply.error_event("overloaded", after_text="half an answer"), StreamError, "half an answer"),
        (Reply.drop(after_text="cut off here"), StreamError, "cut off here"),
    ],
    ids=["401", "400", "429", "error event mid-stream", "dropped mid-stream"],
)
def test_errors_are_translated_on_both_clients(
    server: OpenAIServer, provider: OpenAIProvider, reply: Reply, error: type[ProviderError], partial: str
) -> None:
    request = CORPUS["plain"]

    async def drain() -> None:
        async for _ in provider.astream(request):
            pass

    failures: list[ProviderError] = []
    for run in (lambda: list(provider.stream(request)), lambda: asyncio.run(drain())):
        server.reset()
        server.enqueue(reply)
        with pytest.raises(error) as info:
            run()
        failures.append(info.value)
    sync_error, async_error = failures
    assert str(sync_error) == str(async_error)
    assert sync_error.partial_text == async_error.partial_text == partial
    assert TEST_KEY not in str(sync_error)


# -- generated histories ---------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)  # lone surrogates are not UTF-8
SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | TEXT
)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6
)
TOOL_CALL = st.fixed_dictionaries(
    {"id": TEXT, "type": st.just("function"), "function": st.fixed_dictionaries({"name": TEXT, "arguments": TEXT})}
)
TEXT_PARTS = st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": TEXT}), min_size=1, max_size=3)
MESSAGES = st.lists(
    st.one_of(
        st.fixed_dictionaries({"role": st.sampled_from(["system", "developer", "user"]), "content": TEXT | TEXT_PARTS}),
        st.fixed_dictionaries(
            {"role": st.just("assistant"), "content": st.none() | TEXT},
            optional={"tool_calls": st.lists(TOOL_CALL, min_size=1, max_size=3), "name": TEXT},
        ),
        st.fixed_dictionaries({"role": st.just("tool"), "tool_call_id": TEXT, "content": TEXT}),
    ),
    min_size=1,
    max_size=12,
)
PARAMS = st.dictionaries(
    st.sampled_from(["temperature", "max_tokens", "seed", "stop", "user", "metadata", "top_k", "min_p", "mirostat"]),
    JSON_VALUES,
    max_size=4,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=MESSAGES, params=PARAMS, with_tool=st.booleans())
def test_generated_requests_match_create(
    server: OpenAIServer,
    provider: OpenAIProvider,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    with_tool: bool,
) -> None:
    tools = [WEATHER_TOOL] if with_tool else []
    sync_pair(server, provider, ProviderRequest("gpt-4o", messages, tools=tools, tool_choice="auto", params=params))
