"""Stopping a turn: by default nothing is added (guide A's rule for failed turns); with
``keep_stopped=True`` the answer so far is kept as a turn marked "stopped", committed like any
turn, and only the streamed text of the model call that was stopped, when it has some."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from vel_jupyter import Agent, Session, tool
from vel_jupyter.core.response import StreamEvent
from vel_jupyter.errors import IncompleteResponseError, TurnInterrupted
from vel_jupyter.providers import ProviderEvent, ProviderRequest
from vel_jupyter.stores import SQLiteStore
from vel_jupyter.testing import Reply, ScriptedProvider


class CtrlCAfter(ScriptedProvider):
    """Streams ``words``, then Ctrl-C lands inside the provider (where a real stream waits on
    the network); replies enqueued before are answered first."""

    def __init__(self, *words: str) -> None:
        super().__init__()
        self.words = words

    def stream(self, request: ProviderRequest) -> Iterator[ProviderEvent]:
        if self._queue:
            yield from super().stream(request)
            return
        self.calls.append(request)
        for word in self.words:
            yield StreamEvent("text_delta", text=word)
        raise KeyboardInterrupt

    async def astream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        if self._queue:
            async for item in super().astream(request):
                yield item
            return
        self.calls.append(request)
        for word in self.words:
            yield StreamEvent("text_delta", text=word)
        raise KeyboardInterrupt


def history(session: Session) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in session.messages]


def stop_after(session: Session, words: int, **params: object) -> str:
    """Stream a turn and close it after ``words`` text deltas; the text seen."""
    stream = session.stream("go", **params)  # type: ignore[arg-type]
    seen = 0
    for event in stream:
        seen += event.type == "text_delta"
        if seen == words:
            break
    stream.close()
    return stream.text


class TestByDefaultAStopAddsNothing:
    def test_a_closed_stream_adds_nothing(self, scripted: ScriptedProvider, scripted_agent: Agent) -> None:
        scripted.enqueue("first", Reply.text("a b c d"))
        session = scripted_agent.session()
        session.run("one")
        before = session.to_dict()
        assert stop_after(session, 2) == "a b"
        assert session.to_dict() == before

    def test_ctrl_c_inside_the_provider_adds_nothing(self) -> None:
        session = Agent(provider=CtrlCAfter("so ", "far")).session()
        with pytest.raises(TurnInterrupted) as info:
            session.run("go")
        assert info.value.response is None and info.value.partial_text == "so far"
        assert str(info.value) == "turn interrupted; the session is unchanged"
        assert session.messages == []


class TestKeepStoppedKeepsTheAnswerSoFar:
    def test_closing_keeps_exactly_what_was_streamed_marked_stopped(
        self, scripted: ScriptedProvider, scripted_agent: Agent
    ) -> None:
        scripted.enqueue("first", Reply.text("a b c d e"))
        session = scripted_agent.session()
        session.run("one")
        stream = session.stream("two", keep_stopped=True)
        for event in stream:
            if event.text == " c":
                break
        stream.close()
        response = stream.response
        assert response is not None and response.text == stream.text == "a b c"
        assert response.finish_reason == "stopped" and response.incomplete
        assert history(session)[-2:] == [("user", "two"), ("assistant", "a b c")]
        meta = session.messages[-1].meta
        assert meta is not None and meta.finish_reason == "stopped" and meta.incomplete
        assert response.message_ids == tuple(n.id for n in session.nodes[-2:])
        assert session.head == response.message_ids[-1]
        assert session.stats["messages"] == 4

    def test_a_stopped_turn_is_continued_like_any_other(
        self, scripted: ScriptedProvider, scripted_agent: Agent
    ) -> None:
        scripted.enqueue(Reply.text("a b c d"), "next")
        session = scripted_agent.session()
        stop_after(session, 2, keep_stopped=True)
        session.run("go on")
        sent = scripted.calls[-1].messages
        assert [(m["role"], m["content"]) for m in sent] == [
            ("user", "go"),
            ("assistant", "a b"),
            ("user", "go on"),
        ]

    def test_leaving_a_with_block_keeps_it(self, scripted: ScriptedProvider, scripted_agent: Agent) -> None:
        scripted.enqueue(Reply.text("a b c d"))
        session = scripted_agent.session()
        with pytest.raises(KeyboardInterrupt), session.stream("go", keep_stopped=True) as stream:
            for event in stream:
                if event.text == " b":
                    raise KeyboardInterrupt  # Ctrl-C in the caller's code, between two events
        assert stream.response is not None and stream.response.finish_reason == "stopped"
        assert history(session) == [("user", "go"), ("assistant", "a b")]

    def test_ctrl_c_inside_the_provider_keeps_it_and_still_raises(self) -> None:
        provider = CtrlCAfter("so ", "far")
        provider.enqueue("first")
        session = Agent(provider=provider).session()
        session.run("one")
        with pytest.raises(TurnInterrupted) as info:
            session.run("two", keep_stopped=True)
        kept = info.value.response
        assert kept is not None and kept.text == "so far" and kept.finish_reason == "stopped"
        assert "kept" in str(info.value) and "\n" not in str(info.value)
        assert history(session)[-2:] == [("user", "two"), ("assistant", "so far")]

    def test_the_turn_ended_before_the_close_changes_nothing(
        self, scripted: ScriptedProvider, scripted_agent: Agent
    ) -> None:
        scripted.enqueue("all of it")
        session = scripted_agent.session()
        stream = session.stream("go", keep_stopped=True)
        events = list(stream)
        stream.close()
        assert events[-1].type == "turn_end" and stream.response is not None
        assert stream.response.finish_reason == "stop"
        assert history(session) == [("user", "go"), ("assistant", "all of it")]

    def test_strict_mode_does_not_refuse_a_stop_asked_for(self, scripted: ScriptedProvider) -> None:
        scripted.enqueue(Reply.text("a b c"))
        session = Agent(provider=scripted, allow_incomplete=False).session()
        assert stop_after(session, 1, keep_stopped=True) == "a"
        assert history(session) == [("user", "go"), ("assistant", "a")]
        scripted.enqueue(Reply.text("x y", finish_reason="length"))
        with pytest.raises(IncompleteResponseError):
            session.run("cut off")

    def test_a_stream_dropped_unread_keeps_nothing(self, scripted: ScriptedProvider, scripted_agent: Agent) -> None:
        """Only a stop asked for keeps: a stream the garbage collector closes is not one."""
        scripted.enqueue(Reply.text("a b c"))
        session = scripted_agent.session()
        stream = session.stream("go", keep_stopped=True)
        next(stream)
        del stream
        gc.collect()
        assert session.messages == []


class TestWhatAStopCannotKeep:
    def test_a_stop_before_any_text_keeps_nothing(self) -> None:
        session = Agent(provider=CtrlCAfter()).session()
        with pytest.raises(TurnInterrupted) as info:
            session.run("go", keep_stopped=True)
        assert info.value.response is None and session.messages == []

    def test_whitespace_is_no_answer(self) -> None:
        session = Agent(provider=CtrlCAfter("\n", "  ")).session()
        with pytest.raises(TurnInterrupted):
            session.run("go", keep_stopped=True)
        assert session.messages == []

    def test_a_stream_closed_before_it_started_keeps_nothing(self, scripted_agent: Agent) -> None:
        session = scripted_agent.session()
        stream = session.stream("go", keep_stopped=True)
        stream.close()
        assert stream.response is None and session.messages == []

    def test_a_stop_at_a_tool_call_keeps_nothing(self, scripted: ScriptedProvider) -> None:
        @tool
        def lookup(q: str) -> str:
            """Look something up."""
            return "found"

        scripted.enqueue(Reply.tool_calls([("lookup", '{"q": "x"}')], text="Let me look. "), "done")
        session = Agent(provider=scripted, tools=[lookup]).session()
        stream = session.stream("go", keep_stopped=True)
        for event in stream:
            if event.type == "tool_call":
                break
        stream.close()
        assert stream.text == "Let me look. " and stream.response is None
        assert session.messages == []

    def test_ctrl_c_while_a_tool_runs_keeps_nothing(self, scripted: ScriptedProvider) -> None:
        @tool
        def slow(q: str) -> str:
            """A tool the user stops."""
            raise KeyboardInterrupt

        scripted.enqueue(Reply.tool_calls([("slow", '{"q": "x"}')], text="Working. "))
        session = Agent(provider=scripted, tools=[slow]).session()
        with pytest.raises(TurnInterrupted) as info:
            session.run("go", keep_stopped=True)
        assert info.value.response is None and session.messages == []

    def test_a_stop_after_the_tools_keeps_the_completed_steps_and_the_text(self) -> None:
        @tool
        def lookup(q: str) -> str:
            """Look something up."""
            return "found"

        provider = CtrlCAfter("It is ", "fou")
        provider.enqueue(Reply.tool_calls([("lookup", '{"q": "x"}')]))
        session = Agent(provider=provider, tools=[lookup]).session()
        with pytest.raises(TurnInterrupted) as info:
            session.run("go", keep_stopped=True)
        roles = [m.role for m in session.messages]
        assert roles == ["user", "assistant", "tool", "assistant"]
        assert session.messages[1].tool_calls and session.messages[2].content == "found"
        assert session.messages[-1].content == "It is fou"
        kept = info.value.response
        assert kept is not None and len(kept.messages) == 4 and kept.tool_calls

    def test_a_structured_turn_keeps_nothing(self, scripted: ScriptedProvider, scripted_agent: Agent) -> None:
        class City(BaseModel):
            name: str

        scripted.enqueue(Reply.text('{"name": "Par', chunks=3))
        session = scripted_agent.session()
        stream = session.stream("go", schema=City, keep_stopped=True)
        next(stream)
        stream.close()
        assert stream.response is None and session.messages == []


class TestAsync:
    def test_aclose_keeps_the_answer_so_far(self, scripted: ScriptedProvider, scripted_agent: Agent) -> None:
        scripted.enqueue(Reply.text("a b c d"))
        session = scripted_agent.session()

        async def main() -> str | None:
            async with session.stream_async("go", keep_stopped=True) as stream:
                async for event in stream:
                    if event.text == " b":
                        break
            return stream.response.text if stream.response else None

        assert asyncio.run(main()) == "a b"
        assert session.messages[-1].meta is not None and session.messages[-1].meta.finish_reason == "stopped"

    def test_aclose_without_keep_stopped_adds_nothing(self, scripted: ScriptedProvider, scripted_agent: Agent) -> None:
        scripted.enqueue(Reply.text("a b c d"))
        session = scripted_agent.session()

        async def main() -> None:
            stream = session.stream_async("go")
            async for _ in stream:
                break
            await stream.aclose()

        asyncio.run(main())
        assert session.messages == []

    def test_ctrl_c_inside_the_provider_keeps_it(self) -> None:
        session = Agent(provider=CtrlCAfter("so ", "far")).session()

        async def main() -> None:
            await session.run_async("go", keep_stopped=True)

        with pytest.raises(TurnInterrupted) as info:
            asyncio.run(main())
        assert info.value.response is not None and history(session) == [("user", "go"), ("assistant", "so far")]


class TestTheStoreHoldsWhatTheSessionHolds:
    """A kept stop goes through the repository's commit like any turn: a new process reads it."""

    def test_a_kept_stop_is_stored_whole(self, tmp_path: Path) -> None:
        db = tmp_path / "s.db"
        provider = CtrlCAfter("half ", "an answer")
        provider.enqueue("first")
        session = Agent(provider=provider, session_storage=SQLiteStore(db)).session(session_id="s")
        session.run("one")
        with pytest.raises(TurnInterrupted):
            session.run("two", keep_stopped=True)
        again = Agent(provider="echo", session_storage=SQLiteStore(db)).session(session_id="s")
        assert again.to_dict() == session.to_dict()
        assert history(again)[-1] == ("assistant", "half an answer")
        meta = again.messages[-1].meta
        assert meta is not None and meta.finish_reason == "stopped"

    def test_a_stop_not_kept_leaves_the_store_as_it_was(self, tmp_path: Path) -> None:
        db = tmp_path / "s.db"
        provider = CtrlCAfter("half ")
        provider.enqueue("first")
        store = SQLiteStore(db)
        session = Agent(provider=provider, session_storage=store).session(session_id="s")
        session.run("one")
        stored = store.load("s")
        with pytest.raises(TurnInterrupted):
            session.run("two")
        assert store.load("s") == stored
        assert (
            Agent(provider="echo", session_storage=SQLiteStore(db)).session(session_id="s").to_dict()
            == session.to_dict()
        )
