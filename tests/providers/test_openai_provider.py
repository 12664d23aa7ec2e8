"""The openai provider over real HTTP and SSE: the official client against the loopback server."""

from __future__ import annotations

import asyncio
import socket

import pytest
from pydantic import BaseModel

from vel_jupyter import Agent, tool
from vel_jupyter.errors import (
    AuthenticationError,
    IncompleteResponseError,
    ModelNotFoundError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
    RefusalError,
    StreamError,
)
from vel_jupyter.testing import OpenAIServer, Reply

from ..support.fixtures import TEST_KEY


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class TestStreaming:
    def test_text_usage_and_request_shape(self, server: OpenAIServer, openai_agent: Agent) -> None:
        server.enqueue(Reply.text("Hello there, Alice.", usage=(12, 4), model="gpt-4o-2024"))
        session = openai_agent.session(system="Be kind.")
        response = session.run("Hi, I'm Alice", temperature=0.3, max_tokens=50, top_k=5)
        assert response.text == "Hello there, Alice."
        assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (12, 4)
        assert response.model == "gpt-4o-2024"
        assert response.finish_reason == "stop"
        body = server.requests[-1].body
        assert body is not None
        assert body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
        assert body["model"] == "gpt-4o"
        assert body["messages"] == [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Hi, I'm Alice"},
        ]
        assert (body["temperature"], body["max_tokens"], body["top_k"]) == (0.3, 50, 5)
        assert server.requests[-1].headers["authorization"] == f"Bearer {TEST_KEY}"

    def test_stream_events_arrive_in_order(self, server: OpenAIServer, openai_agent: Agent) -> None:
        server.enqueue(Reply.text("one two three four"))
        events = list(openai_agent.session().stream("count"))
        assert [e.text for e in events if e.type == "text_delta"] == ["one", " two", " three", " four"]
        assert events[-1].type == "turn_end"

    def test_async_client(self, server: OpenAIServer, openai_agent: Agent) -> None:
        server.enqueue(Reply.text("async hello"), Reply.text("second"))
        session = openai_agent.session()

        async def main() -> list[str]:
            first = await session.run_async("hi")
            chunks = [e.text async for e in session.stream_async("again") if e.type == "text_delta"]
            return [first.text, "".join(chunks)]

        assert asyncio.run(main()) == ["async hello", "second"]
        assert len(session.messages) == 4

    def test_interleaved_parallel_tool_call_deltas(self, server: OpenAIServer, openai_agent: Agent) -> None:
        server.enqueue(
            Reply.tool_calls([("add", {"a": 1, "b": 2}), ("add", {"a": 10, "b": 20})], arg_chunks=4, interleave=True),
            Reply.text("3 and 30"),
        )
        agent = Agent(provider="openai", base_url=server.base_url, api_key=TEST_KEY, tools=[add], max_retries=0)
        session = agent.session()
        response = session.run("add them")
        calls = response.tool_calls
        assert [(c.name, c.parsed_arguments()) for c in calls] == [
            ("add", {"a": 1, "b": 2}),
            ("add", {"a": 10, "b": 20}),
        ]
        assert len({c.id for c in calls}) == 2
        assert [m.content for m in session.messages if m.role == "tool"] == ["3", "30"]
        second = server.requests[-1].body
        assert second is not None
        assert second["tools"][0]["function"]["name"] == "add"
        assert second["messages"][1]["tool_calls"][1]["function"]["arguments"] == '{"a": 10, "b": 20}'
        assert second["messages"][2] == {"role": "tool", "content": "3", "tool_call_id": calls[0].id}

    def test_async_tool_loop(self, server: OpenAIServer) -> None:
        server.enqueue(Reply.tool_calls([("add", {"a": 2, "b": 2})]), Reply.text("four"))
        agent = Agent(provider="openai", base_url=server.base_url, api_key=TEST_KEY, tools=[add], max_retries=0)
        response = asyncio.run(agent.session().run_async("2+2"))
        assert response.text == "four"

    def test_structured_output_request(self, server: OpenAIServer, openai_agent: Agent) -> None:
        class City(BaseModel):
            name: str
            population: int

        server.enqueue(Reply.text('{"name": "Lima", "population": 10000000}'))
        response = openai_agent.session().json("Biggest city in Peru?", schema=City)
        assert response.output == City(name="Lima", population=10_000_000)
        body = server.requests[-1].body
        assert body is not None
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["strict"] is True


class TestFinishReasons:
    @pytest.mark.parametrize("reason", ["length", "content_filter"])
    def test_a_cut_off_answer_over_http_is_kept_and_marked(
        self, server: OpenAIServer, openai_agent: Agent, reason: str
    ) -> None:
        server.enqueue(Reply.text("half of the", finish_reason=reason, usage=(12, 3)))
        session = openai_agent.session()
        response = session.run("Explain this concept", max_tokens=3)
        assert (response.text, response.finish_reason, response.incomplete) == ("half of the", reason, True)
        assert server.requests[-1].body is not None
        assert server.requests[-1].body["max_tokens"] == 3
        meta = session.messages[-1].meta
        assert meta is not None
        assert (meta.finish_reason, meta.usage.completion_tokens) == (reason, 3)

    def test_a_refusal_is_the_answer_of_a_plain_turn(self, server: OpenAIServer, openai_agent: Agent) -> None:
        server.enqueue(Reply.text("", refusal="I can't help with that."))
        session = openai_agent.session()
        response = session.run("do something bad")
        assert response.text == response.refusal == "I can't help with that."
        assert len(session.messages) == 2

    def test_a_cut_off_structured_answer_raises_even_when_incomplete_answers_are_allowed(
        self, server: OpenAIServer, openai_agent: Agent
    ) -> None:
        class City(BaseModel):
            name: str

        session = openai_agent.session()
        server.enqueue(Reply.text('{"name": "Li', finish_reason="length"))
        with pytest.raises(IncompleteResponseError, match="structured answer was cut off"):
            session.json("Biggest city in Peru?", City, allow_incomplete=True)
        assert session.messages == []


class TestFailures:
    @pytest.mark.parametrize(
        ("reply", "error", "message"),
        [
            (Reply.error_event("overloaded", after_text="partial"), StreamError, "error mid-stream"),
            (Reply.text("no end", finish_reason=None), StreamError, "without a finish reason"),
            (Reply.drop(after_text="half"), StreamError, "dropped mid-answer"),
            (Reply.http_error(404, "The model `gpt-9` does not exist"), ModelNotFoundError, "check the model name"),
            (Reply.http_error(500, "kaboom"), ProviderUnavailableError, "HTTP 500"),
        ],
    )
    def test_each_failure_has_a_clear_error_and_changes_nothing(
        self, server: OpenAIServer, openai_agent: Agent, reply: Reply, error: type[Exception], message: str
    ) -> None:
        server.enqueue(Reply.text("first"))
        session = openai_agent.session()
        session.run("one")
        before = session.to_dict()
        server.enqueue(reply)
        with pytest.raises(error, match=message):
            session.run("two")
        assert session.to_dict() == before

    @pytest.mark.parametrize(
        ("reason", "message"), [("length", "raise max_tokens"), ("content_filter", "content filter")]
    )
    def test_strict_mode_raises_for_a_cut_off_answer_and_changes_nothing(
        self, server: OpenAIServer, openai_agent: Agent, reason: str, message: str
    ) -> None:
        session = openai_agent.session()
        server.enqueue(Reply.text("first"))
        session.run("one")
        before = session.to_dict()
        server.enqueue(Reply.text("cut", finish_reason=reason))
        with pytest.raises(IncompleteResponseError, match=message):
            session.run("two", allow_incomplete=False)
        assert session.to_dict() == before

    def test_a_refused_json_turn_raises_and_changes_nothing(self, server: OpenAIServer, openai_agent: Agent) -> None:
        class City(BaseModel):
            name: str

        session = openai_agent.session()
        server.enqueue(Reply.text("", refusal="I can't help with that."))
        with pytest.raises(RefusalError, match=r"I can't help with that\."):
            session.json("Where?", City)
        assert session.messages == []

    def test_partial_text_survives_a_mid_stream_error(self, server: OpenAIServer, openai_agent: Agent) -> None:
        server.enqueue(Reply.error_event("overloaded", after_text="the first words"))
        with pytest.raises(StreamError) as info:
            openai_agent.session().run("go")
        assert info.value.partial_text == "the first words"

    def test_rate_limit_says_when_to_retry(self, server: OpenAIServer, openai_agent: Agent) -> None:
        server.enqueue(Reply.http_error(429, "Rate limit reached", retry_after=2))
        with pytest.raises(RateLimitError, match="wait 2 s and retry") as info:
            openai_agent.session().run("go")
        assert info.value.retry_after == 2
        assert info.value.status_code == 429

    def test_a_rejected_key_names_the_variable_and_is_never_echoed(
        self, server: OpenAIServer, openai_agent: Agent
    ) -> None:
        server.enqueue(Reply.http_error(401, f"Incorrect API key provided: {TEST_KEY}"))
        with pytest.raises(AuthenticationError, match="OPENAI_API_KEY") as info:
            openai_agent.session().run("go")
        assert TEST_KEY not in str(info.value)
        assert TEST_KEY not in repr(info.value.args)

    def test_a_missing_key_says_to_set_it(self, server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        agent = Agent(provider="openai", base_url=server.base_url, max_retries=0)  # the server wants a key
        with pytest.raises(
            AuthenticationError, match="no API key was sent: OPENAI_API_KEY goes only to OPENAI_BASE_URL"
        ):
            agent.session().run("go")

    def test_a_stalled_server_times_out(self, server: OpenAIServer) -> None:
        server.enqueue(Reply.stall(5, after_text="so far"))
        agent = Agent(provider="openai", base_url=server.base_url, api_key=TEST_KEY, timeout=0.5, max_retries=0)
        session = agent.session()
        with pytest.raises(ProviderTimeoutError, match="did not answer in time") as info:
            session.run("go")
        assert info.value.partial_text == "so far"
        assert session.messages == []

    def test_an_unreachable_server(self) -> None:
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        agent = Agent(provider="openai", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0)
        with pytest.raises(ProviderUnavailableError, match="cannot reach"):
            agent.session().run("go")

    def test_async_failures_are_translated_too(self, server: OpenAIServer, openai_agent: Agent) -> None:
        server.enqueue(Reply.http_error(404), Reply.drop(after_text="x"))
        session = openai_agent.session()
        with pytest.raises(ModelNotFoundError):
            asyncio.run(session.run_async("go"))
        with pytest.raises(StreamError):
            asyncio.run(session.run_async("go"))
        assert session.messages == []


class TestConfiguration:
    def test_environment_variables_configure_the_client(
        self, server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
        agent = Agent()  # no arguments: configured from the environment
        assert agent.provider_name == "openai"
        server.enqueue(Reply.text("from env"))
        assert agent.session().run("hi").text == "from env"

    def test_without_key_or_url_echo_answers_with_a_notice_at_its_first_turn(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        import vel_jupyter.providers as providers

        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        monkeypatch.setattr(providers, "_notice_shown", False)
        agent = Agent(provider="openai", model="gpt-4o")
        assert agent.provider_name == "echo"
        assert capsys.readouterr() == ("", ""), "making an agent says nothing: a turn may never run"
        session = agent.session()
        assert session.run("hello").text.startswith('You said: "hello"')
        session.run("again")
        out, err = capsys.readouterr()
        assert out == "" and err.splitlines() == [providers.FALLBACK_NOTICE]
        assert "OPENAI_API_KEY" in err and "echo" in err and "base_url=" in err

    def test_the_key_never_shows_in_reprs_or_dicts(self, server: OpenAIServer, openai_agent: Agent) -> None:
        server.enqueue(Reply.text("ok"))
        session = openai_agent.session()
        session.run("hi")
        for text in (
            repr(openai_agent),
            repr(openai_agent.provider),
            str(session.to_dict()),
            repr(session),
            str(vars(openai_agent)),
        ):
            assert TEST_KEY not in text

    def test_the_key_never_reaches_a_log_line(
        self, server: OpenAIServer, openai_agent: Agent, caplog: pytest.LogCaptureFixture
    ) -> None:
        import logging

        server.enqueue(Reply.text("ok"), Reply.http_error(401, f"bad key {TEST_KEY}"))
        with caplog.at_level(logging.DEBUG):
            session = openai_agent.session()
            session.run("hi")
            with pytest.raises(AuthenticationError):
                session.run("again")
        assert caplog.records  # the openai/httpx loggers did log at DEBUG
        assert TEST_KEY not in caplog.text
