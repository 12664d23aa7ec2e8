"""The engine's state without a store: header transitions are pure, the repository alone writes,
and settings that cannot work never stick."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from vel_jupyter import Agent, Message
from vel_jupyter.core.serialize import new_header
from vel_jupyter.core.state import SessionState
from vel_jupyter.core.transitions import moved_heads, next_header
from vel_jupyter.core.tree import Node
from vel_jupyter.errors import ConfigurationError

NOW = datetime(2026, 1, 2, tzinfo=timezone.utc)


def chain(state: SessionState, *texts: str) -> list[Node]:
    """Nodes continuing ``state``'s head (not added to its tree)."""
    nodes, parent = [], state.head
    for index, text in enumerate(texts):
        node = Node(f"m{len(state.tree.nodes()) + index}", parent, Message.user(text), "s", NOW, None)
        nodes.append(node)
        parent = node.id
    return nodes


class TestTransitions:
    def test_a_turn_moves_the_current_branch_and_counts_its_messages(self) -> None:
        state = SessionState(new_header("s"))
        added = chain(state, "one", "two")
        header = next_header(state, NOW, added=added, **moved_heads(state.header, None, "m1", False))
        assert (header["head"], header["heads"], header["current"]) == ("m1", ["m1"], 0)
        assert header["rev"] == 1 and header["stats"] == {"messages": 2, "tokens": 0}
        assert state.header["rev"] == 0 and state.head is None  # computing changed nothing

    def test_a_turn_from_elsewhere_adds_a_branch(self) -> None:
        state = SessionState(new_header("s"))
        first = chain(state, "one")
        state.absorb(next_header(state, NOW, added=first, **moved_heads(state.header, None, "m0", False)), first)
        moved = moved_heads(state.header, None, "m9", True)  # a regenerate from the root
        assert moved == {"head": "m9", "heads": ["m0", "m9"], "current": 1}

    def test_a_header_change_keeps_the_stats_of_the_same_head(self) -> None:
        state = SessionState({**new_header("s"), "stats": {"messages": 7, "tokens": 40}})
        assert next_header(state, NOW, system="be brief")["stats"] == {"messages": 7, "tokens": 40}

    def test_a_stale_header_keeps_its_nodes_but_not_its_state(self) -> None:
        state = SessionState({**new_header("s"), "rev": 5})
        nodes = chain(state, "late")
        assert state.absorb({**state.header, "rev": 3, "head": "m0"}, nodes) is False
        assert "m0" in state.tree and state.head is None
        assert state.absorb({**state.header, "rev": 3, "head": "m0"}, stored=True) is True  # the store wins
        assert state.head == "m0"

    def test_a_key_in_a_stored_url_is_dropped(self) -> None:
        header = {**new_header("s"), "settings": {"base_url": "https://user:sk-planted@example.test/v1"}}
        assert "sk-planted" not in SessionState(header).header["settings"]["base_url"]


class TestSettings:
    def test_try_settings_puts_them_back_when_the_block_fails(self) -> None:
        session = Agent(provider="echo").session("s")
        with pytest.raises(RuntimeError), session.try_settings(model="tiny", system="be brief"):
            assert (session.model, session.system) == ("tiny", "be brief")
            raise RuntimeError("the first turn failed")
        assert "model" not in session.settings and session.system is None

    def test_try_settings_keep_them_when_the_block_succeeds(self) -> None:
        session = Agent(provider="echo").session("s")
        with session.try_settings(model="tiny") as replaced:
            session.run("hi")
        assert replaced == {"model": None} and session.model == "tiny"

    def test_a_provider_that_cannot_be_made_never_sticks(self) -> None:
        session = Agent(provider="echo").session("s")
        with pytest.raises(ConfigurationError, match="unknown provider"), session.try_settings(provider="nope"):
            pass
        assert "provider" not in session.settings

    def test_each_setting_says_where_it_comes_from(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("VEL_MODEL", raising=False)
        session = Agent(provider="echo").session("s")
        assert session.setting_sources() == {"model": "default", "provider": "agent"}
        session.configure(model="tiny", params={"temperature": 0}, ttl=60)
        assert session.setting_sources() == {
            "model": "session",
            "provider": "agent",
            "params": "session",
            "ttl": "session",
        }
        agent = Agent(base_url="http://127.0.0.1:9/v1", model="m")
        sources = agent.session("t").setting_sources()
        assert (sources["model"], sources["base_url"]) == ("agent", "agent")


def test_only_the_repository_holds_a_sessions_state() -> None:
    """A Session reads its state; the repository that made it is the one writer (``state_of``)."""
    agent = Agent(provider="echo")
    session = agent.session("s")
    session.run("hi")
    state = agent.repository.state_of(session)
    assert state.head == session.head and state.path(session.head) == session.nodes
    assert not any(callable(getattr(session, name, None)) for name in ("absorb", "rebase", "next_header"))


def test_branches_are_told_apart_by_the_first_message_that_reads_differently() -> None:
    """A regenerated answer repeats its prompt: the branch splits at the answer, in turn 1."""
    from vel_jupyter.core.branches import branch_splits
    from vel_jupyter.testing import ScriptedProvider

    session = Agent(provider=ScriptedProvider("first answer", "second answer")).session("s")
    session.run("the question")
    session.regenerate()
    first, second = branch_splits(session)
    assert (first.number, first.current, second.current) == (1, False, True)
    assert second.split is not None and second.split.message.content == "second answer"
    assert (second.split_turn, second.messages, second.last) == (1, 2, "second answer")
    session.checkout(session.branches[0])
    assert [b.current for b in branch_splits(session)] == [True, False]


def test_a_new_header_has_exactly_the_keys_stores_keep() -> None:
    """``formats.records.HEADER_KEYS`` is what a store splits off a record as its header: a key the
    engine adds to new headers must be added there (or stores would drop it)."""
    from vel_jupyter.formats.records import HEADER_KEYS

    assert sorted(new_header("s")) == sorted(HEADER_KEYS)


class TestBranchThrough:
    """``branch_through``: the branch a chosen answer leads on to (a chat app's answer switcher)."""

    def test_the_current_branch_when_it_goes_through_the_message(self) -> None:
        from vel_jupyter.core.branches import branch_through

        session = Agent(provider="echo").session("s")
        session.run("one")
        session.run("two")
        session.regenerate()  # turn 2 again (its prompt repeated): both branches share turn 1
        answer = session.nodes[1].id
        assert session.current_branch == 1 and branch_through(session, answer) == 1
        session.checkout(0)
        assert branch_through(session, answer) == 0

    def test_else_the_newest_branch_through_it(self) -> None:
        from vel_jupyter.core.branches import branch_through

        session = Agent(provider="echo").session("s")
        session.run("one")
        first = session.head
        session.run("two")  # branch 1: one, two
        session.regenerate()  # branch 2: one, two again
        session.checkout(first)
        session.run("three")  # branch 3: one, three
        assert first is not None and branch_through(session, first) == 2
        session.checkout(0)
        assert branch_through(session, first) == 0, "the current branch first"
        session.checkout(first)  # detached: no branch is current
        assert session.current_branch is None and branch_through(session, first) == 2

    def test_none_when_no_branch_goes_through_it(self) -> None:
        from vel_jupyter.core.branches import branch_through

        session = Agent(provider="echo").session("s")
        assert branch_through(session, "nope") is None
        session.run("one")
        assert branch_through(session, "nope") is None
