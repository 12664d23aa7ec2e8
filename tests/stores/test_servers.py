"""The test harness's own tests: real PostgreSQL and Redis come up, go away, and come back."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import redis

from ..support.server_fixtures import bail, drop_store_tables, start_or_bail
from ..support.services import PostgresServer, RedisServer, ServerUnavailable, start_postgres, start_redis


def _make_probe(dsn: str, *notes: str) -> None:
    """A fresh table of our own (the fixtures only drop the store's tables)."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP TABLE IF EXISTS harness_probe")
        conn.execute("CREATE TABLE harness_probe (id serial PRIMARY KEY, note text)")
        for note in notes:
            conn.execute("INSERT INTO harness_probe (note) VALUES (%s)", [note])


def _notes(dsn: str) -> list[str]:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        return [note for (note,) in conn.execute("SELECT note FROM harness_probe ORDER BY id")]


# --- PostgreSQL ---------------------------------------------------------------------------------------


def test_postgres_listens_on_its_own_loopback_port(postgres_server: PostgresServer) -> None:
    assert postgres_server.dsn == f"postgresql://postgres@127.0.0.1:{postgres_server.port}/vel_test"
    assert postgres_server.port != 5432  # never the system cluster's port
    assert postgres_server.is_running()


def test_postgres_data_survives_a_stop_and_start(postgres_server: PostgresServer, postgres_dsn: str) -> None:
    _make_probe(postgres_dsn, "before", "stop")
    assert _notes(postgres_dsn) == ["before", "stop"]
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        postgres_server.stop()  # mid-conversation: this connection is now dead
        assert not postgres_server.is_running()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_dsn, connect_timeout=2)

    postgres_server.start()
    assert postgres_server.dsn == postgres_dsn  # same port, same data dir
    assert _notes(postgres_dsn) == ["before", "stop"]


def test_postgres_restart_keeps_port_and_data(postgres_server: PostgresServer, postgres_dsn: str) -> None:
    _make_probe(postgres_dsn, "restart")
    port = postgres_server.port
    postgres_server.restart()
    assert postgres_server.is_running()
    assert postgres_server.port == port
    assert _notes(postgres_dsn) == ["restart"]


def test_postgres_dsn_restarts_a_server_an_earlier_test_left_stopped(
    postgres_server: PostgresServer, request: pytest.FixtureRequest
) -> None:
    postgres_server.stop()
    dsn = request.getfixturevalue("postgres_dsn")
    assert postgres_server.is_running()
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("vel_test",)


def test_clean_postgres_drops_the_store_tables(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE vel_sessions (id text PRIMARY KEY)")
        conn.execute("CREATE TABLE vel_messages (session_id text REFERENCES vel_sessions (id))")
    drop_store_tables(postgres_dsn)
    with psycopg.connect(postgres_dsn) as conn:
        found = conn.execute("SELECT to_regclass('vel_sessions'), to_regclass('vel_messages')").fetchone()
    assert found == (None, None)


# --- Redis --------------------------------------------------------------------------------------------


def test_redis_set_get_then_stop_and_start(redis_server: RedisServer, redis_url: str) -> None:
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0"
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"

        redis_server.stop()
        with pytest.raises(redis.ConnectionError):
            client.ping()

        redis_server.start()
        assert client.ping() is True  # the client reconnects to the same port
        assert client.get("greeting") is None  # no persistence: a restart empties it
    finally:
        client.close()


def test_clean_redis_starts_empty(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        assert client.dbsize() == 0
        client.set("leftover", "1")
    finally:
        client.close()


# --- when the servers cannot be started ---------------------------------------------------------------


def test_missing_postgres_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ServerUnavailable, match=r"apt-get install postgresql"):
        start_postgres(tmp_path, bindir=tmp_path / "no-such-bindir")


def test_missing_redis_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ServerUnavailable, match=r"apt-get install redis-server"):
        start_redis(tmp_path, binary=tmp_path / "no-such-redis-server")


@pytest.mark.parametrize("ci", ["true", "TRUE", "True"])
def test_unavailable_server_fails_in_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="apt-get install postgresql"):
        start_or_bail(lambda: start_postgres(tmp_path, bindir=tmp_path / "nothing-here"))


@pytest.mark.parametrize("ci", [None, "", "false", "1"])
def test_unavailable_server_skips_outside_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="apt-get install redis-server"):
        start_or_bail(lambda: start_redis(tmp_path, binary=tmp_path / "nothing-here"))


def test_bail_reason_is_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        bail("redis-server not found")


def test_a_server_that_exits_during_startup_reports_its_log(redis_server: RedisServer, tmp_path: Path) -> None:
    clash = RedisServer(
        binary=redis_server.binary, data_dir=tmp_path, port=redis_server.port, log_path=tmp_path / "log"
    )
    with pytest.raises(ServerUnavailable, match=r"(?s)exited during startup.*Address already in use"):
        clash.start()
    assert not clash.is_running()
    clash.close()
