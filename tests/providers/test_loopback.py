"""The loopback server, driven through the official ``openai`` client over real sockets."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionContentPartTextParam, ChatCompletionMessageParam

from vel_jupyter._loopback import OpenAIServer, RecordedRequest, Reply

REPO = Path(__file__).resolve().parents[2]
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "what is up"}]


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


def client_for(srv: OpenAIServer, *, api_key: str = "test-key", timeout: float | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key=api_key, max_retries=0, timeout=timeout)


def stream_chunks(srv: OpenAIServer, *, include_usage: bool = False) -> list[ChatCompletionChunk]:
    with client_for(srv) as client:
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            stream=True,
            stream_options={"include_usage": True} if include_usage else openai.omit,
        )
        return list(stream)


def content_of(chunks: list[ChatCompletionChunk]) -> list[str]:
    return [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]


def test_sync_stream_text_with_usage(server: OpenAIServer) -> None:
    server.enqueue(Reply.text("Hello there, world"))

    chunks = stream_chunks(server, include_usage=True)

    # role chunk, 3 word chunks, finish chunk, usage chunk
    assert len(chunks) == 6
    assert chunks[0].choices[0].delta.role == "assistant"
    assert content_of(chunks) == ["Hello", " there,", " world"]
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * 4 + ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3, 3)
    assert chunks[-1].usage.total_tokens == 6
    assert all(c.usage is None for c in chunks[:-1])
    assert {c.id for c in chunks} == {chunks[0].id}
    assert chunks[0].id.startswith("chatcmpl-")
    assert {c.model for c in chunks} == {"gpt-4o"}
    server.assert_complete()


def test_even_chunks_model_override_and_no_usage_by_default(server: OpenAIServer) -> None:
    server.enqueue(Reply.text("abcdefghij", chunks=4, model="custom-model", usage=(7, 9)))

    chunks = stream_chunks(server)

    assert "".join(content_of(chunks)) == "abcdefghij"
    assert len(content_of(chunks)) == 4
    assert {c.model for c in chunks} == {"custom-model"}
    assert all(c.choices and c.usage is None for c in chunks)


def test_refusal_and_missing_finish_reason(server: OpenAIServer) -> None:
    server.enqueue(Reply.text("", refusal="I can't help with that", finish_reason=None))

    chunks = stream_chunks(server)

    refusal = "".join(c.choices[0].delta.refusal or "" for c in chunks)
    assert refusal == "I can't help with that"
    assert content_of(chunks) == []
    assert all(c.choices[0].finish_reason is None for c in chunks)


def test_delay_spreads_chunks_over_time(server: OpenAIServer) -> None:
    server.enqueue(Reply.text("a b c", delay=0.05))
    arrivals: list[float] = []
    with client_for(server) as client:
        start = time.monotonic()
        stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
        for chunk in stream:
            if chunk.choices[0].delta.content:
                arrivals.append(time.monotonic())

    assert len(arrivals) == 3
    # A lower bound by causality, whatever the machine's load: the server sends "c" only after
    # waiting between the role chunk, "a", "b" and "c" (3 x 0.05 s). (The gap between two
    # arrivals is no bound: a busy client may read "a" and "b" together.)
    assert arrivals[-1] - start >= 0.14


def test_async_concurrent_streams_echo_by_default(server: OpenAIServer) -> None:
    async def ask(client: openai.AsyncOpenAI, content: str | list[ChatCompletionContentPartTextParam]) -> str:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": content}], stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream])

    async def main() -> tuple[str, str, str]:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test-key", max_retries=0) as client:
            parts: list[ChatCompletionContentPartTextParam] = [{"type": "text", "text": "from parts"}]
            return await asyncio.gather(ask(client, "one"), ask(client, "two"), ask(client, parts))

    assert list(asyncio.run(main())) == ["Echo: one", "Echo: two", "Echo: from parts"]
    assert len(server.requests) == 3


def test_non_streaming_completion(server: OpenAIServer) -> None:
    server.enqueue(Reply.text("All good here", usage=(11, 3)))
    with client_for(server) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)

    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o"
    assert completion.choices[0].message.content == "All good here"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (11, 3)


def test_non_streaming_tool_calls_carry_full_arguments(server: OpenAIServer) -> None:
    server.enqueue(Reply.tool_calls([("lookup", {"q": "x"})], ids=["call_a"]))
    with client_for(server) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("call_a", "lookup", {"q": "x"})


def test_tool_call_deltas_interleave_and_reassemble(server: OpenAIServer) -> None:
    weather = {"city": "Paris", "unit": "celsius", "days": [1, 2, 3]}
    server.enqueue(
        Reply.tool_calls(
            [("get_weather", weather), ("broken", '{"oops": ')],
            text="Let me check.",
            arg_chunks=3,
            ids=["call_w", "call_b"],
        )
    )

    chunks = stream_chunks(server)

    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(content_of(chunks)) == "Let me check."
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    headers = [d for d in deltas if d.id is not None]
    assert [(d.index, d.id, d.type) for d in headers] == [(0, "call_w", "function"), (1, "call_b", "function")]
    assert [d.function.name for d in headers if d.function] == ["get_weather", "broken"]
    assert all(d.function and d.function.arguments == "" for d in headers)
    pieces = [d for d in deltas if d.id is None]
    assert all(d.function and d.function.name is None and d.type is None for d in pieces)
    assert [d.index for d in pieces] == [0, 1, 0, 1, 0, 1]
    arguments = {0: "", 1: ""}
    for d in pieces:
        assert d.function is not None
        arguments[d.index] += d.function.arguments or ""
    assert json.loads(arguments[0]) == weather
    assert arguments[1] == '{"oops": '
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_calls_without_text_fold_role_into_first_header(server: OpenAIServer) -> None:
    server.enqueue(Reply.tool_calls([("a", {}), ("b", {})], interleave=False, arg_chunks=1))

    chunks = stream_chunks(server)

    first = chunks[0].choices[0].delta
    assert first.role == "assistant"
    assert first.tool_calls
    assert first.tool_calls[0].function
    assert first.tool_calls[0].function.name == "a"
    indexes = [tc.index for c in chunks for tc in c.choices[0].delta.tool_calls or []]
    assert indexes == [0, 0, 1, 1]


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_http_errors_map_to_openai_exceptions(
    server: OpenAIServer, status: int, error_class: type[openai.APIStatusError], stream: bool
) -> None:
    server.enqueue(Reply.http_error(status, f"scripted {status}", code="some_code", retry_after=0.25))
    with client_for(server) as client, pytest.raises(error_class) as caught:
        client.chat.completions.create(model="gpt-4o", messages=USER, stream=stream)

    error = caught.value
    assert error.status_code == status
    assert error.message == f"Error code: {status} - scripted {status}"
    assert error.code == "some_code"
    assert isinstance(error.body, dict)
    assert error.body["param"] is None
    assert error.response.headers["retry-after"] == "0.25"


def test_error_event_raises_after_partial_text(server: OpenAIServer) -> None:
    server.enqueue(Reply.error_event("model overloaded", after_text="partial answer", code="overloaded"))
    received: list[str] = []
    with client_for(server) as client:
        stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "partial answer"
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.message == "model overloaded"
    assert caught.value.code == "overloaded"


def test_error_event_without_stream_is_http_500(server: OpenAIServer) -> None:
    server.enqueue(Reply.error_event("model overloaded"))
    with client_for(server) as client, pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert caught.value.type == "server_error"


def test_drop_mid_stream_is_connection_error(server: OpenAIServer) -> None:
    server.enqueue(Reply.drop(after_text="half of the"), Reply.text("recovered"))
    received: list[str] = []
    with client_for(server) as client:
        stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
        with pytest.raises(openai.APIConnectionError):
            for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
        # The pool must not reuse the dead connection.
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)

    assert "".join(received) == "half of the"
    assert completion.choices[0].message.content == "recovered"


def test_drop_without_stream_is_connection_error(server: OpenAIServer) -> None:
    server.enqueue(Reply.drop())
    with client_for(server) as client, pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o", messages=USER)


def test_stall_times_out_and_stop_interrupts_it() -> None:
    srv = OpenAIServer().start()
    try:
        # A 600 s stall: if the timeout or stop() did not interrupt it, pytest's timeout fails the test.
        srv.enqueue(Reply.stall(600, after_text="thinking"))
        received: list[str] = []
        with client_for(srv, timeout=0.5) as client:
            stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
            with pytest.raises(openai.APITimeoutError):
                for chunk in stream:
                    received.append(chunk.choices[0].delta.content or "")
        assert "".join(received) == "thinking"
    finally:
        srv.stop()


def test_stall_without_stream_times_out(server: OpenAIServer) -> None:
    server.enqueue(Reply.stall(30))
    with client_for(server, timeout=0.3) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o", messages=USER)


def test_raw_sse_is_sent_verbatim(server: OpenAIServer) -> None:
    chunk = {
        "id": "raw-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "hand-written",
        "choices": [{"index": 0, "delta": {"content": "raw"}, "finish_reason": "length"}],
    }
    server.enqueue(Reply.raw_sse([json.dumps(chunk), "[DONE]", json.dumps(chunk)]))

    chunks = stream_chunks(server)

    # Nothing is added: no role chunk, no usage; the event after [DONE] is never read.
    assert len(chunks) == 1
    assert (chunks[0].id, chunks[0].model) == ("raw-1", "hand-written")
    assert chunks[0].choices[0].delta.content == "raw"
    assert chunks[0].choices[0].finish_reason == "length"


def test_api_key_is_enforced() -> None:
    with OpenAIServer(api_key="secret") as srv:
        with client_for(srv) as client, pytest.raises(openai.AuthenticationError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=USER)
        assert caught.value.code == "invalid_api_key"

        with client_for(srv, api_key="secret") as client:
            completion = client.chat.completions.create(model="gpt-4o", messages=USER)
        assert completion.choices[0].message.content == "Echo: what is up"
        assert [r.headers["authorization"] for r in srv.requests] == ["Bearer test-key", "Bearer secret"]


def test_requests_are_recorded_with_body(server: OpenAIServer) -> None:
    with client_for(server) as client:
        client.chat.completions.create(model="gpt-4o", messages=USER, stream=True, temperature=0.2).close()
        models = client.models.list()
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="text-embedding-3-small", input="hi")

    assert {"gpt-4o", "gpt-4o-mini", "echo"} <= {m.id for m in models.data}
    chat, listing, unknown = server.requests
    assert isinstance(chat, RecordedRequest)
    assert (chat.method, chat.path) == ("POST", "/v1/chat/completions")
    assert chat.body is not None
    assert chat.body["temperature"] == 0.2
    assert chat.messages == USER
    assert chat.stream
    assert chat.headers["content-type"] == "application/json"
    assert (listing.method, listing.path, listing.body, listing.stream) == ("GET", "/v1/models", None, False)
    assert (unknown.path, unknown.messages) == ("/v1/embeddings", [])


def test_default_callable_sees_the_request() -> None:
    def answer(request: RecordedRequest) -> Reply:
        return Reply.text(f"{len(request.messages)} messages")

    with OpenAIServer(default=answer) as srv, client_for(srv) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=USER * 2)
    assert completion.choices[0].message.content == "2 messages"


def test_queue_bookkeeping(server: OpenAIServer) -> None:
    server.enqueue(Reply.text("first"), Reply.text("second"), Reply.http_error(500))
    with client_for(server) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.choices[0].message.content == "first"
    assert server.pending == 2

    with pytest.raises(AssertionError, match=r"2 scripted replies.*'second'.*http_error\(500\)"):
        server.assert_complete()

    server.reset()
    assert (server.pending, server.requests) == (0, [])
    server.assert_complete()


def test_keep_alive_reuses_one_connection(server: OpenAIServer) -> None:
    url = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port)
    body = json.dumps({"model": "gpt-4o", "messages": USER, "stream": True})
    try:
        sockets = []
        for _ in range(3):
            connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.headers["Transfer-Encoding"] == "chunked"
            assert response.read().endswith(b"data: [DONE]\n\n")
            sockets.append(connection.sock)
    finally:
        connection.close()
    assert sockets[0] is not None
    assert sockets.count(sockets[0]) == 3


def test_large_stream_is_complete_and_fast(server: OpenAIServer) -> None:
    words = [f"w{i}" for i in range(5000)]
    server.enqueue(Reply.text(" ".join(words)))

    chunks = stream_chunks(server)

    assert len(content_of(chunks)) == 5000
    assert "".join(content_of(chunks)) == " ".join(words)


def test_subprocess_mode_serves_words() -> None:
    command = [sys.executable, "-m", "vel_jupyter._loopback", "--port", "0", "--words", "1000"]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            ready, base_url = process.stdout.readline().split()
            assert ready == "READY"
            assert base_url.startswith("http://127.0.0.1:")
            with openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0) as client:
                stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
                pieces = content_of(list(stream))
        finally:
            process.kill()
    assert len(pieces) == 1000
    assert "".join(pieces) == " ".join(f"tok{i}" for i in range(1000))


def test_subprocess_mode_serves_a_fixed_text_slowly() -> None:
    command = [
        sys.executable,
        "-m",
        "vel_jupyter._loopback",
        "--port",
        "0",
        "--text",
        "<b>fixed</b> text",
        "--delay",
        "0.01",
    ]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            _, base_url = process.stdout.readline().split()
            with openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0) as client:
                stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
                pieces = content_of(list(stream))
        finally:
            process.kill()
    assert "".join(pieces) == "<b>fixed</b> text"
    assert len(pieces) == 2
