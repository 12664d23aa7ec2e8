"""Store benchmark: what persisting a session costs per turn, per read and per fork, on every backend.

Run ``python benchmarks/bench_store.py`` from the repository root (``make bench`` does). PostgreSQL
and Redis run as private throwaway servers on loopback (``tests/support/services.py``, durability off);
SQLite is a file in a temporary directory (WAL, ``synchronous=NORMAL``). All of it is removed on
exit, Ctrl-C included. A backend that cannot run here is skipped with a note.

What is measured
----------------
Every built-in store (``MemoryStore``, ``SQLiteStore``, ``PostgresStore``, ``RedisStore``) is
measured next to a **naive** store on the same backend: a guide-A four-method ``SessionStore``
that keeps each session as one JSON document (a dict of ``json.dumps`` strings; a SQL table
``naive_sessions(id TEXT PRIMARY KEY, data TEXT|JSONB)`` with an upsert; Redis ``SET key json``).
Both are used as ``Agent(session_storage=...)``, so the engine itself decides how to write: the
built-in stores get one O(1) ``append()`` (compare-and-swap on the header revision) per turn, the
naive one gets ``save()`` of the whole session every turn.

1. **Turn write** at histories of 10 / 1,000 / 10,000 messages: one ``session.run(prompt)`` with
   the offline echo provider and a 20-message window (``ContextManager(max_history=20)``), so
   the engine and the echo model do the same small amount of work at every history size. The
   store's share is isolated by subtracting the median of the same turn on a store-less agent,
   measured interleaved with it. For a built-in store that share is the pre-turn header read
   (``read_header``) plus one ``append`` of the user and assistant messages; for the naive store
   it is one ``save()`` of the whole session. Sessions are prepared directly through the store
   (``store.save`` of a ``Session.to_dict()`` record), opened by a store-backed agent and given
   one untimed warm-up turn; then each of 10 sessions per size takes 10 timed turns (the naive
   store: 2 turns on 5 sessions at 10,000). The pattern is the same at every size because the
   first turns after a session is written can cost more (PostgreSQL), which would skew the
   ratio between sizes. A history grows by 20 messages meanwhile: 12-30 for "10", +2 % at
   1,000. Variants and sizes are interleaved turn by turn, in a shuffled order each round, so
   the drift of a shared machine hits them alike.
2. **Reads and forks** of a 10,000-message session: opening it with a fresh agent and reading
   ``session.messages[-20:]`` (what a 20-message window sends; it is a full load of the session,
   since that is the only read path sessions have), ``store.load(id)``, ``session.fork()``, then
   ``agent.delete_session()`` of each fork (delete is not a target, but it scans for forks), and
   ``store.list_sessions()`` once the store holds over 10,000 sessions (10,000 small two-message
   sessions written directly through the store before anything else is measured, so every
   measurement runs against a populated store).
3. **Verdict** against the targets: turn write at 10,000 messages ≤ 2 x at 10, for every built-in
   store; SQLite ≤ 1 ms, PostgreSQL and Redis ≤ 5 ms per turn write, at every history size.

How to read it
--------------
Times are medians in milliseconds (``n`` says how many samples). A turn write is a whole turn's
worth of store work (one header read and one two-message append), so checking it against the
"append" targets is the strict reading. Negative or tiny store costs are within noise of the
subtracted echo turn (about 0.1 ms). Targets are reported, never enforced: the exit status is 0.
"""

from __future__ import annotations

import contextlib
import gc
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any

from _report import command, environment, mark, table

from vel_jupyter import Agent, ContextManager, Message, Session
from vel_jupyter.core.tree import new_id
from vel_jupyter.stores import MemoryStore, PostgresStore, RedisStore, SessionStore, SQLiteStore, TurnStore

REPO_ROOT = Path(__file__).resolve().parent.parent

SYSTEM = "You are a terse assistant."
PROMPT = "Please summarise where we are in a couple of words."
WINDOW = 20
SEED = 20_000
HISTORIES = (10, 1_000, 10_000)
BIG = 10_000

# history -> (sessions prepared, timed turns on each); every session also takes one warm-up turn
BUILTIN_PLAN = {10: (10, 10), 1_000: (10, 10), 10_000: (10, 10)}
NAIVE_PLAN = {10: (10, 10), 1_000: (10, 10), 10_000: (5, 2)}

OPEN_RUNS = 7
LOAD_RUNS = 7
FORK_RUNS = {"builtin": 20, "naive": 5}
LIST_RUNS = 7
LIST_SESSIONS = 10_000

RATIO_TARGET = 2.0
ABSOLUTE_TARGET_MS = {"sqlite": 1.0, "postgres": 5.0, "redis": 5.0}
LISTING_TARGET_MS = {"sqlite": 50.0, "postgres": 100.0, "redis": 100.0}
"""``%chat list`` of over 10,000 stored sessions (headers only), per built-in store."""

Timed = Callable[[], int]


# -- the naive baseline: one JSON document per session, rewritten every turn ----------------------


class NaiveMemoryStore(SessionStore):
    """Guide A's custom store in its simplest form: a dict of JSON strings."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        self._data[session_id] = json.dumps(data)

    def load(self, session_id: str) -> dict[str, Any] | None:
        text = self._data.get(session_id)
        return None if text is None else json.loads(text)

    def delete(self, session_id: str) -> bool:
        return self._data.pop(session_id, None) is not None

    def list_sessions(self) -> list[str]:
        return sorted(self._data)


class NaiveSQLiteStore(SessionStore):
    """One row per session holding the whole JSON text; same file settings as SQLiteStore."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS naive_sessions (id TEXT PRIMARY KEY, data TEXT NOT NULL)")

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO naive_sessions (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            (session_id, json.dumps(data)),
        )

    def load(self, session_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT data FROM naive_sessions WHERE id = ?", (session_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def delete(self, session_id: str) -> bool:
        return self.conn.execute("DELETE FROM naive_sessions WHERE id = ?", (session_id,)).rowcount > 0

    def list_sessions(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT id FROM naive_sessions ORDER BY id")]

    def close(self) -> None:
        self.conn.close()


class NaivePostgresStore(SessionStore):
    """One JSONB row per session, upserted whole on every save (one autocommit connection)."""

    def __init__(self, dsn: str) -> None:
        import psycopg
        from psycopg.types.json import Jsonb

        self._jsonb = Jsonb
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("CREATE TABLE IF NOT EXISTS naive_sessions (id TEXT PRIMARY KEY, data JSONB NOT NULL)")

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO naive_sessions (id, data) VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            (session_id, self._jsonb(data)),
        )

    def load(self, session_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT data FROM naive_sessions WHERE id = %s", (session_id,)).fetchone()
        return None if row is None else row[0]

    def delete(self, session_id: str) -> bool:
        return self.conn.execute("DELETE FROM naive_sessions WHERE id = %s", (session_id,)).rowcount > 0

    def list_sessions(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT id FROM naive_sessions ORDER BY id")]

    def close(self) -> None:
        self.conn.close()


class NaiveRedisStore(SessionStore):
    """Guide A's Redis example: ``SET session:<id> <json>``, listed with ``KEYS`` (own database)."""

    PREFIX = "session:"

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        self.client.set(self.PREFIX + session_id, json.dumps(data))

    def load(self, session_id: str) -> dict[str, Any] | None:
        text = self.client.get(self.PREFIX + session_id)
        return None if text is None else json.loads(text)

    def delete(self, session_id: str) -> bool:
        return bool(self.client.delete(self.PREFIX + session_id))

    def list_sessions(self) -> list[str]:
        return sorted(key.decode()[len(self.PREFIX) :] for key in self.client.keys(self.PREFIX + "*"))

    def close(self) -> None:
        self.client.close()


# -- backends --------------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    builtin: SessionStore
    naive: SessionStore
    detail: str


class Skipped(Exception):
    """A backend that cannot run here; the message says why."""


def close_quietly(store: Any) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


def open_servers_module() -> Any:
    """``tests.support.services`` (the test harness' throwaway servers), importable from the repository root."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import tests.support.services as servers

    return servers


def memory_backend(stack: ExitStack, tmp: Path) -> Backend:
    return Backend("memory", MemoryStore(), NaiveMemoryStore(), "in-process dicts")


def sqlite_backend(stack: ExitStack, tmp: Path) -> Backend:
    builtin = SQLiteStore(tmp / "builtin.db")
    stack.callback(builtin.close)
    naive = NaiveSQLiteStore(tmp / "naive.db")
    stack.callback(naive.close)
    return Backend("sqlite", builtin, naive, f"SQLite {sqlite3.sqlite_version}, file in {tmp}, WAL")


def postgres_backend(stack: ExitStack, tmp: Path) -> Backend:
    servers = open_servers_module()
    try:
        server = servers.start_postgres(tmp)
    except servers.ServerUnavailable as exc:
        raise Skipped(str(exc).splitlines()[0]) from None
    stack.callback(server.close)
    builtin = PostgresStore(server.dsn)
    stack.callback(builtin.close)
    naive = NaivePostgresStore(server.dsn)
    stack.callback(naive.close)
    server_version = naive.conn.execute("SHOW server_version").fetchone()[0]
    return Backend("postgres", builtin, naive, f"PostgreSQL {server_version} on loopback, fsync off")


def redis_backend(stack: ExitStack, tmp: Path) -> Backend:
    servers = open_servers_module()
    try:
        server = servers.start_redis(tmp)
    except servers.ServerUnavailable as exc:
        raise Skipped(str(exc).splitlines()[0]) from None
    stack.callback(server.close)
    try:
        builtin = RedisStore(server.url)
    except (NotImplementedError, ImportError) as exc:
        raise Skipped(f"RedisStore cannot be used yet ({type(exc).__name__}: {exc})") from None
    stack.callback(close_quietly, builtin)
    naive = NaiveRedisStore(server.url[: -len("/0")] + "/1")  # its own database: KEYS sees only its keys
    stack.callback(naive.close)
    server_version = naive.client.info("server")["redis_version"]
    return Backend("redis", builtin, naive, f"Redis {server_version} on loopback, no persistence")


BACKENDS: dict[str, Callable[[ExitStack, Path], Backend]] = {
    "memory": memory_backend,
    "sqlite": sqlite_backend,
    "postgres": postgres_backend,
    "redis": redis_backend,
}


# -- prepared sessions ------------------------------------------------------------------------------


def history(size: int) -> list[Message]:
    """``size`` alternating messages of chat-like length (about 90 and 330 characters)."""
    out = []
    for i in range(size):
        if i % 2 == 0:
            out.append(Message.user(f"Question {i}: could you look at item {i} and tell me whether it needs work?"))
        else:
            out.append(
                Message.assistant(
                    f"Answer {i}: item {i} is in good shape. The tests pass, the documentation matches the "
                    "behaviour, and nobody has reported a problem with it this week. I would leave it alone "
                    "for now and revisit it when the next release is planned, unless something changes."
                )
            )
    return out


def template(size: int) -> dict[str, Any]:
    """A ``Session.to_dict()`` record with ``size`` messages, built in memory."""
    session = Agent(provider="echo").session(f"template-{size}", system=SYSTEM, messages=history(size))
    return session.to_dict()


def relabel(record: dict[str, Any], session_id: str) -> dict[str, Any]:
    """The same conversation under another session id, with fresh message ids (ids are global)."""
    ids = {m["id"]: new_id() for m in record["messages"]}
    messages = [
        {**m, "id": ids[m["id"]], "parent_id": ids.get(m["parent_id"]), "session_id": session_id}
        for m in record["messages"]
    ]
    return {
        **record,
        "session_id": session_id,
        "tree": new_id(),  # its own conversation tree, as a new session would have
        "head": ids.get(record["head"]),
        "heads": [ids.get(h) for h in record["heads"]],
        "messages": messages,
    }


def windowed_agent(store: SessionStore | None) -> Agent:
    """An echo agent that sends a 20-message window: the same engine work at any history size."""
    storage: Any = store if store is not None else "memory"
    return Agent(provider="echo", session_storage=storage, context_manager=ContextManager(max_history=WINDOW))


def prepare(agent: Agent, record: dict[str, Any], session_id: str) -> Session:
    """Write ``record`` through the agent's store (or straight into it when it has none); open it."""
    data = relabel(record, session_id)
    if agent.store is None:
        return Session.from_dict(data, agent)
    agent.store.save(session_id, data)
    return agent.session(session_id=session_id)


def populate(store: SessionStore, count: int) -> None:
    """``count`` small two-message sessions, written directly: one ``append`` creating each
    (built-in stores: O(1), whereas their ``save`` first looks for forks to hand messages to),
    or one ``save`` (naive stores)."""
    small = template(2)
    for index in range(count):
        session_id = f"user-{index:05d}"
        record = relabel(small, session_id)
        if isinstance(store, TurnStore):
            header = {key: value for key, value in record.items() if key != "messages"}
            store.append(session_id, record["messages"], header, None)
        else:
            store.save(session_id, record)


# -- measurements ---------------------------------------------------------------------------------------


def turn(session: Session) -> int:
    start = time.perf_counter_ns()
    session.run(PROMPT)
    return time.perf_counter_ns() - start


def interleave(queues: dict[str, list[Timed]]) -> dict[str, list[int]]:
    """Run the queues in rounds, one call of each per round in a shuffled order; ns per queue.

    Shuffled, not rotated: with a fixed cyclic order every variant always follows the same
    neighbour, and what that neighbour leaves behind (another server connection just used,
    caches evicted) would bias one variant systematically.
    """
    samples: dict[str, list[int]] = {name: [] for name in queues}
    names = list(queues)
    order = random.Random(SEED)
    gc.collect()
    for round_ in range(max(len(q) for q in queues.values())):
        order.shuffle(names)
        for name in names:
            if round_ < len(queues[name]):
                samples[name].append(queues[name][round_]())
    return samples


def turn_queues(
    label: str, agent: Agent, plan: dict[int, tuple[int, int]], last: list[Session]
) -> dict[str, list[Timed]]:
    """Prepared sessions for every history size, each warmed up by one turn; their timed turns.

    The last session of each size is appended to ``last``, to check afterwards that its turns
    really reached the store.
    """
    queues: dict[str, list[Timed]] = {}
    for size, (sessions, turns) in plan.items():
        record = template(size)
        queue: list[Timed] = []
        for index in range(sessions):
            session = prepare(agent, record, f"{label}-turns-{size}-{index}")
            session.run(PROMPT)  # warm-up: the first turn after a load walks the path once
            queue += [partial(turn, session)] * turns
        queues[f"{label}@{size}"] = queue
        last.append(session)
    return queues


def check_persisted(store: SessionStore, sessions: list[Session]) -> None:
    """A fresh agent must read back every message the timed turns wrote, or they measured nothing."""
    for session in sessions:
        stored = windowed_agent(store).session(session_id=session.session_id)
        if stored.head != session.head or len(stored.messages) != len(session.messages):
            raise RuntimeError(f"{session.session_id}: the store does not hold the turns that were timed")


def timed(call: Callable[[], Any], check: Callable[[Any], bool]) -> int:
    start = time.perf_counter_ns()
    value = call()
    elapsed = time.perf_counter_ns() - start
    if not check(value):
        raise RuntimeError(f"unexpected result {value!r:.100}: the measurement is invalid")
    return elapsed


def measure_open(store: SessionStore, session_id: str) -> list[int]:
    """A fresh agent opens the session and reads the last 20 messages (a full load)."""

    def open_last() -> list[Message]:
        return windowed_agent(store).session(session_id=session_id).messages[-WINDOW:]

    return [timed(open_last, lambda last: len(last) == WINDOW) for _ in range(OPEN_RUNS)]


def measure_load(store: SessionStore, session_id: str) -> list[int]:
    return [timed(lambda: store.load(session_id), lambda data: len(data["messages"]) == BIG) for _ in range(LOAD_RUNS)]


def measure_fork(store: SessionStore, session_id: str, runs: int) -> tuple[list[int], list[int]]:
    """``session.fork()`` of the open session, then ``agent.delete_session()`` of each fork.

    Checks that a fresh agent reads a fork back with the whole history, and that deleting the
    forks leaves their origin intact.
    """
    agent = windowed_agent(store)
    source = agent.session(session_id=session_id)
    fork_ids = [f"{session_id}-fork-{index}" for index in range(runs + 1)]
    source.fork(session_id=fork_ids[0])  # warm-up
    forks = [timed(lambda f=f: source.fork(session_id=f), lambda fork: fork.head == source.head) for f in fork_ids[1:]]
    reread = windowed_agent(store).session(session_id=fork_ids[-1])
    if len(reread.messages) != BIG:
        raise RuntimeError(f"the fork reads back {len(reread.messages)} messages, expected {BIG}")
    agent.delete_session(fork_ids[0])
    deletes = [timed(lambda f=f: agent.delete_session(f), bool) for f in fork_ids[1:]]
    if len(windowed_agent(store).session(session_id=session_id).messages) != BIG:
        raise RuntimeError(f"deleting the forks of {session_id} changed it")
    return forks, deletes


def measure_list(store: SessionStore) -> tuple[list[int], int]:
    count = len(store.list_sessions())  # warm-up
    samples = [timed(store.list_sessions, lambda ids: len(ids) == count) for _ in range(LIST_RUNS)]
    return samples, count


def measure_summaries(store: SessionStore, count: int) -> list[int]:
    """What ``%chat list`` does: a fresh agent's ``session_summaries()`` (headers only, no messages)."""

    def listing() -> Any:
        return Agent(provider="echo", session_storage=store).session_summaries()

    return [timed(listing, lambda lines: len(lines) == count) for _ in range(LIST_RUNS)]


# -- results ------------------------------------------------------------------------------------------


def median_ms(samples: list[int]) -> float:
    return statistics.median(samples) / 1e6


@dataclass
class Variant:
    """The measurements of one store (built-in or naive) on one backend."""

    backend: str
    kind: str  # "builtin" or "naive"
    store_type: str
    turn_ms: dict[int, float] = field(default_factory=dict)
    turns: dict[int, int] = field(default_factory=dict)
    open_ms: float = 0.0
    load_ms: float = 0.0
    fork_ms: float = 0.0
    delete_ms: float = 0.0
    forks: int = 0
    list_ms: float = 0.0
    summaries_ms: float | None = None
    listed: int = 0

    @property
    def label(self) -> str:
        return f"{self.backend} {self.store_type}" if self.kind == "builtin" else f"{self.backend} naive save()"

    @property
    def ratio(self) -> float:
        """Turn write at 10,000 over at 10 (infinite if the cost at 10 is lost in the noise)."""
        small = self.turn_ms[HISTORIES[0]]
        return self.turn_ms[BIG] / small if small > 0 else float("inf")


@dataclass
class BackendResult:
    backend: Backend
    baseline_ms: dict[int, float]
    variants: list[Variant]
    record_bytes: int
    seconds: float


def bench_backend(backend: Backend) -> BackendResult:
    started = time.perf_counter()
    stores = {"builtin": backend.builtin, "naive": backend.naive}
    for store in stores.values():
        populate(store, LIST_SESSIONS)
    variants = {
        kind: Variant(backend.name, kind, type(store).__name__ if kind == "builtin" else "naive")
        for kind, store in stores.items()
    }
    timed_sessions: dict[str, list[Session]] = {"echo-only": [], **{kind: [] for kind in stores}}
    queues = turn_queues("echo-only", windowed_agent(None), BUILTIN_PLAN, timed_sessions["echo-only"])
    queues |= turn_queues("builtin", windowed_agent(backend.builtin), BUILTIN_PLAN, timed_sessions["builtin"])
    queues |= turn_queues("naive", windowed_agent(backend.naive), NAIVE_PLAN, timed_sessions["naive"])
    samples = interleave(queues)
    for kind, store in stores.items():
        check_persisted(store, timed_sessions[kind])
    baseline = {size: median_ms(samples[f"echo-only@{size}"]) for size in HISTORIES}
    for kind, variant in variants.items():
        for size in HISTORIES:
            variant.turn_ms[size] = median_ms(samples[f"{kind}@{size}"]) - baseline[size]
            variant.turns[size] = len(samples[f"{kind}@{size}"])

    big = template(BIG)
    for kind, store in stores.items():
        variant = variants[kind]
        session_id = f"{kind}-read-{BIG}"
        prepare(windowed_agent(store), big, session_id)
        variant.open_ms = median_ms(measure_open(store, session_id))
        variant.load_ms = median_ms(measure_load(store, session_id))
        variant.forks = FORK_RUNS[kind]
        fork_samples, delete_samples = measure_fork(store, session_id, variant.forks)
        variant.fork_ms, variant.delete_ms = median_ms(fork_samples), median_ms(delete_samples)
        list_samples, variant.listed = measure_list(store)
        variant.list_ms = median_ms(list_samples)
        if kind == "builtin":  # a four-method store can only list by loading every session
            variant.summaries_ms = median_ms(measure_summaries(store, variant.listed))
    return BackendResult(
        backend, baseline, list(variants.values()), len(json.dumps(big)), time.perf_counter() - started
    )


# -- report --------------------------------------------------------------------------------------------


def fmt_ms(value: float) -> str:
    if abs(value) < 10:
        return f"{value:.3f}"
    return f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"


def all_variants(results: list[BackendResult]) -> Iterator[Variant]:
    return chain.from_iterable(r.variants for r in results)


def report_turns(results: list[BackendResult]) -> None:
    print(
        f"### 1. Turn write: store cost of one `session.run(prompt)` (median ms)\n\n"
        f"Echo provider, {WINDOW}-message window; cost = median turn on the store-backed agent minus the "
        "median of the same turn on a store-less agent (interleaved). Built-in: one `read_header` + one "
        "`append` of 2 messages per turn; naive: one `save()` of the whole session per turn. "
        "Sessions grow by 2 messages a turn: 12-30, 1,002-1,020 and 10,002-10,020 messages.\n"
    )
    sizes = [f"@{size:,}" for size in HISTORIES]
    rows = [
        [
            v.label,
            *(fmt_ms(v.turn_ms[size]) for size in HISTORIES),
            f"{v.ratio:.2f}x",
            "/".join(str(v.turns[size]) for size in HISTORIES),
        ]
        for v in all_variants(results)
    ]
    print(table(["store", *sizes, f"@{BIG:,} / @{HISTORIES[0]}", "n"], rows))
    echo = "; ".join(f"{r.backend.name} {'/'.join(fmt_ms(r.baseline_ms[size]) for size in HISTORIES)}" for r in results)
    print(f"\nSubtracted echo-only turn (no store), median ms {' / '.join(sizes)}: {echo}.\n")


def report_reads(results: list[BackendResult]) -> None:
    size = next((r.record_bytes for r in results), 0)
    print(
        f"### 2. Reads and forks of a {BIG:,}-message session ({size / 1e6:.1f} MB as JSON; median ms)\n\n"
        f"`open + last {WINDOW}`: a fresh agent opens the session and reads `session.messages[-{WINDOW}:]`, "
        "which loads the whole session (there is no partial read path). "
        f"`list_sessions()` runs with {LIST_SESSIONS:,} small sessions plus the benchmark's own in the store.\n"
    )
    rows = [
        [
            v.label,
            fmt_ms(v.open_ms),
            fmt_ms(v.load_ms),
            f"{fmt_ms(v.fork_ms)} (n={v.forks})",
            fmt_ms(v.delete_ms),
            f"{fmt_ms(v.list_ms)} ({v.listed:,} ids)",
            "—" if v.summaries_ms is None else fmt_ms(v.summaries_ms),
        ]
        for v in all_variants(results)
    ]
    header = [
        "store",
        f"open + last {WINDOW}",
        "store.load()",
        "fork()",
        "delete a fork",
        "list_sessions()",
        "`%chat list` (summaries)",
    ]
    print(table(header, rows))
    print(
        f"\nn = {OPEN_RUNS} opens, {LOAD_RUNS} loads, {LIST_RUNS} lists per store; `delete a fork` is "
        "`agent.delete_session()` of each fork just made (as many as forks), with the store still holding "
        f"over {LIST_SESSIONS:,} sessions.\n"
    )


def report_verdict(results: list[BackendResult]) -> None:
    print("### 3. Verdict (built-in stores)\n")
    rows = []
    for v in all_variants(results):
        if v.kind != "builtin":
            continue
        flat = v.ratio <= RATIO_TARGET
        rows.append(
            [
                f"{v.backend}: turn write @{BIG:,} ≤ {RATIO_TARGET:g} x @{HISTORIES[0]}",
                f"{fmt_ms(v.turn_ms[BIG])} vs {fmt_ms(v.turn_ms[HISTORIES[0]])} ms ({v.ratio:.2f}x)",
                mark(flat),
            ]
        )
        limit = ABSOLUTE_TARGET_MS.get(v.backend)
        if limit is not None:
            worst = max(v.turn_ms.values())
            rows.append(
                [
                    f"{v.backend}: turn write ≤ {limit:g} ms at every size",
                    f"worst {fmt_ms(worst)} ms",
                    mark(worst <= limit),
                ]
            )
        listing = LISTING_TARGET_MS.get(v.backend)
        if listing is not None and v.summaries_ms is not None:
            rows.append(
                [
                    f"{v.backend}: `%chat list` of {v.listed:,} sessions ≤ {listing:g} ms",
                    f"{fmt_ms(v.summaries_ms)} ms",
                    mark(v.summaries_ms <= listing),
                ]
            )
    print(table(["target", "measured", "status"], rows))
    print()


def main() -> None:
    print("## vel_jupyter store benchmark\n")
    print(f"- Environment: {environment(('psycopg', 'psycopg'), ('redis-py', 'redis'))}")
    print(f"- Command: `{command()}`")
    started = time.perf_counter()
    results: list[BackendResult] = []
    notes: list[str] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vel-bench-store-")))
        for name, open_backend in BACKENDS.items():
            with ExitStack() as backend_stack:
                try:
                    backend = open_backend(backend_stack, tmp)
                    results.append(bench_backend(backend))
                except Skipped as exc:
                    notes.append(f"{name}: skipped: {exc}")
                    continue
                except Exception as exc:  # one broken backend must not hide the others' numbers
                    traceback.print_exc()
                    notes.append(f"{name}: failed: {type(exc).__name__}: {exc}")
                    continue
                print(f"- {name}: {backend.detail}; measured in {results[-1].seconds:.0f} s", flush=True)
    print()
    for note in notes:
        print(f"> **Note** — {note}\n")
    if results:
        report_turns(results)
        report_reads(results)
        report_verdict(results)
    print(f"_Measured in {time.perf_counter() - started:.0f} s. Targets are informational; the exit status is 0._")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped and temporary files removed", file=sys.stderr)
        sys.exit(130)
