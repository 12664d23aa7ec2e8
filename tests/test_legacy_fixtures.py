"""The v1 storage fixtures (``tests/fixtures/legacy_v1``) load with the code as it was when they were written.

Each store's fixture is restored the way its README says (SQLite: copy the file; PostgreSQL:
``psql -f dump.sql`` into a fresh database; Redis: replay ``keys.json``), opened with a store, and
every session a fresh agent loads must equal ``expected.json``.

This is the test the storage redesign turns into its migration test: keep the restore helpers,
open the restored database with the new code (which migrates it) and compare what loads with
``expected.json``, minus the fields a migration may legitimately change (see the README).
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

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_v1"
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


def assert_loads_as_expected(store: Any, want: dict[str, Any]) -> None:
    assert store.list_sessions() == want["store_list_sessions"]
    agent = Agent(provider="echo", session_storage=store)
    assert agent.list_sessions() == want["agent_list_sessions"]
    for sid, record in want["sessions"].items():
        session = agent.get_session(sid, None)
        got = None if session is None else session.to_dict()
        assert normalized(got) == normalized(record), f"session {sid!r} loads differently"


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


def test_sqlite_fixture_loads(tmp_path: Path) -> None:
    from vel_jupyter.stores import SQLiteStore

    committed = FIXTURES / "sqlite" / "sessions.db"
    assert not committed.with_name("sessions.db-wal").exists(), "the fixture must be self-contained"
    assert committed.read_bytes()[18:20] == b"\x02\x02", "the fixture is in WAL mode, as SQLiteStore leaves it"
    store = SQLiteStore(restore_sqlite(tmp_path))
    try:
        assert_loads_as_expected(store, expected("sqlite"))
    finally:
        store.close()


def test_postgres_fixture_loads(clean_postgres: str, postgres_server: Any) -> None:
    from vel_jupyter.stores import PostgresStore

    dsn = restore_postgres(postgres_server)
    try:
        store = PostgresStore(dsn, max_size=2)
        try:
            assert store.migrate() == []  # the dump carries vel_migrations: nothing left to apply
            assert_loads_as_expected(store, expected("postgres"))
        finally:
            store.close()
    finally:
        drop_postgres(postgres_server)


def test_redis_fixture_loads(clean_redis: str) -> None:
    from vel_jupyter.stores import RedisStore

    replay_redis(clean_redis)
    store = RedisStore(clean_redis)
    try:
        assert_loads_as_expected(store, expected("redis"))
    finally:
        store.close()


@pytest.mark.parametrize("store", ["sqlite", "postgres", "redis"])
def test_expected_records_name_the_source_commit(store: str) -> None:
    want = expected(store)
    assert want["format"] == "vel_jupyter.legacy_fixtures/1"
    assert len(want["source_commit"]) == 40
