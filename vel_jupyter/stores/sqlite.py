"""SQLiteStore: sessions in one SQLite file, shared safely by the processes of one machine.

WAL mode lets readers work while a turn is written; writers take the lock up front
(``BEGIN IMMEDIATE``) and wait up to ``busy_timeout`` seconds for each other.

A store is bound to the file it opened. Each thread keeps a connection, and a connection
keeps the file it opened even when the path is deleted or another file is moved there — a
kernel would go on writing turns nobody can ever read. So every transaction first checks
that the path still names that file (one ``stat``) and fails with a StoreError saying what
happened otherwise, before anything is written.

Text that is not UTF-8 (written by another program) is read with U+FFFD in place of the bad
bytes, the rule ``formats.text`` applies to every message, instead of failing the whole read.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..core.tree import utcnow
from ..errors import StoreError
from ._sql import Migration, SQLStore, Tx
from .base import place_in_trees, store_error, summary_of

# Timestamps are UTC text in SQLite's own format, so that the SQLite form of guide B's
# cleanup (`WHERE updated_at < datetime('now', '-7 days')`) compares them correctly.
_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _create_sessions(tx: Tx) -> None:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS vel_sessions ("
        " id TEXT PRIMARY KEY, context TEXT NOT NULL,"
        " created_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),"
        " updated_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),"
        " expires_at TEXT)"
    )


def _create_messages(tx: Tx) -> None:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS vel_messages ("
        " id TEXT PRIMARY KEY,"
        " session_id TEXT NOT NULL REFERENCES vel_sessions(id) ON DELETE CASCADE,"
        " parent_id TEXT, role TEXT NOT NULL, content TEXT NOT NULL, usage TEXT,"
        " created_at TEXT NOT NULL)"
    )
    tx.execute("CREATE INDEX IF NOT EXISTS vel_messages_session ON vel_messages(session_id)")
    # Cascade even for connections that never ran PRAGMA foreign_keys=ON (the sqlite3
    # shell running guide B's cleanup DELETE, for instance).
    tx.execute(
        "CREATE TRIGGER IF NOT EXISTS vel_sessions_cascade AFTER DELETE ON vel_sessions "
        "BEGIN DELETE FROM vel_messages WHERE session_id = OLD.id; END"
    )


def _index_sessions(tx: Tx) -> None:
    tx.execute("CREATE INDEX IF NOT EXISTS vel_sessions_updated_at ON vel_sessions(updated_at)")
    tx.execute("CREATE INDEX IF NOT EXISTS vel_sessions_expires_at ON vel_sessions(expires_at)")


def _index_lineage(tx: Tx) -> None:
    # Saving or deleting a session looks up the forks that read its messages; most
    # sessions are not forks, and this index lets the lookup skip them.
    tx.execute(
        "CREATE INDEX IF NOT EXISTS vel_sessions_lineage_len ON vel_sessions(json_array_length(context, '$.lineage'))"
    )


def _messages_belong_to_trees(tx: Tx) -> None:
    """Format 2: a message row belongs to its conversation tree, not to the session that wrote it.

    Every family (a session and its forks, joined by lineage) becomes one tree; the rows any
    member owned move into it; the cascade from a session to "its" rows is replaced by a
    trigger that frees a tree's rows when its last session row goes.
    """
    tx.execute("ALTER TABLE vel_sessions ADD COLUMN tree_id TEXT")
    tx.execute("ALTER TABLE vel_sessions ADD COLUMN summary TEXT")  # the listing line (stores.base.summary_of)
    rows = [(sid, json.loads(context)) for sid, context in tx.all("SELECT id, context FROM vel_sessions")]
    found = tx.all("SELECT id, parent_id, session_id, usage FROM vel_messages")
    place_in_trees(
        rows, {mid: (parent, owner, json.loads(usage) if usage else None) for mid, parent, owner, usage in found}
    )
    for sid, header in rows:
        tx.execute(
            "UPDATE vel_sessions SET tree_id = ?, context = ?, summary = ? WHERE id = ?",
            (header["tree"], json.dumps(header), json.dumps(summary_of(header)), sid),
        )
    tx.execute("DROP TRIGGER IF EXISTS vel_sessions_cascade")
    tx.execute("DROP INDEX IF EXISTS vel_sessions_lineage_len")
    tx.execute(
        "CREATE TABLE vel_messages_v2 ("
        " tree_id TEXT NOT NULL, id TEXT NOT NULL, parent_id TEXT, role TEXT NOT NULL,"
        " content TEXT NOT NULL, usage TEXT, created_at TEXT NOT NULL, PRIMARY KEY (tree_id, id))"
    )
    # The writer, which the old row kept in its owner column when the message had none itself.
    tx.execute(
        "INSERT INTO vel_messages_v2 (tree_id, id, parent_id, role, content, usage, created_at)"
        " SELECT s.tree_id, m.id, m.parent_id, m.role,"
        " CASE WHEN json_type(m.content, '$.session_id') IS NULL"
        " THEN json_set(m.content, '$.session_id', m.session_id) ELSE m.content END,"
        " m.usage, m.created_at FROM vel_messages m JOIN vel_sessions s ON s.id = m.session_id"
    )
    tx.execute("DROP TABLE vel_messages")
    tx.execute("ALTER TABLE vel_messages_v2 RENAME TO vel_messages")
    tx.execute("CREATE INDEX vel_sessions_tree ON vel_sessions(tree_id)")
    # In the schema, not in our code, so that guide B's cleanup DELETE from a plain sqlite3
    # shell frees the messages too.
    for event, when in (
        ("DELETE", ""),
        ("UPDATE OF tree_id", "OLD.tree_id IS NOT NEW.tree_id AND "),
    ):
        name = "vel_trees_free_on_" + event.split()[0].lower()
        tx.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON vel_sessions "
            f"WHEN {when}NOT EXISTS (SELECT 1 FROM vel_sessions WHERE tree_id = OLD.tree_id) "
            "BEGIN DELETE FROM vel_messages WHERE tree_id = OLD.tree_id; END"
        )


MIGRATIONS: list[Migration] = [
    ("0001_create_sessions", _create_sessions),
    ("0002_create_messages", _create_messages),
    ("0003_index_sessions", _index_sessions),
    ("0004_index_lineage", _index_lineage),
    ("0005_messages_belong_to_trees", _messages_belong_to_trees),
]


class SQLiteStore(SQLStore):
    """Sessions in a SQLite file (``":memory:"`` is not supported: use MemoryStore)."""

    P = "?"
    TS = "?"
    name = "sqlite"

    def __init__(
        self,
        path: str | Path = "sessions.db",
        *,
        ttl: float | None = None,
        busy_timeout: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if str(path) in ("", ":memory:"):
            raise StoreError("SQLiteStore needs a file path (each connection would get its own ':memory:' database)")
        self.path = Path(path)
        self.ttl = ttl
        self.clock = clock
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._file: tuple[int, int] | None = None  # (st_dev, st_ino) of the file this store opened
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.migrate()
        except (sqlite3.Error, OSError) as exc:
            raise store_error(
                f"cannot open SQLite store at {self.path} ({exc}); check the path and permissions"
            ) from exc

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread: sqlite3 connections must not cross threads, and
        # the async path commits from the event loop's thread.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._file is not None:
                self._check_file()  # (connecting to a deleted path would create an empty file there)
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            conn.text_factory = _text
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            if self._file is None:
                found = os.stat(self.path)
                self._file = (found.st_dev, found.st_ino)
            self._local.conn = conn
        return conn

    def _check_file(self) -> None:
        """Fail, before anything is written, if the path no longer names the file this store opened."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            raise StoreError(
                f"the SQLite store file {self.path} was deleted while this process was using it, so nothing "
                "was written: restore the file, or open the store again (a new SQLiteStore for that path, "
                "or restart the kernel) to start an empty one"
            ) from None
        except OSError as exc:
            raise store_error(
                f"the SQLite store file {self.path} cannot be checked ({exc}); nothing was written"
            ) from exc
        if (found.st_dev, found.st_ino) != self._file:
            raise StoreError(
                f"the SQLite store file {self.path} was replaced by another file while this process was using "
                "it, so nothing was written: open the store again (a new SQLiteStore for that path, or restart "
                "the kernel) to use the file that is there now"
            )

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        conn = self._connection()
        self._check_file()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise store_error(f"SQLite store {self.path} is unavailable ({exc}); retry") from exc
        try:
            yield Tx(conn.execute, conn.executemany)
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):  # a query failed (a damaged or foreign file): one line
                raise store_error(
                    f"SQLite store {self.path} failed ({type(exc).__name__}: {exc}); nothing was written"
                ) from exc
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise store_error(
                    f"SQLite store {self.path} could not commit ({exc}); nothing was written, retry"
                ) from exc

    def migrations(self) -> list[Migration]:
        return MIGRATIONS

    def migrations_table_ddl(self) -> str:
        return (
            "CREATE TABLE IF NOT EXISTS vel_migrations (name TEXT PRIMARY KEY,"
            " applied_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))"
        )

    def ts_in(self, value: datetime | None) -> Any:
        if value is None:
            return None
        return value.astimezone(timezone.utc).strftime(_TS_FORMAT)

    def ts_out(self, value: Any) -> datetime | None:
        if value is None:
            return None
        # fromisoformat reads our format too, and is several times faster than strptime.
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)

    def json_pairs_of(self, key: str, column: str) -> str:
        return f"'[' || group_concat('[' || json_quote(CAST({key} AS TEXT)) || ',' || {column} || ']', ',') || ']'"

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _text(value: bytes) -> str:
    """A TEXT value: UTF-8, with U+FFFD for bytes that are not (another program wrote them)."""
    return value.decode("utf-8", "replace")
