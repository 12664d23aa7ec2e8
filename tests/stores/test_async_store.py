"""The async path never blocks the event loop on the store.

A heartbeat task counts its ticks while sessions commit concurrently through a real
PostgreSQL server. Each store call made by a turn notes the heartbeat's count when it starts
and when it ends; had the call run on the event loop's thread, the heartbeat could not have
ticked in between. Counts, not timings: the server is made slow on purpose (``pg_sleep``
inside the store's own transaction), so even a busy machine ticks many times per call.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from vel_jupyter import Agent
from vel_jupyter.stores import PostgresStore

SERVER_DELAY = 0.05
"""Seconds each store call spends in the server before doing its work."""


class Heartbeat:
    def __init__(self) -> None:
        self.ticks = 0
        self.windows: list[tuple[str, int, int, str]] = []  # call, ticks at start, at end, thread
        self._lock = threading.Lock()

    async def beat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.ticks += 1
            await asyncio.sleep(0.001)

    def record(self, call: str, start: int) -> None:
        with self._lock:
            self.windows.append((call, start, self.ticks, threading.current_thread().name))


class SlowPostgresStore(PostgresStore):
    """The real store, its reads and writes made slow on the server and noted by the heartbeat."""

    heartbeat: Heartbeat

    def _slowly(self, name: str, call: Any) -> Any:
        start = self.heartbeat.ticks
        with self.transaction() as tx:
            tx.execute("SELECT pg_sleep(%s)", (SERVER_DELAY,))
        try:
            return call()
        finally:
            self.heartbeat.record(name, start)

    def append(self, *args: Any, **kwargs: Any) -> None:
        self._slowly("append", lambda: super(SlowPostgresStore, self).append(*args, **kwargs))

    def read_header(self, session_id: str) -> Any:
        return self._slowly("read_header", lambda: super(SlowPostgresStore, self).read_header(session_id))


@pytest.fixture
def slow_store(postgres_dsn: str) -> Any:
    store = SlowPostgresStore(postgres_dsn, max_size=4)
    store.heartbeat = Heartbeat()
    yield store
    store.close()


def test_the_heartbeat_ticks_through_every_store_call_of_concurrent_turns(slow_store: SlowPostgresStore) -> None:
    heartbeat = slow_store.heartbeat
    one, other = Agent(provider="echo", session_storage=slow_store), Agent(provider="echo", session_storage=slow_store)
    first, second = one.session(session_id="first"), one.session(session_id="second")
    shared_here, shared_there = one.session(session_id="shared"), None
    first.run("warm up")  # sync calls before the loop starts are not measured
    heartbeat.windows.clear()

    async def main() -> None:
        nonlocal shared_there
        stop = asyncio.Event()
        beat = asyncio.create_task(heartbeat.beat(stop))
        shared_there = other.get_session("shared")
        # Two sessions at once, and two agents on one session: their compare-and-swap collides,
        # so one of them backs off (awaiting) and catches up before it commits.
        await asyncio.gather(
            first.run_async("one"),
            second.run_async("two"),
            shared_here.run_async("from here"),
            shared_there.run_async("from there"),
        )
        stop.set()
        await beat

    asyncio.run(main())
    appends = [w for w in heartbeat.windows if w[0] == "append"]
    assert len(appends) >= 4, heartbeat.windows
    loop_thread = threading.main_thread().name
    for call, start, end, thread in heartbeat.windows:
        assert thread != loop_thread, f"{call} ran on the event loop's thread"
        assert end > start, f"the event loop stood still during {call} ({start} -> {end} ticks)"
    # Nothing was lost in the collision: both turns on the shared session are in one chain.
    texts = [m.text for m in Agent(provider="echo", session_storage=slow_store).get_session("shared").messages]
    assert sorted(texts[0::2]) == ["from here", "from there"]
