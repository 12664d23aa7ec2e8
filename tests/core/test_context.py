"""Context managers: what is sent, never what is kept."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vel_jupyter import Agent, ContextManager, Message, StatelessContextManager, tool
from vel_jupyter.errors import ConfigurationError
from vel_jupyter.testing import Reply, ScriptedProvider


def sent_contents(provider: ScriptedProvider, call: int = -1) -> list[str]:
    return [m["content"] for m in provider.calls[call].messages]


class TestWindows:
    def test_full_history_by_default(self) -> None:
        provider = ScriptedProvider(default="ok")
        session = Agent(provider=provider).session()
        for i in range(6):
            session.run(f"q{i}")
        assert len(provider.calls[-1].messages) == 11

    def test_max_history_limits_what_is_sent_not_what_is_kept(self) -> None:
        provider = ScriptedProvider(default="ok")
        agent = Agent(provider=provider, context_manager=ContextManager(max_history=4), system="sys")
        session = agent.session()
        for i in range(6):
            session.run(f"q{i}")
        assert sent_contents(provider) == ["sys", "q3", "ok", "q4", "ok", "q5"]
        assert len(session.messages) == 12

    def test_window_never_starts_with_an_orphaned_tool_result(self) -> None:
        @tool
        def ping() -> str:
            """Ping."""
            return "pong"

        provider = ScriptedProvider(Reply.tool_calls([("ping", {}), ("ping", {})]), "done", default="ok")
        agent = Agent(provider=provider, tools=[ping], context_manager=ContextManager(max_history=3))
        session = agent.session()
        session.run("go")  # user, assistant(calls), tool, tool, assistant
        session.run("next")
        roles = [m["role"] for m in provider.calls[-1].messages]
        assert roles[0] != "tool"
        assert roles == ["assistant", "user"]

    def test_invalid_settings(self) -> None:
        with pytest.raises(ConfigurationError, match="max_history"):
            ContextManager(max_history=0)
        with pytest.raises(ConfigurationError, match="summarize=True needs max_history"):
            ContextManager(summarize=True)


class TestStateless:
    def test_only_the_current_message_is_sent_and_nothing_kept(self) -> None:
        provider = ScriptedProvider(default="ok")
        agent = Agent(provider=provider, context_manager=StatelessContextManager(), system="sys")

        async def main() -> None:
            await agent.run({"message": "first"}, session_id="s")
            await agent.run({"message": "second"}, session_id="s")

        asyncio.run(main())
        assert sent_contents(provider) == ["sys", "second"]
        assert agent.get_session("s").messages == []


class TestGuideBOperations:
    def test_get_clear_and_set_session_context(self) -> None:
        agent = Agent(provider="echo")
        asyncio.run(agent.run({"message": "Hello"}, session_id="user-123"))
        context = agent.ctxmgr.get_session_context("user-123")
        assert [m["role"] for m in context] == ["user", "assistant"]
        agent.ctxmgr.clear_session("user-123")
        assert agent.ctxmgr.get_session_context("user-123") == []
        agent.ctxmgr.set_session_context(
            "user-123", [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there!"}]
        )
        assert agent.ctxmgr.get_session_context("user-123") == [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi there!"},
        ]
        assert agent.ctxmgr.get_session_context("never-seen") == []

    def test_a_subclass_overriding_messages_for_llm_is_honoured(self) -> None:
        class RAG(ContextManager):
            def messages_for_llm(self, run_id: str, session_id: str | None = None) -> list[dict[str, Any]]:
                messages = super().messages_for_llm(run_id, session_id)
                if session_id:
                    messages.insert(0, {"role": "system", "content": f"docs for {session_id}"})
                return messages

        provider = ScriptedProvider(default="ok")
        agent = Agent(provider=provider, context_manager=RAG())
        asyncio.run(agent.run({"message": "q"}, session_id="s1"))
        assert provider.calls[0].messages[0] == {"role": "system", "content": "docs for s1"}
        assert provider.calls[0].messages[1] == {"role": "user", "content": "q"}

    def test_mutating_returned_dicts_does_not_corrupt_history(self) -> None:
        class Mangler(ContextManager):
            def messages_for_llm(self, run_id: str, session_id: str | None = None) -> list[dict[str, Any]]:
                messages = super().messages_for_llm(run_id, session_id)
                for m in messages:
                    m["content"] = "mangled"
                return messages

        agent = Agent(provider=ScriptedProvider(default="ok"), context_manager=Mangler())
        session = agent.session()
        session.run("one")
        session.run("two")
        assert [m.content for m in session.messages] == ["one", "ok", "two", "ok"]


class TestSummaries:
    def test_dropped_messages_are_replaced_by_a_recorded_summary(self) -> None:
        provider = ScriptedProvider()
        agent = Agent(provider=provider, context_manager=ContextManager(max_history=4, summarize=True))
        session = agent.session()
        for i in range(3):
            provider.enqueue(f"a{i}")
            session.run(f"q{i}")
        assert len(provider.calls) == 3  # the history fits the window: no summary call
        provider.enqueue("SUMMARY-1", "a3")
        session.run("q3")
        summary_call, turn_call = provider.calls[3], provider.calls[4]
        assert "user: q0\nassistant: a0" in summary_call.messages[1]["content"]
        assert turn_call.messages[0] == {"role": "system", "content": "Summary of the earlier conversation:\nSUMMARY-1"}
        assert [m["content"] for m in turn_call.messages[1:]] == ["q1", "a1", "q2", "a2", "q3"]

        provider.enqueue("a4")  # within the slack: the recorded summary is reused, no new call
        session.run("q4")
        assert len(provider.calls) == 6
        assert provider.calls[5].messages[0]["content"].endswith("SUMMARY-1")
        assert [m["content"] for m in provider.calls[5].messages[1:]] == ["q1", "a1", "q2", "a2", "q3", "a3", "q4"]

        provider.enqueue("SUMMARY-2", "a5")
        session.run("q5")  # beyond the slack: the summary is extended, not redone
        update = provider.calls[6].messages[1]["content"]
        assert update.startswith("Summary so far:\nSUMMARY-1")
        assert "user: q1" in update and "assistant: a2" in update and "q0" not in update
        assert provider.calls[7].messages[0]["content"].endswith("SUMMARY-2")
        assert [m["content"] for m in provider.calls[7].messages[1:]] == ["q3", "a3", "q4", "a4", "q5"]
        assert len(session.messages) == 12  # nothing was dropped from the history
        assert len(session.summaries) == 2
        provider.assert_complete()

    def test_summaries_survive_serialization(self) -> None:
        agent = Agent(provider="echo", context_manager=ContextManager(max_history=2, summarize=True))
        session = agent.session()
        for i in range(4):
            session.run(f"q{i}")
        data = session.to_dict()
        assert data["summaries"]
        restored_agent = Agent(
            provider=ScriptedProvider(default="ok"), context_manager=ContextManager(max_history=2, summarize=True)
        )
        restored = type(session).from_dict(data, restored_agent)
        assert restored.summaries == session.summaries

    def test_a_failed_turn_does_not_record_its_summary(self) -> None:
        provider = ScriptedProvider(default=None)
        agent = Agent(provider=provider, context_manager=ContextManager(max_history=2, summarize=True))
        session = agent.session()
        session.add_message(Message.user("u0"))
        session.add_message(Message.assistant("a0"))
        session.add_message(Message.user("u1"))
        session.add_message(Message.assistant("a1"))
        provider.enqueue("S", Reply.http_error(500))
        with pytest.raises(Exception, match="HTTP 500"):
            session.run("u2")
        assert session.summaries == {}
