"""Store passwords never reach an output: a store's repr, its errors, the errors of
``session_storage=`` and the log lines of the drivers under it (psycopg_pool's warnings quote a
DSN libpq cannot parse, and reach a notebook cell's stderr) show ``***`` where a password was.
Against the real PostgreSQL and Redis servers of the test harness."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from vel_jupyter import Agent
from vel_jupyter.core import secrets
from vel_jupyter.errors import AgentError, ConfigurationError, StoreError
from vel_jupyter.stores import PostgresStore, RedisStore, SQLiteStore, open_store

PASSWORD = "s3cret-Store-PW-7731"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unguarded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Driver loggers without the redacting filter, as in a fresh kernel: the store must attach it."""
    manager = logging.Logger.manager
    for name in [*manager.loggerDict, *secrets.GUARDED_LOGGERS]:
        logger = logging.getLogger(name)
        if secrets._FILTER in logger.filters:
            monkeypatch.setattr(logger, "filters", [f for f in logger.filters if f is not secrets._FILTER])


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)


def with_password(url: str, user: str = "postgres") -> str:
    parts = urlsplit(url)
    return url.replace(f"{parts.netloc}", f"{user}:{PASSWORD}@{parts.hostname}:{parts.port}", 1)


class TestPostgres:
    def test_the_repr_shows_no_password(self, postgres_dsn: str) -> None:
        store = PostgresStore(with_password(postgres_dsn))  # (the test server trusts loopback: any password)
        try:
            assert PASSWORD not in repr(store) and PASSWORD not in str(vars(store))
            assert "postgres:***@" not in repr(store) and "***:***@127.0.0.1" in repr(store)
        finally:
            store.close()

    def test_an_empty_user_name_does_not_show_the_password(self, postgres_dsn: str) -> None:
        dsn = with_password(postgres_dsn, user="")  # postgresql://:PW@host/db
        with pytest.raises(StoreError) as caught:  # the default user (this OS user) is no role there
            PostgresStore(dsn, timeout=1)
        assert PASSWORD not in str(caught.value) and ":***@127.0.0.1" in str(caught.value)

    def test_a_conninfo_password_is_redacted(self, postgres_server: object, postgres_dsn: str) -> None:
        port = urlsplit(postgres_dsn).port
        store = PostgresStore(f"host=127.0.0.1 port={port} dbname=vel_test user=postgres password={PASSWORD}")
        try:
            assert PASSWORD not in repr(store) and "password=***" in repr(store)
        finally:
            store.close()

    def test_the_scheme_is_read_case_insensitively(self, postgres_dsn: str) -> None:
        store = open_store("PostgreSQL" + postgres_dsn.removeprefix("postgresql"))
        try:
            assert isinstance(store, PostgresStore)
            Agent(provider="echo", session_storage=store).session(session_id="case").run("works")
        finally:
            store.close()

    @pytest.mark.parametrize(
        "dsn",
        [
            "postgresql+psycopg://postgres:{pw}@127.0.0.1:{port}/vel_test",  # libpq quotes it whole
            "postgresql://postgres:p%zz{pw}@127.0.0.1:{port}/vel_test",  # libpq quotes the bad password
            "postgresql://postgres:{pw}@127.0.0.1:{port}/vel_test",  # nobody listens there
        ],
        ids=["unparsable", "bad-escape", "refused"],
    )
    def test_a_failing_connection_logs_and_raises_no_password(
        self, unguarded: None, caplog: pytest.LogCaptureFixture, dsn: str
    ) -> None:
        caplog.set_level(logging.INFO, logger="psycopg")
        dsn = dsn.format(pw=PASSWORD, port=free_port())
        with pytest.raises(StoreError) as caught:
            PostgresStore(dsn, timeout=1)
        assert PASSWORD not in str(caught.value) and "\n" not in str(caught.value)
        assert caught.value.__cause__ is None or PASSWORD not in str(caught.value.__cause__)
        pool_lines = [r for r in caplog.records if r.name.startswith("psycopg")]
        assert pool_lines, "the pool logged its failed attempts (the lines a notebook shows)"
        assert PASSWORD not in logged(caplog)
        # Whatever the driver logs next, through any of its loggers, is filtered too.
        for name in ("psycopg", "psycopg.pool"):
            logging.getLogger(name).warning("connecting with %s", dsn)
        assert PASSWORD not in logged(caplog)


class TestRedis:
    def test_a_failing_connection_logs_and_raises_no_password(
        self, unguarded: None, caplog: pytest.LogCaptureFixture, redis_url: str
    ) -> None:
        caplog.set_level(logging.DEBUG, logger="redis")
        url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"  # nobody listens there
        with pytest.raises(StoreError) as caught:
            RedisStore(url)
        assert PASSWORD not in str(caught.value) and ":***@127.0.0.1" in str(caught.value)
        for name in ("redis", "redis.connection", "redis.client"):
            logging.getLogger(name).warning("connecting to %s", url)
        assert PASSWORD not in logged(caplog)
        assert caplog.records, "the lines were captured"

    @pytest.mark.parametrize("where", ["userinfo", "query"])
    def test_the_repr_shows_no_password(self, redis_url: str, where: str) -> None:
        # (the test server has no password, and takes any: the store opens)
        if where == "userinfo":
            url = redis_url.replace("redis://", f"redis://default:{PASSWORD}@")
        else:
            url = redis_url + f"?password={PASSWORD}&decode_responses=false"
        store = RedisStore(url)
        try:
            assert PASSWORD not in repr(store) and PASSWORD not in str(vars(store))
            assert "***" in repr(store)
        finally:
            store.close()

    def test_the_scheme_is_read_case_insensitively(self, redis_url: str) -> None:
        store = open_store("REDIS" + redis_url.removeprefix("redis"))
        assert isinstance(store, RedisStore)
        store.close()


class TestStorageSelection:
    @pytest.mark.parametrize(
        "spec",
        [
            f"postgresql+psycopg://user:{PASSWORD}@db.example/app",
            f"redis+sentinel://:{PASSWORD}@sentinel.example:26379/0",
            f"mongodb://user:{PASSWORD}@mongo.example/?authSource={PASSWORD}",
            f"postgresql+psycopg://user@db.example/app?password={PASSWORD}",
        ],
    )
    def test_an_unknown_scheme_shows_the_url_redacted(self, spec: str) -> None:
        with pytest.raises(ConfigurationError, match="unknown session_storage") as caught:
            Agent(provider="echo", session_storage=spec)
        assert PASSWORD not in str(caught.value) and "***" in str(caught.value)

    def test_an_unreadable_url_shows_nothing_of_it(self) -> None:
        with pytest.raises(ConfigurationError) as caught:
            open_store(f"weird+scheme://user:{PASSWORD}@[not-a-host/db")
        assert PASSWORD not in str(caught.value)

    def test_sqlite_urls_are_read_case_insensitively(self, tmp_path: Path) -> None:
        assert isinstance(open_store(f"SQLite:///{tmp_path}/a.db"), SQLiteStore)

    def test_a_wrong_sqlite_url_says_how_to_write_one(self) -> None:
        with pytest.raises(ConfigurationError, match="three slashes"):
            open_store("sqlite://sessions.db")

    def test_every_store_error_is_redacted(self, postgres_dsn: str) -> None:
        dsn = with_password(postgres_dsn)
        store = PostgresStore(dsn)
        agent = Agent(provider="echo", session_storage=store)
        session = agent.session(session_id="x")
        store._pool.close()  # the store is unusable: every call is a StoreError naming the server
        with pytest.raises(AgentError) as caught:
            session.run("hello")
        assert PASSWORD not in str(caught.value)
