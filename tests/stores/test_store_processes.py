"""Persistent stores across OS processes: concurrent appends, restarts, and servers going away."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vel_jupyter import Agent
from vel_jupyter.errors import StoreError

ROOT = Path(__file__).resolve().parents[2]
PERSISTENT = ["sqlite", "postgres", "redis"]


@pytest.fixture(params=PERSISTENT)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/shared.db"
    if request.param == "postgres":
        return str(request.getfixturevalue("clean_postgres"))
    return str(request.getfixturevalue("clean_redis"))


def worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.store_worker", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 300) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


@pytest.mark.slow
def test_two_processes_appending_500_turns_each_lose_nothing(store_url: str) -> None:
    Agent(provider="echo", session_storage=store_url).session(session_id="contended")
    processes = [worker("turns", store_url, "contended", "500", name) for name in ("a", "b")]
    for process in processes:
        finish(process)
    session = Agent(provider="echo", session_storage=store_url).session(session_id="contended")
    messages = session.messages
    users = [m.text for m in messages if m.role == "user"]
    assert sorted(users) == sorted([f"a-{i}" for i in range(500)] + [f"b-{i}" for i in range(500)])
    assert len(messages) == 2000
    roles = [m.role for m in messages]
    assert roles == ["user", "assistant"] * 1000  # one chain, turns never interleaved
    for name in ("a", "b"):  # each process's own turns stay in order
        mine = [u for u in users if u.startswith(f"{name}-")]
        assert mine == [f"{name}-{i}" for i in range(500)]
    assert len(session.branches) == 1
    nodes = session.nodes
    assert all(child.parent_id == parent.id for parent, child in itertools.pairwise(nodes))


def test_a_session_written_by_one_process_is_resumed_by_another(store_url: str) -> None:
    built = json.loads(finish(worker("build", store_url, "restart")))
    agent = Agent(provider="echo", session_storage=store_url)
    resumed = agent.session(session_id="restart")
    assert json.loads(json.dumps(resumed.to_dict())) == built["session"]
    fork = agent.session(session_id="restart-fork")
    assert json.loads(json.dumps(fork.to_dict())) == built["fork"]
    assert [b.head for b in resumed.branches] == built["session"]["heads"]
    assert resumed.usage.total_tokens > 0
    dumped = json.loads(finish(worker("dump", store_url, "restart")))
    assert dumped == built["session"]


def _fault_test(agent: Agent, stop: Callable[[], None], start: Callable[[], None]) -> None:
    session = agent.session(session_id="fragile")
    session.run("before the outage")
    before = json.loads(json.dumps(session.to_dict()))
    stop()
    try:
        with pytest.raises(StoreError, match="fragile") as info:
            session.run("during the outage")
        assert "retry" in str(info.value)
        assert json.loads(json.dumps(session.to_dict())) == before  # memory did not move ahead
    finally:
        start()
    assert json.loads(json.dumps(agent.store.load("fragile"))) == before  # type: ignore[union-attr]
    session.run("after the outage")
    assert [m.text for m in session.messages if m.role == "user"] == ["before the outage", "after the outage"]
    resumed = Agent(provider="echo", session_storage=agent.store).session(session_id="fragile")
    assert resumed.messages == session.messages


@pytest.mark.slow
def test_postgres_going_away_mid_conversation(postgres_server: Any, clean_postgres: str) -> None:
    from vel_jupyter.stores import PostgresStore

    store = PostgresStore(clean_postgres, timeout=2)
    try:
        _fault_test(Agent(provider="echo", session_storage=store), postgres_server.stop, postgres_server.start)
    finally:
        store.close()


@pytest.mark.slow
def test_redis_going_away_mid_conversation(redis_server: Any, clean_redis: str) -> None:
    import redis

    from vel_jupyter.stores import RedisStore

    store = RedisStore(clean_redis)

    def stop() -> None:
        redis.Redis.from_url(clean_redis).save()  # the test server runs without persistence
        redis_server.stop()

    _fault_test(Agent(provider="echo", session_storage=store), stop, redis_server.start)


def test_sqlite_unavailable_mid_conversation(tmp_path: Path) -> None:
    import sqlite3

    from vel_jupyter.stores import SQLiteStore

    path = tmp_path / "locked.db"
    store = SQLiteStore(path, busy_timeout=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)

    def stop() -> None:
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock

    def start() -> None:
        blocker.execute("ROLLBACK")

    _fault_test(Agent(provider="echo", session_storage=store), stop, start)
