"""Sessions: turns, history operations, branches, forks, serialization, atomic failure."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from vel_jupyter import Agent, Message, Session
from vel_jupyter.errors import (
    AgentError,
    ConfigurationError,
    IncompleteResponseError,
    InvalidSessionIdError,
    ProviderUnavailableError,
    SchemaError,
    SessionDataError,
    SessionNotFoundError,
    StreamError,
    TurnInterrupted,
    UnknownProviderError,
)
from vel_jupyter.testing import Reply, ScriptedProvider


def history(session: Session) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in session.messages]


class TestTurns:
    def test_each_turn_sends_the_whole_history(self, scripted: ScriptedProvider, scripted_agent: Agent) -> None:
        scripted.enqueue("Hi Alice.", "Noted.", "You are Alice, an engineer.")
        session = scripted_agent.session(system="Be brief.")
        session.run("My name is Alice")
        session.run("I'm a software engineer")
        response = session.run("What do you know about me?")
        assert response.text == "You are Alice, an engineer."
        sent = scripted.calls[-1].messages
        assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "user"]
        assert sent[0]["content"] == "Be brief."
        assert sent[1]["content"] == "My name is Alice"
        assert len(session.messages) == 6
        scripted.assert_complete()

    def test_echo_provider_shows_it_saw_the_history(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("My name is Alice")
        answer = session.run("What is my name?").text
        assert '"What is my name?"' in answer
        assert "turn 2" in answer
        assert "My name is Alice" in answer

    def test_per_call_params_reach_the_provider(self, scripted: ScriptedProvider, scripted_agent: Agent) -> None:
        scripted.enqueue("ok")
        scripted_agent.session().run("Explain", temperature=0.7, max_tokens=500)
        assert scripted.calls[0].params == {"temperature": 0.7, "max_tokens": 500}

    def test_response_records_usage_model_latency_and_finish(self, scripted: ScriptedProvider) -> None:
        scripted.enqueue(Reply.text("one two three", usage=(11, 3), model="m-1"))
        agent = Agent(provider=scripted, model="m-1")
        response = agent.session().run("count")
        assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 3)
        assert response.usage.total_tokens == 14
        meta = response.message.meta
        assert meta is not None
        assert (meta.model, meta.finish_reason, meta.provider) == ("m-1", "stop", "scripted")
        assert meta.latency_ms is not None and meta.latency_ms >= 0
        assert meta.ttft_ms is not None and meta.ttft_ms <= meta.latency_ms
        assert str(response) == "one two three"

    def test_stream_yields_deltas_then_turn_end_and_updates_history_after(
        self, scripted: ScriptedProvider, scripted_agent: Agent
    ) -> None:
        scripted.enqueue(Reply.text("Once upon a time"))
        session = scripted_agent.session()
        stream = session.stream("Write a story")
        seen = []
        for event in stream:
            seen.append(event.type)
            if event.type == "text_delta":
                assert session.messages == []  # not committed while streaming
        assert seen == ["text_delta"] * 4 + ["turn_end"]
        assert stream.response is not None and stream.response.text == "Once upon a time"
        assert history(session) == [("user", "Write a story"), ("assistant", "Once upon a time")]

    def test_async_run_and_stream(self, echo_agent: Agent) -> None:
        session = echo_agent.session()

        async def main() -> list[str]:
            await session.run_async("first")
            texts = []
            async for event in await session.stream_async("second"):
                if event.type == "text_delta":
                    texts.append(event.text)
            async for event in session.stream_async("third"):  # await is optional
                assert event.type in ("text_delta", "turn_end")
            return texts

        texts = asyncio.run(main())
        assert "".join(texts).startswith('You said: "second"')
        assert [m.content for m in session.messages if m.role == "user"] == ["first", "second", "third"]

    def test_messages_returns_a_copy(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("hello")
        messages = session.messages
        messages.clear()
        assert len(session.messages) == 2

    def test_prepopulated_history_is_sent(self, scripted: ScriptedProvider, scripted_agent: Agent) -> None:
        scripted.enqueue("Berlin.")
        session = scripted_agent.session(
            messages=[Message.user("What's the capital of France?"), Message.assistant("Paris.")]
        )
        session.run("What about Germany?")
        assert [m["content"] for m in scripted.calls[0].messages] == [
            "What's the capital of France?",
            "Paris.",
            "What about Germany?",
        ]

    def test_session_ids_resume_the_same_session(self, echo_agent: Agent) -> None:
        first = echo_agent.session(session_id="user-123-conv-456")
        first.run("hi")
        again = echo_agent.session(session_id="user-123-conv-456")
        assert again is first
        assert again.session_id == "user-123-conv-456"
        assert echo_agent.list_sessions() == ["user-123-conv-456"]


class TestHistoryOperations:
    def test_clear_empties_the_history(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("a")
        session.clear()
        assert len(session.messages) == 0
        session.run("b")
        assert history(session)[0] == ("user", "b")
        assert len(session.branches) == 2  # the cleared branch is still reachable

    def test_add_message_appends(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.add_message(Message.user("Custom user message"))
        session.add_message(Message.assistant("Custom assistant response"))
        assert history(session) == [("user", "Custom user message"), ("assistant", "Custom assistant response")]

    def test_add_message_rejects_non_messages(self, echo_agent: Agent) -> None:
        with pytest.raises(ConfigurationError, match="takes a Message"):
            echo_agent.session().add_message({"role": "user", "content": "x"})  # type: ignore[arg-type]

    def test_messages_expose_role_and_text(self) -> None:
        message = Message.tool("42", tool_call_id="call_1", name="answer")
        assert (message.role, message.text, message.tool_call_id) == ("tool", "42", "call_1")
        with pytest.raises(AttributeError):
            message.content = "changed"  # type: ignore[misc]


class TestForking:
    def test_fork_shares_history_up_to_the_fork_point(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("We're planning a trip to Japan")
        session.run("I want to visit Tokyo and Kyoto")
        alt = session.fork(session_id="alternative-plan")
        alt.run("Actually, let's focus on Osaka instead")
        session.run("What cities are we visiting?")
        alt.run("What cities are we visiting?")
        original_users = [m.content for m in session.messages if m.role == "user"]
        alt_users = [m.content for m in alt.messages if m.role == "user"]
        assert "Actually, let's focus on Osaka instead" not in original_users
        assert alt_users[:2] == original_users[:2]
        assert alt_users[2] == "Actually, let's focus on Osaka instead"
        assert alt.forked_from == {"session_id": session.session_id, "message_id": session.nodes[3].id}

    def test_fork_copies_nothing(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        for i in range(50):
            session.add_message(Message.user(f"m{i}"))
        alt = session.fork()
        assert alt.tree_id == session.tree_id
        assert alt.node(session.head) is session.node(session.head)  # shared, not copied
        assert alt.head == session.head
        assert alt.nodes[10] is session.nodes[10]

    def test_fork_id_must_be_new(self, echo_agent: Agent) -> None:
        session = echo_agent.session(session_id="a")
        echo_agent.session(session_id="b")
        with pytest.raises(ConfigurationError, match="already exists"):
            session.fork(session_id="b")


class TestBranches:
    def test_regenerate_adds_a_sibling_branch_and_keeps_the_old_answer(
        self, scripted: ScriptedProvider, scripted_agent: Agent
    ) -> None:
        scripted.enqueue("first answer", "second answer", "third answer")
        session = scripted_agent.session()
        session.run("question")
        old = session.nodes
        session.regenerate()
        session.regenerate(turn=0, prompt="better question")
        branches = session.branches
        assert len(branches) == 3
        assert [b.current for b in branches] == [False, False, True]
        assert history(session) == [("user", "better question"), ("assistant", "third answer")]
        session.checkout(0)
        assert session.nodes == old
        assert session.children(None)[0].message.content == "question"

    def test_checkout_a_message_then_run_starts_a_new_branch(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("one")
        session.run("two")
        first_answer = session.nodes[1].id
        session.checkout(first_answer)
        assert len(session.messages) == 2
        session.run("two, differently")
        assert len(session.branches) == 2
        assert [m.content for m in session.messages if m.role == "user"] == ["one", "two, differently"]

    def test_checkout_rejects_unknown_targets(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        with pytest.raises(ConfigurationError, match="branch"):
            session.checkout(5)
        with pytest.raises(ConfigurationError, match="neither a branch"):
            session.checkout("nope")

    def test_regenerate_needs_a_turn(self, echo_agent: Agent) -> None:
        with pytest.raises(ConfigurationError, match="no turn to regenerate"):
            echo_agent.session().regenerate()

    def test_concurrent_turns_on_one_session_lose_nothing(self, echo_agent: Agent) -> None:
        session = echo_agent.session()

        def worker(n: int) -> None:
            for i in range(20):
                session.run(f"w{n}-{i}")

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        users = [m.content for m in session.messages if m.role == "user"]
        assert sorted(users) == sorted(f"w{n}-{i}" for n in range(4) for i in range(20))
        assert len(session.branches) == 1


class TestSerialization:
    def test_round_trip_keeps_messages_branches_and_usage(
        self, scripted: ScriptedProvider, scripted_agent: Agent
    ) -> None:
        scripted.enqueue(Reply.text("a1", usage=(5, 1)), Reply.text("a2", usage=(7, 2)), Reply.text("a3", usage=(9, 3)))
        session = scripted_agent.session(session_id="s1", system="sys")
        session.run("q1")
        session.run("q2", cell_id="cell-7")
        session.regenerate()
        data = json.loads(json.dumps(session.to_dict()))
        assert data["version"] == 2
        assert data["tree"] == session.tree_id
        restored = Session.from_dict(data, Agent(provider="echo"))
        assert restored.messages == session.messages
        assert [m.meta for m in restored.messages] == [m.meta for m in session.messages]
        assert restored.nodes == session.nodes
        assert [(b.head, b.current) for b in restored.branches] == [(b.head, b.current) for b in session.branches]
        assert restored.usage == session.usage
        assert restored.system == "sys"
        assert restored.to_dict() == session.to_dict()

    def test_restored_session_continues(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("Where were we?")
        agent2 = Agent(provider="echo")
        restored = Session.from_dict(session.to_dict(), agent2)
        assert agent2.get_session(session.session_id) is restored
        assert "turn 2" in restored.run("Continue").text

    def test_fork_serializes_with_its_origin_messages(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("one")
        fork = session.fork("f")
        fork.run("two")
        restored = Session.from_dict(fork.to_dict(), Agent(provider="echo"))
        assert restored.messages == fork.messages

    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            ([], "expected a dict"),
            ({"session_id": "x"}, "no valid 'version'"),
            ({"session_id": "x", "version": 99}, "newer vel_jupyter"),
            (
                {"session_id": "x", "version": 1, "messages": [{"id": "a", "parent_id": "zz", "role": "user"}]},
                "missing",
            ),
            ({"session_id": "x", "version": 1, "messages": [{"id": "a", "role": "wizard"}]}, "role: Input should be"),
            ({"session_id": "x", "version": 1, "messages": [], "head": "nope"}, "head"),
            ({"session_id": "x", "version": 1, "messages": "oops"}, "messages: Input should be a valid list"),
            ({"session_id": "bad\nid", "version": 1}, "session_id: is not a valid session id"),
        ],
    )
    def test_corrupt_data_names_the_session(self, data: object, problem: str) -> None:
        with pytest.raises(SessionDataError, match=problem):
            Session.from_dict(data, Agent(provider="echo"))


class TestCutOffAnswersAreAnswers:
    """``length``/``content_filter`` answers are kept and marked; strict mode is opt-in."""

    @pytest.mark.parametrize("reason", ["length", "content_filter"])
    def test_a_cut_off_answer_is_committed_and_marked(self, scripted: ScriptedProvider, reason: str) -> None:
        session = Agent(provider=scripted).session()
        scripted.enqueue(Reply.text("cut off mid", finish_reason=reason))
        response = session.run("go", max_tokens=3)
        assert (response.text, response.finish_reason, response.incomplete) == ("cut off mid", reason, True)
        assert [m.content for m in session.messages] == ["go", "cut off mid"]
        meta = session.messages[-1].meta
        assert meta is not None
        assert meta.finish_reason == reason
        assert meta.incomplete
        restored = Session.from_dict(session.to_dict(), Agent(provider="echo"))
        assert restored.messages[-1].meta == meta

    def test_a_whole_answer_is_not_incomplete(self, scripted: ScriptedProvider) -> None:
        scripted.enqueue("all of it")
        response = Agent(provider=scripted).session().run("go")
        assert (response.finish_reason, response.incomplete, response.refusal) == ("stop", False, None)

    @pytest.mark.parametrize("reason", ["length", "content_filter"])
    def test_strict_mode_per_call_raises_and_changes_nothing(self, scripted: ScriptedProvider, reason: str) -> None:
        session = Agent(provider=scripted).session()
        scripted.enqueue("first")
        session.run("one")
        before = session.to_dict()
        scripted.enqueue(Reply.text("cut", finish_reason=reason))
        with pytest.raises(IncompleteResponseError, match="allow_incomplete=True") as info:
            session.run("two", allow_incomplete=False)
        assert (info.value.finish_reason, info.value.partial_text) == (reason, "cut")
        assert session.to_dict() == before

    def test_strict_mode_as_an_agent_default_and_overridden_per_call(self, scripted: ScriptedProvider) -> None:
        session = Agent(provider=scripted, allow_incomplete=False).session()
        scripted.enqueue(Reply.text("cut", finish_reason="length"))
        with pytest.raises(IncompleteResponseError, match="max_tokens"):
            session.run("one")
        assert session.messages == []
        scripted.enqueue(Reply.text("cut", finish_reason="length"))
        assert session.run("one", allow_incomplete=True).incomplete
        assert len(session.messages) == 2

    def test_async_and_streamed_turns_keep_cut_off_answers_too(self, scripted: ScriptedProvider) -> None:
        session = Agent(provider=scripted).session()
        scripted.enqueue(Reply.text("a b c", finish_reason="length"))
        events = list(session.stream("one"))
        assert events[-1].response is not None
        assert events[-1].response.incomplete
        scripted.enqueue(Reply.text("d e", finish_reason="length"))
        assert asyncio.run(session.run_async("two")).finish_reason == "length"
        assert [m.content for m in session.messages] == ["one", "a b c", "two", "d e"]

    def test_a_refusal_in_a_plain_turn_is_the_answer(self, scripted: ScriptedProvider) -> None:
        session = Agent(provider=scripted).session()
        scripted.enqueue(Reply.text("", refusal="I can't help with that."))
        response = session.run("do something bad")
        assert (response.text, response.refusal) == ("I can't help with that.", "I can't help with that.")
        assert session.messages[-1].content == "I can't help with that."
        meta = session.messages[-1].meta
        assert meta is not None
        assert meta.refusal == "I can't help with that."
        restored = Session.from_dict(session.to_dict(), Agent(provider="echo"))
        assert restored.messages[-1].meta == meta


class TestFailedTurnsChangeNothing:
    @pytest.mark.parametrize(
        ("reply", "error"),
        [
            (Reply.http_error(500), ProviderUnavailableError),
            (Reply.error_event("boom", after_text="partial words"), StreamError),
            (Reply.drop(after_text="partial words"), StreamError),
            (Reply.text("no finish", finish_reason=None), StreamError),
            (Reply.tool_calls([("lookup", '{"q": "cut')], finish_reason="length"), IncompleteResponseError),
        ],
    )
    def test_a_failed_turn_leaves_history_unchanged(
        self, scripted: ScriptedProvider, reply: Reply, error: type[Exception]
    ) -> None:
        agent = Agent(provider=scripted)
        session = agent.session()
        scripted.enqueue("first")
        session.run("one")
        before = session.to_dict()
        scripted.enqueue(reply)
        with pytest.raises(error) as info:
            session.run("two")
        assert isinstance(info.value, AgentError)
        assert session.to_dict() == before
        scripted.enqueue("recovered")
        assert session.run("two again").text == "recovered"

    def test_partial_text_is_on_the_error(self, scripted: ScriptedProvider, scripted_agent: Agent) -> None:
        scripted.enqueue(Reply.drop(after_text="half an answer"))
        with pytest.raises(StreamError) as info:
            scripted_agent.session().run("go")
        assert info.value.partial_text == "half an answer"

    def test_keyboard_interrupt_in_the_consumer_keeps_history_and_partial_text(
        self, scripted_agent: Agent, scripted: ScriptedProvider
    ) -> None:
        scripted.enqueue(Reply.text("a b c d e f"))
        session = scripted_agent.session()
        stream = session.stream("go")
        with pytest.raises(KeyboardInterrupt):
            for event in stream:
                if event.text == " c":
                    raise KeyboardInterrupt
        stream.close()
        assert stream.text == "a b c"
        assert stream.response is None
        assert session.messages == []

    def test_keyboard_interrupt_inside_the_provider_becomes_turn_interrupted(self) -> None:
        class InterruptsTheSecondCall(ScriptedProvider):
            streamed = 0

            def stream(self, request):  # type: ignore[no-untyped-def]
                from vel_jupyter.core.response import StreamEvent

                self.streamed += 1
                if self.streamed == 1:
                    yield from super().stream(request)
                    return
                yield StreamEvent("text_delta", text="partial ")
                raise KeyboardInterrupt

        provider = InterruptsTheSecondCall()
        provider.enqueue("before")
        session = Agent(provider=provider).session()
        session.run("one")
        before = session.to_dict()
        with pytest.raises(TurnInterrupted) as info:
            session.run("two")
        assert isinstance(info.value, KeyboardInterrupt)
        assert info.value.partial_text == "partial "
        assert session.to_dict() == before

    def test_abandoning_a_stream_commits_nothing(self, scripted: ScriptedProvider, scripted_agent: Agent) -> None:
        scripted.enqueue(Reply.text("a b c d"))
        session = scripted_agent.session()
        stream = session.stream("go")
        for event in stream:
            if event.type == "text_delta":
                break
        stream.close()
        assert session.messages == []

    def test_cancelled_async_turn_commits_nothing(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        # A 600 s stall: if cancelling did not stop it, pytest's timeout would fail the test.
        slow = Agent(provider=ScriptedProvider(Reply.stall(600, after_text="so far")))
        slow_session = slow.session()

        async def main() -> None:
            task = asyncio.create_task(slow_session.run_async("go"))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        assert slow_session.messages == []
        assert session.messages == []


class TestBadInput:
    def test_empty_prompt(self, echo_agent: Agent) -> None:
        with pytest.raises(ConfigurationError, match="empty"):
            echo_agent.session().run("   ")

    def test_prompt_of_the_wrong_type(self, echo_agent: Agent) -> None:
        with pytest.raises(ConfigurationError, match="str or a Message"):
            echo_agent.session().run(42)  # type: ignore[arg-type]

    def test_unknown_provider(self) -> None:
        with pytest.raises(UnknownProviderError, match="available: echo, openai"):
            Agent(provider="nope").session().run("hi")

    def test_schema_must_be_a_pydantic_model(self, echo_agent: Agent) -> None:
        with pytest.raises(SchemaError, match="BaseModel"):
            echo_agent.session().json("hi", schema=dict)

    @pytest.mark.parametrize("bad", ["", " lead", "new\nline", "x" * 201, 7, "semi;colon", "quote'"])
    def test_invalid_session_ids(self, echo_agent: Agent, bad: object) -> None:
        with pytest.raises(InvalidSessionIdError):
            echo_agent.session(session_id=bad)  # type: ignore[arg-type]

    def test_unknown_session(self, echo_agent: Agent) -> None:
        echo_agent.session(session_id="known")
        with pytest.raises(SessionNotFoundError, match="known sessions: known"):
            echo_agent.get_session("unknown")

    def test_bad_agent_arguments(self) -> None:
        with pytest.raises(ConfigurationError, match="max_steps"):
            Agent(provider="echo", max_steps=0)
        with pytest.raises(ConfigurationError, match="model must be"):
            Agent(provider="echo", model=3)  # type: ignore[arg-type]

    def test_parent_must_exist(self, echo_agent: Agent) -> None:
        with pytest.raises(ConfigurationError, match="not a message"):
            echo_agent.session().run("hi", parent="nope")


class TestStatsFollowTheCurrentPath:
    """``session.stats`` (what listings show, kept in the header) always matches the current path."""

    def test_after_every_kind_of_move(self, scripted: ScriptedProvider) -> None:
        scripted.default = "an answer of five words"
        agent = Agent(provider=scripted)
        session = agent.session(session_id="s")

        def check(s: Session) -> None:
            assert s.stats == {"messages": len(s.messages), "tokens": s.usage.total_tokens}

        for step in (
            lambda: session.run("one"),
            lambda: session.run("two"),
            lambda: session.regenerate(),
            lambda: session.checkout(0),
            lambda: session.checkout(session.nodes[1].id),
            lambda: session.add_message(Message.user("added")),
            lambda: session.clear(),
            lambda: session.checkout(1),
        ):
            step()
            check(session)
        check(session.fork("f"))
        check(session.fork("g", at=session.nodes[0].id))
        check(Session.from_dict(session.to_dict(), Agent(provider="echo")))
        legacy = {k: v for k, v in session.to_dict().items() if k not in ("stats", "tree")}
        check(Session.from_dict({**legacy, "version": 1}, Agent(provider="echo")))


class TestSettingsThatMayNotStick:
    """``change_settings`` applies what differs and says what it replaced; ``restore_settings``
    puts it back (the notebook undoes a failed first turn's flags with them)."""

    def test_only_what_differs_is_replaced_and_restored(self) -> None:
        session = Agent(provider="echo").session(session_id="s", system="old")
        session.configure(model="m1")
        replaced = session.change_settings(system="new", model="m2", provider=None)
        assert replaced == {"system": "old", "model": "m1"}
        assert (session.system, session.model) == ("new", "m2")
        assert session.change_settings(model="m2") == {}, "nothing differs: nothing replaced"
        session.restore_settings(replaced)
        assert (session.system, session.settings.get("model")) == ("old", "m1")

    def test_a_setting_that_cannot_work_never_sticks(self) -> None:
        session = Agent(provider="echo").session(session_id="s")
        with pytest.raises(ConfigurationError, match="unknown provider 'nosuch'"):
            session.change_settings(provider="nosuch", model="m")
        assert session.settings == {}
