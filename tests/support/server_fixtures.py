"""pytest fixtures for real PostgreSQL, Redis and llama-server servers (``services.py``, ``llama/server.py``).

A plugin: ``tests/conftest.py`` lists it in ``pytest_plugins``.

One server of each kind per test run (per xdist worker), started lazily by the first test that
asks for it. Where a server cannot be started the tests that need it are skipped with the
reason, except in CI (``CI=true``), where a silently skipped store suite would hide a broken runner:
there they fail.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import NoReturn, TypeVar

import pytest

from ..llama.server import LlamaServer, start_llama_server, start_smollm2_server
from .services import PostgresServer, RedisServer, ServerUnavailable, start_postgres, start_redis

T = TypeVar("T")

STORE_TABLES = ("vel_messages", "vel_sessions", "vel_migrations")
"""Every table the PostgreSQL store creates: dropping them gives each test an empty store cheaply."""

LOCK_TIMEOUT = "5s"
"""How long the DROP may wait for locks: a connection leaked by an earlier test would otherwise hang it."""


def in_ci() -> bool:
    """Whether we run in CI, where a missing server is a broken runner rather than a developer's choice."""
    return os.environ.get("CI", "").strip().lower() == "true"


def start_or_bail(start: Callable[[], T]) -> T:
    """Run ``start``; if the server cannot be started here, skip (fail in CI) with the reason."""
    try:
        return start()
    except ServerUnavailable as exc:
        bail(str(exc))


def bail(reason: str) -> NoReturn:
    """Fail in CI, skip elsewhere: the one place that policy lives."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: failing instead of skipping)", pytrace=False)
    pytest.skip(reason)


def drop_store_tables(dsn: str) -> None:
    """Drop the store's tables (and whatever depends on them) so the next test starts from an empty store."""
    psycopg = _import_or_bail("psycopg", 'pip install "psycopg[binary,pool]"')
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        conn.execute(f"DROP TABLE IF EXISTS {', '.join(STORE_TABLES)} CASCADE")


def flush_redis(url: str) -> None:
    """Empty the test database (only db 0: FLUSHDB, not FLUSHALL, like the store's own scope)."""
    redis = _import_or_bail("redis", "pip install redis")
    client = redis.Redis.from_url(url, socket_timeout=10)
    try:
        client.flushdb()
    finally:
        client.close()


def _import_or_bail(module: str, install: str) -> ModuleType:
    """Import a client library lazily, so that tests not using the servers run without it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        bail(f"the {module!r} package is not installed: {install} (it is in the test extras)")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A private PostgreSQL for the whole run (loopback, free port); tests may stop/start/restart it."""
    with start_or_bail(lambda: start_postgres(tmp_path_factory.mktemp("postgres"))) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server for the whole run (loopback, free port, no persistence)."""
    with start_or_bail(lambda: start_redis(tmp_path_factory.mktemp("redis"))) as server:
        yield server


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama.cpp's llama-server with the tiny model (``tests/llama``): ``.base_url``, ``.model``."""
    with start_or_bail(lambda: start_llama_server(tmp_path_factory.mktemp("llama"))) as server:
        yield server


@pytest.fixture(scope="session")
def llama_server_looping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """Like ``llama_server``, but its answers never end by themselves: they stop at a token limit."""
    with start_or_bail(lambda: start_llama_server(tmp_path_factory.mktemp("llama"), loop=True)) as server:
        yield server


@pytest.fixture(scope="session")
def smollm2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-server with SmolLM2-135M-Instruct, a real instruct model (``make local-model``)."""
    with start_or_bail(lambda: start_smollm2_server(tmp_path_factory.mktemp("smollm2"))) as server:
        yield server


@pytest.fixture
def clean_postgres(postgres_server: PostgresServer) -> str:
    """The DSN of ``vel_test`` with the store's tables dropped; restarts the server if a test left it stopped."""
    postgres_server.start()
    drop_store_tables(postgres_server.dsn)
    return postgres_server.dsn


@pytest.fixture
def postgres_dsn(clean_postgres: str) -> str:
    """What store tests ask for: a DSN to a running server with an empty store."""
    return clean_postgres


@pytest.fixture
def clean_redis(redis_server: RedisServer) -> str:
    """The URL of an empty Redis database 0; restarts the server if a test left it stopped."""
    redis_server.start()
    flush_redis(redis_server.url)
    return redis_server.url


@pytest.fixture
def redis_url(clean_redis: str) -> str:
    """What store tests ask for: a URL to a running, empty Redis."""
    return clean_redis
