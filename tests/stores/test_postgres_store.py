"""PostgreSQL specifics: guide B's schema and cleanup SQL, 'database' storage, migrations, O(1) rows."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from vel_jupyter import Agent, ContextManager, Message
from vel_jupyter.errors import StoreError
from vel_jupyter.stores import PostgresStore


@pytest.fixture
def dsn(clean_postgres: str) -> str:
    return clean_postgres


@pytest.fixture
def store(dsn: str) -> Iterator[PostgresStore]:
    store = PostgresStore(dsn)
    yield store
    store.close()


def sql(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


class TestSchema:
    def test_guide_b_table_as_printed(self, store: PostgresStore, dsn: str) -> None:
        columns = sql(
            dsn,
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'vel_sessions' ORDER BY ordinal_position",
        )
        assert columns == [
            ("id", "text", "NO"),
            ("context", "jsonb", "NO"),
            ("created_at", "timestamp with time zone", "YES"),
            ("updated_at", "timestamp with time zone", "YES"),
            ("expires_at", "timestamp with time zone", "YES"),
            ("tree_id", "text", "YES"),  # ours: the conversation tree the header points into
            ("summary", "text", "YES"),  # ours: the listing line, so that listing reads no header
        ]

    def test_context_holds_the_header_and_messages_are_rows(self, store: PostgresStore, dsn: str) -> None:
        session = Agent(provider="echo", session_storage=store).session(session_id="rows", system="sys")
        session.run("hello")
        ((context,),) = sql(dsn, "SELECT context FROM vel_sessions WHERE id = 'rows'")
        assert context["system"] == "sys"
        assert context["head"] == session.head
        assert "messages" not in context
        assert context["tree"] == session.tree_id
        rows = sql(
            dsn,
            f"SELECT id, parent_id, role, content->>'content' FROM vel_messages WHERE tree_id = '{session.tree_id}'",
        )
        user, answer = session.nodes
        assert sorted(rows) == sorted(
            [(user.id, None, "user", "hello"), (answer.id, user.id, "assistant", answer.message.text)]
        )

    def test_migrations_are_named_recorded_and_idempotent(self, store: PostgresStore, dsn: str) -> None:
        names = [r[0] for r in sql(dsn, "SELECT name FROM vel_migrations ORDER BY name")]
        assert names == [
            "0001_create_sessions",
            "0002_create_messages",
            "0003_index_sessions",
            "0004_index_lineage",
            "0005_messages_belong_to_trees",
        ]
        assert store.migrate() == []

    def test_upgrading_from_the_first_schema(self, dsn: str) -> None:
        from vel_jupyter.stores import postgres as module

        class FirstRelease(PostgresStore):
            def migrations(self) -> Any:
                return module.MIGRATIONS[:1]

        FirstRelease(dsn).close()
        assert [r[0] for r in sql(dsn, "SELECT name FROM vel_migrations")] == ["0001_create_sessions"]
        store = PostgresStore(dsn)
        Agent(provider="echo", session_storage=store).session(session_id="upgraded").run("works")
        assert len(sql(dsn, "SELECT name FROM vel_migrations")) == 5
        store.close()

    def test_foreign_rows_are_reported_not_dropped(self, store: PostgresStore, dsn: str) -> None:
        sql(dsn, 'INSERT INTO vel_sessions (id, context) VALUES (\'legacy\', \'[{"role": "user", "content": "hi"}]\')')
        with pytest.raises(StoreError, match=r"'legacy'.*not a vel_jupyter session"):
            store.load("legacy")


class TestWrites:
    def test_a_turn_appends_rows_and_a_fork_writes_one(self, store: PostgresStore, dsn: str) -> None:
        agent = Agent(provider="echo", session_storage=store)
        session = agent.session(session_id="long")
        for i in range(200):
            session.add_message(Message.user(f"m{i}"))
        count = sql(dsn, "SELECT count(*) FROM vel_messages")[0][0]
        session.fork("long-fork")
        assert sql(dsn, "SELECT count(*) FROM vel_messages")[0][0] == count  # no message copied
        assert sql(dsn, "SELECT count(*) FROM vel_sessions")[0][0] == 2
        session.run("one more turn")
        assert sql(dsn, "SELECT count(*) FROM vel_messages")[0][0] == count + 2

    def test_guide_b_cleanup_sql_works_unchanged_and_cascades(self, dsn: str) -> None:
        week_ago = datetime.now(timezone.utc) - timedelta(days=8)
        old_store = PostgresStore(dsn, clock=lambda: week_ago)
        Agent(provider="echo", session_storage=old_store).session(session_id="stale").run("old")
        store = PostgresStore(dsn)
        fresh = Agent(provider="echo", session_storage=store).session(session_id="fresh")
        fresh.run("new")
        sql(dsn, "DELETE FROM vel_sessions\nWHERE updated_at < NOW() - INTERVAL '7 days';")
        assert store.list_sessions() == ["fresh"]
        assert sql(dsn, "SELECT DISTINCT tree_id FROM vel_messages") == [(fresh.tree_id,)]  # the trigger freed "stale"
        old_store.close()
        store.close()

    def test_a_live_fork_keeps_its_origin_out_of_the_cleanup(self, dsn: str) -> None:
        week_ago = datetime.now(timezone.utc) - timedelta(days=8)
        old_store = PostgresStore(dsn, clock=lambda: week_ago)
        Agent(provider="echo", session_storage=old_store).session(session_id="origin").run("old")
        store = PostgresStore(dsn)
        agent = Agent(provider="echo", session_storage=store)
        fork = agent.session(session_id="origin").fork("young-fork")
        fork.run("still talking")
        sql(dsn, "DELETE FROM vel_sessions WHERE updated_at < NOW() - INTERVAL '7 days'")
        assert Agent(provider="echo", session_storage=store).session(session_id="young-fork").messages == fork.messages
        old_store.close()
        store.close()


class TestGuideBDatabaseStorage:
    @pytest.fixture(autouse=True)
    def postgres_dsn_env(self, dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("POSTGRES_DSN", dsn)

    def test_database_storage(self) -> None:
        agent = Agent(
            id="my-agent",
            model={"provider": "openai", "model": "gpt-4o"},
            session_storage="database",
        )
        asyncio.run(agent.run({"message": "My name is Alice"}, session_id="user-123"))
        # another process (here: another agent) sees it
        again = Agent(id="my-agent", model={"provider": "openai", "model": "gpt-4o"}, session_storage="database")
        answer = asyncio.run(again.run({"message": "What is my name?"}, session_id="user-123"))
        assert "My name is Alice" in answer
        assert isinstance(agent.store, PostgresStore)

    def test_hybrid_database_and_limited_history(self) -> None:
        # Database + Limited History
        # Persistent storage, but only keeps last 20 messages
        agent = Agent(
            id="my-agent",
            model={"provider": "openai", "model": "gpt-4o"},
            session_storage="database",
            context_manager=ContextManager(max_history=20),
        )
        for i in range(15):
            asyncio.run(agent.run({"message": f"m{i}"}, session_id="hybrid"))
        fresh = Agent(id="my-agent", model={"provider": "echo"}, session_storage="database")
        assert len(fresh.session(session_id="hybrid").messages) == 30  # the store keeps everything

    def test_memory_management(self) -> None:
        # Optimize for long conversations
        agent = Agent(
            id="my-agent",
            model={"provider": "openai", "model": "gpt-4o"},
            context_manager=ContextManager(
                max_history=50,  # Limit context window
                summarize=False,  # Future: enable summarization
            ),
            session_storage="database",
        )
        assert agent.ctxmgr.max_history == 50
        assert isinstance(agent.store, PostgresStore)
