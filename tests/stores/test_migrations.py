"""Databases written by the first storage format migrate to conversation trees, and nothing is lost.

The fixtures (``tests/fixtures/legacy_v1``) were written by the code of commit 54d2763 — messages
owned by the session that wrote them — and ``expected.json`` holds what that code loaded from
them. Each is restored the way its README says (SQLite: copy the file; PostgreSQL: ``psql -f
dump.sql`` into a fresh database; Redis: replay ``keys.json``) and opened with today's stores,
which migrate it. Every session must load exactly as it did, but for the fields the format
change adds (``tree``, ``stats``, ``version``); and the flows that lost messages in the old
format (deleting an origin or a fork, guide B's cleanup SQL) must now keep every message a
remaining session reaches.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from vel_jupyter import Agent

FIXTURES = Path(__file__).parents[1] / "fixtures" / "legacy_v1"
LEGACY_DATABASE = "vel_legacy_v1"


# -- restoring the fixtures (reuse these in the migration test) -----------------------------


def expected(store: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / store / "expected.json").read_text(encoding="utf-8"))
    return document


def restore_sqlite(directory: Path) -> Path:
    """A private copy of the SQLite fixture (opening a database may write to it and beside it)."""
    path = directory / "sessions.db"
    shutil.copyfile(FIXTURES / "sqlite" / "sessions.db", path)
    return path


def restore_postgres(server: Any, database: str = LEGACY_DATABASE) -> str:
    """Restore the dump into a fresh ``database`` on the throwaway server; returns its DSN."""
    import psycopg

    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    dsn = f"postgresql://postgres@127.0.0.1:{server.port}/{database}"
    psql = [str(server.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn]
    done = subprocess.run([*psql, "-f", str(FIXTURES / "postgres" / "dump.sql")], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"psql could not restore dump.sql (exit {done.returncode}):\n{done.stderr}")
    return dsn


def drop_postgres(server: Any, database: str = LEGACY_DATABASE) -> None:
    import psycopg

    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def replay_redis(url: str) -> None:
    """Write every key of ``keys.json`` into the (empty) Redis at ``url``, with its type and TTL."""
    import redis

    document = json.loads((FIXTURES / "redis" / "keys.json").read_text(encoding="utf-8"))
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        for entry in document["keys"]:
            key, kind, value = entry["key"], entry["type"], entry["value"]
            if kind == "hash":
                client.hset(key, mapping=value)
            elif kind == "zset":
                client.zadd(key, {member: float(score) for member, score in value})
            elif kind == "set":
                client.sadd(key, *value)
            elif kind == "list":
                client.rpush(key, *value)
            elif kind == "string":
                client.set(key, value)
            else:
                raise AssertionError(f"unknown key type {kind!r} in keys.json")
            if entry["pttl"] > 0:
                client.pexpire(key, entry["pttl"])
    finally:
        client.close()


# -- comparing ----------------------------------------------------------------------------------


def normalized(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """``record`` as JSON, with message timestamps as UTC instants.

    PostgreSQL returns ``timestamptz`` columns in the server's TimeZone, so the same instant
    can come back with another offset when the fixture is restored on a machine in another zone.
    """
    if record is None:
        return None
    data: dict[str, Any] = json.loads(json.dumps(record))
    for message in data.get("messages", []):
        if message.get("created_at"):
            message["created_at"] = datetime.fromisoformat(message["created_at"]).astimezone(timezone.utc).isoformat()
    return data


NEW_FIELDS = ("version", "tree", "stats")
"""What format 2 adds to a header; everything else must come through the migration unchanged."""


def without_new_fields(record: dict[str, Any] | None) -> dict[str, Any] | None:
    data = normalized(record)
    return None if data is None else {k: v for k, v in data.items() if k not in NEW_FIELDS}


def assert_loads_as_expected(store: Any, want: dict[str, Any]) -> None:
    assert store.list_sessions() == want["store_list_sessions"]
    agent = Agent(provider="echo", session_storage=store)
    assert agent.list_sessions() == want["agent_list_sessions"]
    for sid, record in want["sessions"].items():
        session = agent.get_session(sid, None)
        got = None if session is None else session.to_dict()
        assert without_new_fields(got) == without_new_fields(record), f"session {sid!r} loads differently"
        if session is not None:
            assert session.stats == {
                "messages": len(session.messages),
                "tokens": session.usage.total_tokens,
            }, f"session {sid!r}: the migration computed wrong stats"


FAMILY = ("trip", "alt", "zeta", "trip-early")


def assert_nothing_is_lost_when_sessions_go(store: Any, want: dict[str, Any]) -> None:
    """Delete sessions one by one, in the order that broke format 1: the rest keep loading whole."""
    remaining = [sid for sid in want["agent_list_sessions"] if want["sessions"].get(sid) is not None]
    for gone in ["resaved-fork", "alt", "trip", "orphan-a"]:
        assert store.delete(gone)
        remaining.remove(gone)
        fresh = Agent(provider="echo", session_storage=store)
        for sid in remaining:
            session = fresh.get_session(sid)
            assert without_new_fields(session.to_dict()) == without_new_fields(want["sessions"][sid]), sid
    fresh = Agent(provider="echo", session_storage=store)
    fresh.get_session("zeta").run("still here")  # a fork whose origins are both gone continues


# -- the tests ----------------------------------------------------------------------------------


def test_fixture_families_are_the_same_in_every_store() -> None:
    """The three stores hold the same families (ids differ: they are random per run)."""

    def shape(store: str) -> dict[str, Any]:
        want = expected(store)
        assert want["source_commit"] == expected("sqlite")["source_commit"]
        return {
            sid: None
            if r is None
            else (len(r["messages"]), len(r["heads"]), r["current"], r["lineage"], r["system"], r["settings"])
            for sid, r in want["sessions"].items()
        }

    sqlite = shape("sqlite")
    assert shape("postgres") == sqlite
    assert shape("redis") == sqlite
    assert sqlite["trip"][1] == 2 and sqlite["zeta"][3] == ["alt", "trip"]
    assert sqlite["orphan"] is None and sqlite["expired"] is None
    assert "alt" < "trip" < "zeta"  # forks on both sides of their origin in sorted order


def test_sqlite_fixture_migrates_and_loads(tmp_path: Path) -> None:
    from vel_jupyter.stores import SQLiteStore

    committed = FIXTURES / "sqlite" / "sessions.db"
    assert not committed.with_name("sessions.db-wal").exists(), "the fixture must be self-contained"
    assert committed.read_bytes()[18:20] == b"\x02\x02", "the fixture is in WAL mode, as SQLiteStore leaves it"
    path = restore_sqlite(tmp_path)
    store = SQLiteStore(path)
    try:
        assert_loads_as_expected(store, expected("sqlite"))
        assert SQLiteStore(path).migrate() == []  # opening again applies nothing
        assert_nothing_is_lost_when_sessions_go(store, expected("sqlite"))
    finally:
        store.close()


def test_sqlite_migration_keeps_guide_b_cleanup_working(tmp_path: Path) -> None:
    """Guide B's cleanup DELETE, from a plain sqlite3 connection, frees the trees it empties."""
    import sqlite3

    from vel_jupyter.stores import SQLiteStore

    path = restore_sqlite(tmp_path)
    SQLiteStore(path).close()  # migrates
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM vel_sessions WHERE id NOT IN ('zeta')")
    trees = {row[0] for row in conn.execute("SELECT DISTINCT tree_id FROM vel_messages")}
    assert trees == {row[0] for row in conn.execute("SELECT tree_id FROM vel_sessions")}
    conn.close()
    store = SQLiteStore(path)
    assert store.load("zeta") is not None
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM vel_sessions")
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM vel_messages").fetchone()[0] == 0


def test_postgres_fixture_migrates_and_loads(clean_postgres: str, postgres_server: Any) -> None:
    from vel_jupyter.stores import PostgresStore

    dsn = restore_postgres(postgres_server)
    try:
        store = PostgresStore(dsn, max_size=2)
        try:
            assert store.migrate() == []  # opening migrated it: nothing left to apply
            assert_loads_as_expected(store, expected("postgres"))
            assert_nothing_is_lost_when_sessions_go(store, expected("postgres"))
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as conn:  # guide B's cleanup, from any client
                conn.execute("DELETE FROM vel_sessions WHERE updated_at < NOW() + INTERVAL '1 day'")
                assert conn.execute("SELECT COUNT(*) FROM vel_messages").fetchone() == (0,)
        finally:
            store.close()
    finally:
        drop_postgres(postgres_server)


def test_redis_fixture_migrates_and_loads(clean_redis: str) -> None:
    from vel_jupyter.stores import RedisStore

    replay_redis(clean_redis)
    store = RedisStore(clean_redis)
    try:
        assert_loads_as_expected(store, expected("redis"))
        assert_nothing_is_lost_when_sessions_go(store, expected("redis"))
        for sid in store.list_sessions():
            store.delete(sid)
        store.purge_expired()
        import redis

        client = redis.Redis.from_url(clean_redis, decode_responses=True)
        assert sorted(client.keys("vel:*")) == ["vel:format"]  # every tree went with its last session
    finally:
        store.close()


@pytest.mark.parametrize("store", ["sqlite", "postgres", "redis"])
def test_expected_records_name_the_source_commit(store: str) -> None:
    want = expected(store)
    assert want["format"] == "vel_jupyter.legacy_fixtures/1"
    assert len(want["source_commit"]) == 40
