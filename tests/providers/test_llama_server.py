"""The official ``openai`` client against llama.cpp's real llama-server (tests/llama), sync and async.

These pin what an independent OpenAI-compatible server really does with the requests vel_jupyter
sends: plain and streamed chat, usage in streams, both finish reasons, json_schema response formats,
tools, system prompts and multi-turn history. The tiny model's answers are designed (see
``tests/llama/tiny_model.py``): every plain answer is ``ANSWER`` and ends with "stop"; JSON is
the shortest the grammar allows, with "Hello from the tiny llama." for strings and 1 for integers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import openai
import pytest
from pydantic import BaseModel, ConfigDict

from ..llama.server import N_PREDICT, LlamaServer
from ..llama.tiny_model import ANSWER, ANSWER_TOKENS, LOOP_ANSWER

QUESTION = [{"role": "user", "content": "Say hello."}]


class Trip(BaseModel):
    model_config = ConfigDict(extra="forbid")
    city: str
    days: int


class Stop(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    nights: int


class Itinerary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stops: list[Stop]


def strict_format(model: type[BaseModel]) -> dict[str, object]:
    """response_format for ``model`` as OpenAI's strict structured outputs wants it (all required, closed)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": model.__name__, "schema": model.model_json_schema(), "strict": True},
    }


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


@pytest.fixture
def client(llama_server: LlamaServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=llama_server.base_url, api_key="unused", max_retries=0, timeout=30) as c:
        yield c


def aclient(server: LlamaServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=30)


# --- plain chat --------------------------------------------------------------------------------------


def test_models_lists_the_alias(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    assert [m.id for m in client.models.list()] == [llama_server.model]


def test_chat_answer_ends_with_stop(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    response = client.chat.completions.create(model=llama_server.model, messages=QUESTION)
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == ANSWER
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls is None
    assert response.model == llama_server.model
    assert response.usage is not None
    assert response.usage.completion_tokens == ANSWER_TOKENS + 1  # llama-server counts the EOS it stopped on
    assert response.usage.prompt_tokens > 0
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_answers_do_not_depend_on_the_sampling_parameters(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    """The model's logit gaps beat llama-server's default min_p, so a request's temperature changes nothing."""
    for temperature in (0.0, 0.7, 1.0):
        response = client.chat.completions.create(
            model=llama_server.model, messages=QUESTION, temperature=temperature, seed=1234
        )
        assert response.choices[0].message.content == ANSWER
        trip = client.chat.completions.create(
            model=llama_server.model,
            messages=QUESTION,
            response_format=strict_format(Trip),  # type: ignore[arg-type]
            temperature=temperature,
        )
        assert trip.choices[0].message.content == '{"city":"Hello from the tiny llama.","days":1}'


def test_max_tokens_cuts_the_answer_with_length(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    response = client.chat.completions.create(model=llama_server.model, messages=QUESTION, max_tokens=5)
    choice = response.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content == "Hello from the tiny llama"
    assert response.usage is not None and response.usage.completion_tokens == 5


def test_max_completion_tokens_is_the_same_limit(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    response = client.chat.completions.create(model=llama_server.model, messages=QUESTION, max_completion_tokens=2)
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message.content == "Hello from"


def test_server_cap_ends_an_endless_answer_with_length(llama_server_looping: LlamaServer) -> None:
    with openai.OpenAI(base_url=llama_server_looping.base_url, api_key="unused", max_retries=0, timeout=60) as c:
        response = c.chat.completions.create(model=llama_server_looping.model, messages=QUESTION)
    choice = response.choices[0]
    assert choice.finish_reason == "length"
    assert response.usage is not None and response.usage.completion_tokens == N_PREDICT
    assert choice.message.content is not None
    assert choice.message.content.startswith(LOOP_ANSWER * 3)


def test_looping_model_with_max_tokens(llama_server_looping: LlamaServer) -> None:
    with openai.OpenAI(base_url=llama_server_looping.base_url, api_key="unused", max_retries=0, timeout=30) as c:
        response = c.chat.completions.create(model=llama_server_looping.model, messages=QUESTION, max_tokens=8)
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message.content == "Hello from the tiny llama. Hello from"


def test_system_prompt_and_multi_turn_history(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": ANSWER},
        {"role": "user", "content": "And again, with ünïcödé and emoji 🦙?"},
    ]
    response = client.chat.completions.create(model=llama_server.model, messages=messages)  # type: ignore[arg-type]
    short = client.chat.completions.create(model=llama_server.model, messages=QUESTION)
    assert response.choices[0].message.content == ANSWER
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and short.usage is not None
    assert response.usage.prompt_tokens > short.usage.prompt_tokens + 20  # the history really was sent


# --- streaming -----------------------------------------------------------------------------------------


def test_streamed_chat(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    chunks = list(client.chat.completions.create(model=llama_server.model, messages=QUESTION, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text == ANSWER
    assert finishes == ["stop"]
    assert all(c.usage is None for c in chunks)  # not asked for
    assert len({c.id for c in chunks}) == 1


def test_stream_options_include_usage(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    chunks = list(
        client.chat.completions.create(
            model=llama_server.model, messages=QUESTION, stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens == ANSWER_TOKENS + 1  # the EOS counts
    assert last.usage.prompt_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER


def test_streamed_length(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    chunks = list(
        client.chat.completions.create(
            model=llama_server.model,
            messages=QUESTION,
            stream=True,
            max_tokens=3,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from the"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


# --- structured output ---------------------------------------------------------------------------------


def test_json_schema_strict(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    response = client.chat.completions.create(
        model=llama_server.model,
        messages=[{"role": "user", "content": "Plan a trip as JSON."}],
        response_format=strict_format(Trip),  # type: ignore[arg-type]
    )
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.content is not None
    trip = Trip.model_validate_json(choice.message.content)
    assert trip == Trip(city=ANSWER, days=1)
    assert json.loads(choice.message.content) == {"city": ANSWER, "days": 1}


def test_json_schema_list_of_objects(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    response = client.chat.completions.create(
        model=llama_server.model,
        messages=[{"role": "user", "content": "An itinerary, please."}],
        response_format=strict_format(Itinerary),  # type: ignore[arg-type]
    )
    assert response.choices[0].message.content is not None
    itinerary = Itinerary.model_validate_json(response.choices[0].message.content)
    assert itinerary == Itinerary(stops=[Stop(name=ANSWER, nights=1)])


def test_json_schema_streamed(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    stream = client.chat.completions.create(
        model=llama_server.model,
        messages=[{"role": "user", "content": "Plan a trip as JSON."}],
        response_format=strict_format(Trip),  # type: ignore[arg-type]
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert Trip.model_validate_json(text) == Trip(city=ANSWER, days=1)


def test_parse_helper_with_pydantic(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    completion = client.chat.completions.parse(
        model=llama_server.model, messages=[{"role": "user", "content": "Trip?"}], response_format=Trip
    )
    assert completion.choices[0].message.parsed == Trip(city=ANSWER, days=1)


# --- tools ---------------------------------------------------------------------------------------------


def test_tools_auto_answers_in_text(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    """With tool_choice "auto" the model may answer or call; this one answers (it never writes <tool_call>)."""
    response = client.chat.completions.create(
        model=llama_server.model,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    choice = response.choices[0]
    assert choice.message.content == ANSWER
    assert not choice.message.tool_calls
    assert choice.finish_reason == "stop"


def test_tools_required_returns_a_tool_call(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    """ "required" lets the model talk first: the answer, a blank line, then one call (see tiny_model)."""
    response = client.chat.completions.create(
        model=llama_server.model,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice="required",
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == ANSWER + "\n\n"
    assert choice.message.tool_calls is not None and len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": ANSWER}
    assert call.id


@pytest.mark.parametrize(
    "tool_choice",
    ["none", {"type": "function", "function": {"name": "get_weather"}}],
    ids=["none", "named"],
)
def test_tool_choice_none_or_named_answers_in_text(
    client: openai.OpenAI, llama_server: LlamaServer, tool_choice: object
) -> None:
    """ "none" forbids calls; a *named* tool_choice (an object) is not supported: llama-server logs
    "Wrong type supplied for parameter 'tool_choice'" and treats it as "auto"."""
    response = client.chat.completions.create(
        model=llama_server.model,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice=tool_choice,  # type: ignore[arg-type]
    )
    assert response.choices[0].message.content == ANSWER
    assert not response.choices[0].message.tool_calls
    assert response.choices[0].finish_reason == "stop"


def test_tool_result_round_trip(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    """A history with an assistant tool call and the tool's result is rendered and answered."""
    messages = [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 4}'},
    ]
    response = client.chat.completions.create(
        model=llama_server.model,
        messages=messages,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    assert response.choices[0].message.content == ANSWER
    assert response.choices[0].finish_reason == "stop"


def test_streamed_tool_call(client: openai.OpenAI, llama_server: LlamaServer) -> None:
    chunks = list(
        client.chat.completions.create(
            model=llama_server.model,
            messages=[{"role": "user", "content": "Weather in Oslo?"}],
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
            tool_choice="required",
            stream=True,
        )
    )
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert deltas and deltas[0].function is not None and deltas[0].function.name == "get_weather"
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    assert json.loads(arguments) == {"city": ANSWER}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


# --- async ---------------------------------------------------------------------------------------------


def test_async_chat_stream_and_concurrency(llama_server: LlamaServer) -> None:
    async def main() -> tuple[str | None, str, list[str | None]]:
        async with aclient(llama_server) as c:
            plain = await c.chat.completions.create(model=llama_server.model, messages=QUESTION)
            stream = await c.chat.completions.create(
                model=llama_server.model, messages=QUESTION, stream=True, stream_options={"include_usage": True}
            )
            parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
            many = await asyncio.gather(
                *(c.chat.completions.create(model=llama_server.model, messages=QUESTION) for _ in range(4))
            )
            return plain.choices[0].message.content, "".join(parts), [r.choices[0].message.content for r in many]

    plain, streamed, many = asyncio.run(main())
    assert plain == ANSWER
    assert streamed == ANSWER
    assert many == [ANSWER] * 4


def test_async_json_schema(llama_server: LlamaServer) -> None:
    async def main() -> str | None:
        async with aclient(llama_server) as c:
            response = await c.chat.completions.create(
                model=llama_server.model,
                messages=[{"role": "user", "content": "Trip?"}],
                response_format=strict_format(Trip),  # type: ignore[arg-type]
                max_tokens=100,
            )
            return response.choices[0].message.content

    content = asyncio.run(main())
    assert content is not None
    assert Trip.model_validate_json(content) == Trip(city=ANSWER, days=1)


# -- vel_jupyter itself on this server ----------------------------------------------------------------


def test_a_session_keeps_an_answer_cut_off_by_the_servers_own_cap(llama_server_looping: LlamaServer) -> None:
    from vel_jupyter import Agent

    agent = Agent(provider="openai", base_url=llama_server_looping.base_url, model=llama_server_looping.model)
    session = agent.session()
    response = session.run("Tell me everything")  # no max_tokens: the server's -n cap ends it
    assert (response.finish_reason, response.incomplete) == ("length", True)
    assert response.usage.completion_tokens == N_PREDICT
    assert response.text.startswith(LOOP_ANSWER.split()[0])
    assert [m.text for m in session.messages] == ["Tell me everything", response.text]


def test_a_cell_base_url_alone_talks_to_llama_server(
    llama_server: LlamaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a bare environment (no OPENAI_* variables), `%%chat k --base-url URL` uses that server,
    not the offline echo provider (issue 13's first point), checked against llama.cpp's server."""
    from IPython.core.interactiveshell import InteractiveShell

    from vel_jupyter.jupyter.registry import Registry, registry, set_registry

    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "VEL_STORE", "VEL_MODEL"):
        monkeypatch.delenv(name, raising=False)
    shell = InteractiveShell.instance()
    set_registry(Registry())
    shell.extension_manager.load_extension("vel_jupyter")
    try:
        shell.run_cell_magic(
            "chat", f"k -m {llama_server.model} --base-url {llama_server.base_url} -o vel_r", "Say hello."
        )
        response = shell.user_ns.pop("vel_r")
        session = registry().get("k")
        assert session.provider_name == "openai"
        assert response.text.strip() == ANSWER.strip() and response.finish_reason == "stop"
        assert "You said" not in response.text
    finally:
        shell.extension_manager.unload_extension("vel_jupyter")
