"""@tool schemas and the tool loop inside a turn."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Literal

import pytest
from pydantic import BaseModel

from vel_jupyter import Agent, tool
from vel_jupyter.errors import MaxStepsError, ToolDefinitionError
from vel_jupyter.testing import Reply, ScriptedProvider


@tool
def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
    """Get the current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
        unit: Temperature unit.
    """
    return f"18 {unit} in {city}"


class Address(BaseModel):
    street: str
    zip_code: str


@tool(name="ship", description="Ship an order to an address.")
def ship_order(order_id: int, address: Address, express: bool = False) -> dict[str, object]:
    return {"order": order_id, "to": address.street, "express": express}


@tool
def broken(x: int) -> str:
    """Always fails."""
    raise ValueError(f"cannot handle {x}")


class TestToolSchemas:
    def test_docstring_and_type_hints_become_the_schema(self) -> None:
        spec = get_weather.to_openai()["function"]
        assert spec["name"] == "get_weather"
        assert spec["description"] == "Get the current weather for a city."
        params = spec["parameters"]
        assert params["type"] == "object"
        assert params["required"] == ["city"]
        assert params["properties"]["city"] == {"type": "string", "description": 'The city name, e.g. "Paris".'}
        assert params["properties"]["unit"]["enum"] == ["C", "F"]
        assert params["properties"]["unit"]["default"] == "C"

    def test_nested_models_and_explicit_name(self) -> None:
        spec = ship_order.to_openai()["function"]
        assert spec["name"] == "ship"
        assert spec["description"] == "Ship an order to an address."
        assert "$defs" in spec["parameters"]
        assert spec["parameters"]["properties"]["order_id"]["type"] == "integer"

    def test_decorated_function_is_still_callable(self) -> None:
        assert get_weather("Oslo") == "18 C in Oslo"

    def test_star_args_are_rejected(self) -> None:
        with pytest.raises(ToolDefinitionError, match=r"\*args"):

            @tool
            def bad(*args: int) -> None:
                """Nope."""

    def test_bad_names_are_rejected(self) -> None:
        with pytest.raises(ToolDefinitionError, match="name"):
            tool(name="has space")(lambda: None)

    def test_duplicate_names_are_rejected(self) -> None:
        with pytest.raises(ToolDefinitionError, match="two tools"):
            Agent(provider="echo", tools=[get_weather, get_weather])


class TestToolLoop:
    def test_parallel_calls_run_and_their_results_go_back(self) -> None:
        provider = ScriptedProvider(
            Reply.tool_calls([("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Oslo", "unit": "F"})]),
            "Paris 18 C, Oslo 18 F.",
        )
        agent = Agent(provider=provider, tools=[get_weather])
        session = agent.session()
        events = list(session.stream("Weather in Paris and Oslo?"))
        kinds = [e.type for e in events if e.type != "text_delta"]
        assert kinds == ["tool_call", "tool_call", "tool_result", "tool_result", "turn_end"]
        results = [e.text for e in events if e.type == "tool_result"]
        assert results == ["18 C in Paris", "18 F in Oslo"]
        second = provider.calls[1].messages
        assert [m["role"] for m in second] == ["user", "assistant", "tool", "tool"]
        assert second[2]["tool_call_id"] == second[1]["tool_calls"][0]["id"]
        assert [m.role for m in session.messages] == ["user", "assistant", "tool", "tool", "assistant"]
        assert provider.calls[0].tools[0]["function"]["name"] == "get_weather"
        provider.assert_complete()

    def test_tool_exceptions_are_reported_to_the_model(self) -> None:
        provider = ScriptedProvider(Reply.tool_calls([("broken", {"x": 3})]), "Sorry, that failed.")
        agent = Agent(provider=provider, tools=[broken])
        events = list(agent.session().stream("try"))
        result = next(e for e in events if e.type == "tool_result")
        assert result.is_error
        assert result.text == "Error: ValueError: cannot handle 3"
        assert provider.calls[1].messages[-1]["content"] == "Error: ValueError: cannot handle 3"

    @pytest.mark.parametrize(
        ("arguments", "expected"),
        [
            ('{"city": ', "not a valid JSON object"),
            ('{"unit": "K"}', "invalid arguments for get_weather"),
            ("[1, 2]", "not a valid JSON object"),
        ],
    )
    def test_bad_arguments_are_reported_to_the_model(self, arguments: str, expected: str) -> None:
        provider = ScriptedProvider(Reply.tool_calls([("get_weather", arguments)]), "ok")
        agent = Agent(provider=provider, tools=[get_weather])
        agent.session().run("go")
        assert expected in provider.calls[1].messages[-1]["content"]

    def test_unknown_tools_are_reported_to_the_model(self) -> None:
        provider = ScriptedProvider(Reply.tool_calls([("nope", {})]), "ok")
        Agent(provider=provider, tools=[get_weather]).session().run("go")
        assert provider.calls[1].messages[-1]["content"] == (
            "Error: there is no tool named 'nope'; available tools: get_weather"
        )

    def test_the_last_step_forbids_tools_and_a_stubborn_model_fails_the_turn(self) -> None:
        call = Reply.tool_calls([("get_weather", {"city": "Rome"})])
        provider = ScriptedProvider(call, call, call)
        agent = Agent(provider=provider, tools=[get_weather], max_steps=3)
        session = agent.session()
        with pytest.raises(MaxStepsError, match="after 3 steps"):
            session.run("loop forever")
        assert [c.tool_choice for c in provider.calls] == [None, None, "none"]
        assert session.messages == []

    def test_the_last_step_answers_when_the_model_obeys(self) -> None:
        call = Reply.tool_calls([("get_weather", {"city": "Rome"})])
        provider = ScriptedProvider(call, "Rome is 18 C.")
        agent = Agent(provider=provider, tools=[get_weather], max_steps=2)
        assert agent.session().run("weather?").text == "Rome is 18 C."

    def test_async_tools_run_from_sync_code_and_sync_tools_from_async(self) -> None:
        seen_threads: list[str] = []

        @tool
        async def lookup(key: str) -> str:
            """Look a key up."""
            await asyncio.sleep(0)
            return key.upper()

        @tool
        def record(key: str) -> str:
            """Record a key."""
            seen_threads.append(threading.current_thread().name)
            return key

        script = [Reply.tool_calls([("lookup", {"key": "a"}), ("record", {"key": "b"})]), "done"]
        agent = Agent(provider=ScriptedProvider(*script), tools=[lookup, record])
        session = agent.session()
        session.run("go")
        assert [m.content for m in session.messages if m.role == "tool"] == ["A", "b"]

        agent2 = Agent(provider=ScriptedProvider(*script), tools=[lookup, record])
        session2 = agent2.session()
        asyncio.run(session2.run_async("go"))
        assert [m.content for m in session2.messages if m.role == "tool"] == ["A", "b"]
        assert seen_threads[0] == "MainThread"
        assert seen_threads[1] != "MainThread"  # async path keeps the loop free

    def test_structured_results_are_json(self) -> None:
        provider = ScriptedProvider(
            Reply.tool_calls([("ship", {"order_id": 7, "address": {"street": "Main", "zip_code": "1"}})]), "shipped"
        )
        agent = Agent(provider=provider, tools=[ship_order])
        agent.session().run("ship it")
        assert json.loads(provider.calls[1].messages[-1]["content"]) == {"order": 7, "to": "Main", "express": False}

    def test_echo_calls_a_tool_when_asked(self) -> None:
        agent = Agent(provider="echo", tools=[get_weather])
        session = agent.session()
        response = session.run('call get_weather {"city": "Lima"}')
        assert response.tool_calls[0].name == "get_weather"
        assert response.text == "Tool results: 18 C in Lima"
        session.run("call get_weather")  # no arguments: echo fills them from the schema
        assert session.messages[-2].content.startswith("18 C in echo")
