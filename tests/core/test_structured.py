"""json(): structured output validated by pydantic."""

from __future__ import annotations

import asyncio
from datetime import date
from enum import Enum

import pytest
from pydantic import BaseModel, Field

from vel_jupyter import Agent
from vel_jupyter.core.structured import response_format
from vel_jupyter.errors import RefusalError, StructuredOutputError
from vel_jupyter.testing import Reply, ScriptedProvider


class Summary(BaseModel):
    key_points: list[str]
    conclusion: str


class Mood(str, Enum):
    happy = "happy"
    sad = "sad"


class Person(BaseModel):
    name: str = Field(min_length=2)
    age: int = Field(ge=0)
    born: date
    mood: Mood
    nickname: str | None = None
    friends: list[Summary] = []


class TestJson:
    def test_output_is_a_schema_instance(self) -> None:
        provider = ScriptedProvider('{"key_points": ["a", "b"], "conclusion": "c"}')
        session = Agent(provider=provider).session()
        response = session.json("Summarize our conversation", schema=Summary)
        assert response.output == Summary(key_points=["a", "b"], conclusion="c")
        assert provider.calls[0].response_format == response_format(Summary)
        assert len(session.messages) == 2

    def test_fenced_json_is_accepted(self) -> None:
        provider = ScriptedProvider('```json\n{"key_points": [], "conclusion": "c"}\n```')
        assert Agent(provider=provider).session().json("s", schema=Summary).output.conclusion == "c"

    def test_invalid_json_fails_the_turn_and_keeps_the_text(self) -> None:
        provider = ScriptedProvider('{"key_points": "oops"}')
        session = Agent(provider=provider).session()
        with pytest.raises(StructuredOutputError, match="key_points") as info:
            session.json("s", schema=Summary)
        assert info.value.partial_text == '{"key_points": "oops"}'
        assert session.messages == []

    def test_a_refusal_fails_the_turn(self) -> None:
        provider = ScriptedProvider(Reply.text("", refusal="I can't."))
        with pytest.raises(RefusalError, match="I can't"):
            Agent(provider=provider).session().json("s", schema=Summary)

    def test_echo_returns_a_valid_instance_for_rich_schemas(self) -> None:
        session = Agent(provider="echo").session()
        person = session.json("Describe someone", schema=Person).output
        assert isinstance(person, Person)
        assert person.mood is Mood.happy
        summary = asyncio.run(session.json_async("Summarize", schema=Summary)).output
        assert summary.key_points == ["echo: Summarize"]

    def test_strict_schema_when_openai_allows_it(self) -> None:
        fmt = response_format(Person)["json_schema"]
        assert fmt["strict"] is True
        assert fmt["schema"]["required"] == ["name", "age", "born", "mood", "nickname", "friends"]
        assert fmt["schema"]["additionalProperties"] is False
        assert "default" not in str(fmt["schema"])

    def test_open_dicts_fall_back_to_non_strict(self) -> None:
        class Loose(BaseModel):
            extra: dict[str, int]

        fmt = response_format(Loose)["json_schema"]
        assert fmt["strict"] is False
        assert fmt["schema"] == Loose.model_json_schema()


def test_guide_a_summarisation_pattern() -> None:
    class ConversationSummary(BaseModel):
        bullets: list[str]

    agent = Agent(provider="echo")
    session = agent.session()
    for i in range(11):
        session.run(f"message {i}")
    if len(session.messages) > 20:
        summary_response = session.json(
            "Summarize our conversation so far in 3 bullet points", schema=ConversationSummary
        )
        new_session = agent.session(system=f"Previous conversation summary: {summary_response.output}")
        assert new_session.system is not None and "bullets=" in new_session.system
        assert new_session.messages == []
    else:  # pragma: no cover - the loop above guarantees > 20 messages
        pytest.fail("the guide's branch was not taken")
