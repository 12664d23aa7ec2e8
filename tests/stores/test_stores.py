"""One contract suite, every store: memory, SQLite file, PostgreSQL, Redis, the guide's own store, and a
four-method store over a plain dict (no server needed)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from vel_jupyter import Agent, Message, Session
from vel_jupyter.core.transitions import next_header
from vel_jupyter.errors import InvalidSessionIdError, StoreError
from vel_jupyter.stores import MemoryStore, SessionStore, SQLiteStore, TurnStore
from vel_jupyter.testing import ScriptedProvider

from ..support.dict_store import DictStore


class GuideRedisStore(SessionStore):
    """Guide A's "Custom Store", exactly as printed (only the import line differs)."""

    def __init__(self, redis_client):  # type: ignore[no-untyped-def]
        self.redis = redis_client

    def save(self, session_id: str, data: dict) -> None:  # type: ignore[type-arg]
        self.redis.set(f"session:{session_id}", json.dumps(data))

    def load(self, session_id: str) -> dict | None:  # type: ignore[type-arg]
        data = self.redis.get(f"session:{session_id}")
        return json.loads(data) if data else None

    def delete(self, session_id: str) -> bool:
        return self.redis.delete(f"session:{session_id}") > 0

    def list_sessions(self) -> list[str]:
        keys = self.redis.keys("session:*")
        return [k.replace("session:", "") for k in keys]


class Clock:
    """An injectable clock: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


STORES = ["memory", "sqlite", "postgres", "redis", "guide", "dict"]


@pytest.fixture(params=STORES)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """A factory of stores of one kind, all over the same data (like several processes)."""
    kind = request.param
    opened: list[Any] = []
    shared_memory: dict[str, Any] = {}

    def make(**options: Any) -> Any:
        if kind == "memory":
            store = shared_memory.setdefault("store", MemoryStore(**options))
        elif kind == "dict":
            if options:
                pytest.skip("a four-method store has no options")
            store = shared_memory.setdefault("store", DictStore())
        elif kind == "sqlite":
            store = SQLiteStore(tmp_path / "sessions.db", **options)
        elif kind == "postgres":
            from vel_jupyter.stores import PostgresStore

            store = PostgresStore(request.getfixturevalue("clean_postgres") if not opened else dsn[0], **options)
        elif kind == "redis":
            from vel_jupyter.stores import RedisStore

            store = RedisStore(request.getfixturevalue("clean_redis") if not opened else url[0], **options)
        else:
            import redis

            if options:
                pytest.skip("the guide's store has no options")
            store = GuideRedisStore(
                redis.Redis.from_url(
                    request.getfixturevalue("clean_redis") if not opened else url[0], decode_responses=True
                )
            )
        opened.append(store)
        return store

    dsn: list[str] = []
    url: list[str] = []
    if kind == "postgres":
        dsn.append(request.getfixturevalue("clean_postgres"))
    if kind in ("redis", "guide"):
        url.append(request.getfixturevalue("clean_redis"))
    yield make
    for store in opened:
        close = getattr(store, "close", None)
        if close is not None:
            close()


@pytest.fixture
def store(make_store: Callable[..., Any]) -> Any:
    return make_store()


def agent_on(store: Any, provider: Any = None) -> Agent:
    return Agent(provider=provider or "echo", session_storage=store)


def snapshot(session: Session) -> dict[str, Any]:
    return json.loads(json.dumps(session.to_dict()))


class TestTheFourMethods:
    def test_save_load_delete_list(self, store: Any) -> None:
        session = Agent(provider="echo").session(session_id="s1", system="sys")
        session.run("hello")
        assert store.load("s1") is None
        store.save(session.session_id, session.to_dict())
        data = store.load("s1")
        assert data is not None
        restored = Session.from_dict(data, Agent(provider="echo"))
        assert restored.messages == session.messages
        assert restored.system == "sys"
        store.save("s2", session.fork("s2").to_dict())
        assert sorted(store.list_sessions()) == ["s1", "s2"]
        assert store.delete("s1") is True
        assert store.delete("s1") is False
        assert store.load("s1") is None
        assert sorted(store.list_sessions()) == ["s2"]

    def test_save_replaces(self, store: Any) -> None:
        session = Agent(provider="echo").session(session_id="s1")
        session.run("one")
        store.save("s1", session.to_dict())
        session.run("two")
        store.save("s1", session.to_dict())
        assert len(Session.from_dict(store.load("s1"), Agent(provider="echo")).messages) == 4


class TestAgentsOnAStore:
    def test_turns_persist_without_calling_save(self, store: Any) -> None:
        agent = agent_on(store)
        session = agent.session(session_id="demo", system="sys")
        session.run("My name is Alice")
        session.run("What is my name?")
        resumed = agent_on(store).session(session_id="demo")
        assert resumed is not session
        assert snapshot(resumed) == snapshot(session)
        assert "turn 3" in resumed.run("and now?").text

    def test_every_branch_fork_clear_and_checkout_survive_a_reload(self, store: Any) -> None:
        agent = agent_on(store)
        session = agent.session(session_id="tree")
        session.run("one")
        session.run("two")
        session.regenerate()
        session.regenerate(prompt="two, again")
        session.checkout(1)
        fork = session.fork("tree-fork")
        fork.run("forked")
        session.system = "new system"
        fresh = agent_on(store)
        assert snapshot(fresh.session(session_id="tree")) == snapshot(session)
        assert snapshot(fresh.session(session_id="tree-fork")) == snapshot(fork)
        session.clear()
        assert agent_on(store).session(session_id="tree").messages == []
        assert len(agent_on(store).session(session_id="tree").branches) == 3  # all still reachable

    def test_usage_and_metadata_survive(self, store: Any) -> None:
        agent = agent_on(store)
        session = agent.session(session_id="usage")
        session.run("count my tokens", cell_id="cell-1")
        resumed = agent_on(store).session(session_id="usage")
        assert resumed.usage == session.usage
        assert [m.meta for m in resumed.messages] == [m.meta for m in session.messages]
        assert resumed.nodes[0].cell_id == "cell-1"
        assert resumed.nodes == session.nodes

    def test_a_failed_turn_writes_nothing(self, store: Any) -> None:
        provider = ScriptedProvider("ok")
        agent = agent_on(store, provider)
        session = agent.session(session_id="atomic")
        session.run("one")
        before = store.load("atomic")
        provider.enqueue(RuntimeError("provider exploded"))
        with pytest.raises(RuntimeError):
            session.run("two")
        assert store.load("atomic") == before

    def test_list_and_delete_through_the_agent(self, store: Any) -> None:
        agent = agent_on(store)
        for name in ("b", "a", "c"):
            agent.session(session_id=name)
        assert agent_on(store).list_sessions() == ["a", "b", "c"]
        assert agent.delete_session("b") is True
        assert agent_on(store).list_sessions() == ["a", "c"]
        assert agent_on(store).get_session("b", default=None) is None

    def test_deleting_an_origin_keeps_its_forks_whole(self, store: Any) -> None:
        agent = agent_on(store)
        origin = agent.session(session_id="origin")
        origin.run("shared history")
        fork = origin.fork("fork-1")
        fork.run("fork turn")
        fork2 = origin.fork("fork-2")
        fork2.run("another")
        agent.delete_session("origin")
        fresh = agent_on(store)
        assert snapshot(fresh.session(session_id="fork-1"))["messages"] == snapshot(fork)["messages"]
        assert snapshot(fresh.session(session_id="fork-2"))["messages"] == snapshot(fork2)["messages"]

    def test_manual_save_load_of_guide_a_still_works(self, store: Any) -> None:
        agent = Agent(provider="echo")
        session = agent.session()
        session.run("hi")
        store.save(session.session_id, session.to_dict())
        original = session
        # Later...
        data = store.load(session.session_id)
        assert data is not None  # else the guide's `if data:` would let a lost session pass
        if data:
            session = Session.from_dict(data, agent)
        assert session is not original
        assert session.messages == original.messages
        assert session.messages[0].text == "hi"

    def test_invalid_ids_never_reach_the_store(self, store: Any) -> None:
        if isinstance(store, (GuideRedisStore, DictStore)):
            pytest.skip("a user's four-method store does its own thing with ids")
        for bad in ("", "bad\nid", "x" * 300, "semi;colon"):
            with pytest.raises(InvalidSessionIdError):
                store.load(bad)


class TestListing:
    def test_summaries_come_from_headers_and_load_no_session(self, store: Any) -> None:
        agent = agent_on(store, ScriptedProvider(default="an answer"))
        session = agent.session(session_id="listed", system="sys")
        session.run("one")
        session.run("two")
        session.regenerate()
        agent.session(session_id="empty")
        fresh = agent_on(store)
        lines = fresh.session_summaries()
        assert [(line.session_id, line.messages, line.branches) for line in lines] == [
            ("empty", 0, 1),
            ("listed", 4, 2),
        ]
        assert lines[1].tokens == session.usage.total_tokens
        assert lines[1].updated_at == session.updated_at
        if isinstance(store, TurnStore):
            assert fresh.loaded_sessions() == []  # headers only: no session (and no message) was read


class TestTextEveryStoreKeeps:
    """NUL and lone surrogates become U+FFFD in every message (``formats.text``): PostgreSQL's jsonb
    refuses both and UTF-8 cannot hold a lone surrogate, so a conversation works on every store."""

    def test_a_prompt_with_nul_and_a_lone_surrogate_works_and_reads_back_identically(self, store: Any) -> None:
        agent = agent_on(store)
        session = agent.session(session_id="text", system="be\x00brief\udfff")
        session.run("a\x00b\ud800c")
        fork = session.fork("text-fork")
        fork.run("\udc80tail\x00")
        assert session.system == "be\ufffdbrief\ufffd"
        assert session.messages[0].text == "a\ufffdb\ufffdc"
        assert fork.messages[-2].text == "\ufffdtail\ufffd"
        fresh = agent_on(store)
        assert snapshot(fresh.session(session_id="text")) == snapshot(session)
        assert snapshot(fresh.session(session_id="text-fork")) == snapshot(fork)
        data = store.load("text")
        assert data is not None and "\x00" not in json.dumps(data, ensure_ascii=False)
        assert Session.from_dict(data, Agent(provider="echo")).messages == session.messages


class TestIncrementalStores:
    """What built-in stores add: compare-and-swap appends and O(1) forks."""

    @pytest.fixture
    def turn_store(self, store: Any) -> Any:
        if not isinstance(store, TurnStore):
            pytest.skip("a four-method store saves whole sessions")
        return store

    def test_two_agents_appending_to_one_session_lose_nothing(
        self, turn_store: Any, make_store: Callable[..., Any]
    ) -> None:
        first = agent_on(turn_store).session(session_id="shared")
        second = agent_on(make_store()).session(session_id="shared")
        for i in range(10):
            first.run(f"first-{i}")
            second.run(f"second-{i}")  # second's view is stale: CAS fails, it catches up, appends
        final = agent_on(make_store()).session(session_id="shared")
        users = [m.text for m in final.messages if m.role == "user"]
        assert sorted(users) == sorted([f"first-{i}" for i in range(10)] + [f"second-{i}" for i in range(10)])
        assert len(final.branches) == 1
        assert len(final.messages) == 40

    def test_a_stale_append_raises_head_conflict(self, turn_store: Any) -> None:
        from vel_jupyter.stores import HeadConflict

        agent = agent_on(turn_store)
        session = agent.session(session_id="cas")
        with pytest.raises(HeadConflict):
            turn_store.append(
                "cas",
                [],
                next_header(session.agent.repository.state_of(session), datetime.now(timezone.utc)),
                session.rev - 1,
            )
        with pytest.raises(HeadConflict):
            turn_store.append(
                "brand-new", [], next_header(session.agent.repository.state_of(session), datetime.now(timezone.utc)), 5
            )

    def test_fork_reads_the_origin_rows(self, turn_store: Any) -> None:
        agent = agent_on(turn_store)
        session = agent.session(session_id="long")
        for i in range(30):
            session.add_message(Message.user(f"m{i}"))
        session.fork("long-fork")
        data = turn_store.load("long-fork")
        assert [m["session_id"] for m in data["messages"]] == ["long"] * 30


class TestExpiry:
    def test_expired_sessions_neither_load_nor_list_and_purge_deletes_them(
        self, make_store: Callable[..., Any]
    ) -> None:
        clock = Clock()
        store = make_store(ttl=60, clock=clock)
        agent = agent_on(store)
        agent.session(session_id="old").run("hello")
        clock.advance(seconds=30)
        agent.session(session_id="young").run("hello")
        clock.advance(seconds=31)
        assert store.list_sessions() == ["young"]
        assert store.load("old") is None
        assert agent_on(store).get_session("old", default=None) is None
        assert store.purge_expired() == 1
        clock.advance(seconds=60)
        assert store.list_sessions() == []
        assert store.purge_expired() == 1

    def test_writes_refresh_the_expiry_and_sessions_can_override_the_ttl(self, make_store: Callable[..., Any]) -> None:
        clock = Clock()
        store = make_store(ttl=60, clock=clock)
        agent = agent_on(store)
        busy = agent.session(session_id="busy")
        keeper = agent.session(session_id="keeper")
        assert keeper.ttl == 60
        keeper.ttl = None  # this one never expires
        for _ in range(3):
            clock.advance(seconds=50)
            busy.run("still here")
        clock.advance(seconds=500)
        assert store.list_sessions() == ["keeper"]

    def test_an_expired_id_can_be_reused(self, make_store: Callable[..., Any]) -> None:
        clock = Clock()
        store = make_store(ttl=10, clock=clock)
        agent_on(store).session(session_id="reuse").run("first life")
        clock.advance(seconds=11)
        again = agent_on(store).session(session_id="reuse")
        assert again.messages == []
        again.run("second life")
        assert agent_on(store).session(session_id="reuse").messages[0].text == "second life"


class TestSQLite:
    def test_wal_mode_and_migrations_are_recorded(self, tmp_path: Path) -> None:
        import sqlite3

        SQLiteStore(tmp_path / "s.db")
        conn = sqlite3.connect(tmp_path / "s.db")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = [r[0] for r in conn.execute("SELECT name FROM vel_migrations ORDER BY name")]
        assert names == [
            "0001_create_sessions",
            "0002_create_messages",
            "0003_index_sessions",
            "0004_index_lineage",
            "0005_messages_belong_to_trees",
        ]
        assert SQLiteStore(tmp_path / "s.db").migrate() == []  # re-opening applies nothing

    def test_guide_b_cleanup_sql_cascades(self, tmp_path: Path) -> None:
        import sqlite3

        clock = Clock()
        store = SQLiteStore(tmp_path / "s.db", clock=clock)
        agent_on(store).session(session_id="ancient").run("old news")
        conn = sqlite3.connect(tmp_path / "s.db")  # a plain shell: no PRAGMA foreign_keys
        conn.execute("DELETE FROM vel_sessions WHERE updated_at < datetime('now', '-7 days')")
        conn.commit()
        assert conn.execute("SELECT count(*) FROM vel_messages").fetchone()[0] == 0
        assert store.list_sessions() == []

    def test_foreign_rows_are_reported_not_dropped(self, tmp_path: Path) -> None:
        import sqlite3

        store = SQLiteStore(tmp_path / "s.db")
        conn = sqlite3.connect(tmp_path / "s.db")
        conn.execute("INSERT INTO vel_sessions (id, context) VALUES ('legacy', '[{\"role\": \"user\"}]')")
        conn.commit()
        with pytest.raises(StoreError, match=r"'legacy'.*not a vel_jupyter session"):
            store.load("legacy")
        with pytest.raises(StoreError, match="legacy"):
            agent_on(store).session(session_id="legacy")

    def test_an_unwritable_path_is_a_clear_error(self, tmp_path: Path) -> None:
        (tmp_path / "file").write_text("x")
        with pytest.raises(StoreError, match="cannot open SQLite store"):
            SQLiteStore(tmp_path / "file" / "s.db")


class TestStorageSelection:
    def test_urls_and_instances(self, tmp_path: Path) -> None:
        agent = Agent(provider="echo", session_storage=f"sqlite:///{tmp_path}/via-url.db")
        assert isinstance(agent.store, SQLiteStore)
        assert Agent(provider="echo").store is None
        store = MemoryStore()
        assert Agent(provider="echo", session_storage=store).store is store

    def test_database_without_postgres_dsn_says_what_to_set(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from vel_jupyter.errors import ConfigurationError

        monkeypatch.delenv("POSTGRES_DSN", raising=False)
        with pytest.raises(ConfigurationError, match="set POSTGRES_DSN"):
            Agent(provider="echo", session_storage="database")

    def test_unknown_storage(self) -> None:
        from vel_jupyter.errors import ConfigurationError

        with pytest.raises(ConfigurationError, match="unknown session_storage"):
            Agent(provider="echo", session_storage="mongodb://x")
