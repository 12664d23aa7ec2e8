"""What SQLite and PostgreSQL stores share: the schema's shape, migrations, and every query.

Schema (guide B's table, plus one row per message)::

    vel_sessions(id TEXT PRIMARY KEY, context JSON NOT NULL, created_at, updated_at, expires_at)
    vel_messages(id TEXT PRIMARY KEY, session_id TEXT REFERENCES vel_sessions ON DELETE CASCADE,
                 parent_id TEXT, role TEXT, content JSON, usage JSON, created_at)
    vel_migrations(name TEXT PRIMARY KEY, applied_at)

``context`` holds the session header (system prompt, heads, settings, fork origin,
revision). A turn inserts its message rows and rewrites the header in one transaction,
after checking the header's revision (compare-and-swap): O(1) in history length.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ..core.tree import utcnow, validate_session_id
from ..errors import StoreError
from .base import HeadConflict, SessionStore, expiry, join_record, rehomed_lineage, split_record

Row = Sequence[Any]
Migration = tuple[str, Callable[[Any], None]]

_MESSAGE_COLUMNS = "id, session_id, parent_id, role, content, usage, created_at"
_ROW_KEYS = ("id", "parent_id", "role", "created_at", "meta")


class Tx:
    """One transaction: ``execute`` with the store's placeholder style, fetching helpers."""

    def __init__(
        self, execute: Callable[[str, Sequence[Any]], Any], executemany: Callable[[str, list[Sequence[Any]]], Any]
    ) -> None:
        self._execute = execute
        self._executemany = executemany

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._execute(sql, params)

    def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        if rows:
            self._executemany(sql, rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows: list[Row] = self._execute(sql, params).fetchall()
        return rows


class SQLStore(SessionStore):
    """The shared implementation; subclasses supply the connection and dialect details."""

    P = "%s"  # placeholder
    TS = "%s"  # a timestamp placeholder whose type the server cannot infer (e.g. a bare NULL)
    name = "sql"
    ttl: float | None = None
    clock: Callable[[], datetime] = staticmethod(utcnow)

    # -- dialect hooks ------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def json_in(self, value: Any) -> Any:
        return json.dumps(value)

    def json_out(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, (str, bytes)) else value

    def ts_in(self, value: datetime | None) -> Any:
        return value

    def ts_out(self, value: Any) -> datetime | None:
        return value

    def migrations(self) -> list[Migration]:
        raise NotImplementedError

    def where_in(self, column: str, values: list[str]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join([self.P] * len(values))})", list(values)

    def lineage_contains(self) -> str:
        """SQL that is true when ``context``'s lineage contains the parameter."""
        raise NotImplementedError

    def lock_suffix(self) -> str:
        return ""

    # -- migrations ------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply the migrations this database has not seen; returns their names."""
        applied: list[str] = []
        with self.transaction() as tx:
            tx.execute(self.migrations_table_ddl())
            done = {row[0] for row in tx.all("SELECT name FROM vel_migrations")}
            for name, apply in self.migrations():
                if name not in done:
                    apply(tx)
                    tx.execute(f"INSERT INTO vel_migrations (name) VALUES ({self.P})", (name,))
                    applied.append(name)
        return applied

    def migrations_table_ddl(self) -> str:
        raise NotImplementedError

    # -- rows ------------------------------------------------------------------------------------

    def _message_row(self, owner: str, message: dict[str, Any]) -> tuple[Any, ...]:
        content = {k: v for k, v in message.items() if k not in _ROW_KEYS}
        created = datetime.fromisoformat(message["created_at"])
        return (
            message["id"],
            owner,
            message.get("parent_id"),
            message["role"],
            self.json_in(content),
            self.json_in(message["meta"]) if message.get("meta") else None,
            self.ts_in(created),
        )

    def _message_dict(self, row: Row) -> dict[str, Any]:
        message_id, owner, parent_id, role, content, usage, created_at = row
        data: dict[str, Any] = self.json_out(content)
        data.setdefault("session_id", owner)
        data.update(id=message_id, parent_id=parent_id, role=role)
        created = self.ts_out(created_at)
        data["created_at"] = created.isoformat() if created else None
        if usage is not None:
            data["meta"] = self.json_out(usage)
        return data

    def _header_of(self, session_id: str, context: Any) -> dict[str, Any]:
        header = self.json_out(context)
        if not isinstance(header, dict) or header.get("kind") != "vel_jupyter.session":
            raise StoreError(
                f"session {session_id!r}: the vel_sessions row is not a vel_jupyter session "
                "(foreign data, perhaps from another tool sharing the table); rename or delete it"
            )
        return header

    # -- the four-method contract ------------------------------------------------------------

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        validate_session_id(session_id)
        header, messages = split_record(session_id, data)
        header.setdefault("kind", "vel_jupyter.session")
        header.setdefault("version", 1)
        with self.transaction() as tx:
            self._rehome_for_forks(tx, session_id)  # replacing never takes messages a fork reads
            tx.execute(f"DELETE FROM vel_messages WHERE session_id = {self.P}", (session_id,))
            self._upsert_session(tx, session_id, header, exists=None)
            self._insert_messages(tx, session_id, messages)

    def load(self, session_id: str) -> dict[str, Any] | None:
        validate_session_id(session_id)
        with self.transaction() as tx:
            header = self._read_header(tx, session_id)
            if header is None:
                return None
            families = [session_id, *(header.get("lineage") or [])]
            clause, params = self.where_in("session_id", families)
            rows = tx.all(f"SELECT {_MESSAGE_COLUMNS} FROM vel_messages WHERE {clause}", params)
            messages = [self._message_dict(r) for r in rows]

            def fetch(ids: list[str]) -> list[dict[str, Any]]:
                return self._read_messages(tx, ids)

            return join_record(header, messages, fetch)

    def delete(self, session_id: str) -> bool:
        validate_session_id(session_id)
        with self.transaction() as tx:
            self._rehome_for_forks(tx, session_id)
            cursor = tx.execute(f"DELETE FROM vel_sessions WHERE id = {self.P}", (session_id,))
            return bool(cursor.rowcount)

    def list_sessions(self) -> list[str]:
        now = self.ts_in(self.clock())
        with self.transaction() as tx:
            rows = tx.all(
                f"SELECT id FROM vel_sessions WHERE expires_at IS NULL OR expires_at > {self.P} ORDER BY id", (now,)
            )
        return [r[0] for r in rows]

    # -- incremental writes (TurnStore) -------------------------------------------------------------

    def append(
        self, session_id: str, messages: list[dict[str, Any]], header: dict[str, Any], expected_rev: int | None
    ) -> None:
        validate_session_id(session_id)
        with self.transaction() as tx:
            row = tx.one(
                f"SELECT context, expires_at FROM vel_sessions WHERE id = {self.P}{self.lock_suffix()}", (session_id,)
            )
            live = row is not None and not self._is_expired(row[1])
            found: int | None = self._header_of(session_id, row[0]).get("rev", 0) if live and row else None
            if found != expected_rev:
                raise HeadConflict(session_id, expected_rev, found)
            if row is not None and not live:  # an expired leftover: the id is free again
                self._rehome_for_forks(tx, session_id)
                tx.execute(f"DELETE FROM vel_sessions WHERE id = {self.P}", (session_id,))
                row = None
            self._upsert_session(tx, session_id, header, exists=row is not None)
            self._insert_messages(tx, session_id, messages)

    def read_header(self, session_id: str) -> dict[str, Any] | None:
        with self.transaction() as tx:
            return self._read_header(tx, session_id)

    def read_messages(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        with self.transaction() as tx:
            return self._read_messages(tx, list(ids))

    # -- expiry ----------------------------------------------------------------------------------------

    def purge_expired(self) -> int:
        now = self.ts_in(self.clock())
        with self.transaction() as tx:
            rows = tx.all(
                f"SELECT id FROM vel_sessions WHERE expires_at IS NOT NULL AND expires_at <= {self.P}", (now,)
            )
            for (sid,) in rows:
                self._rehome_for_forks(tx, sid)
                tx.execute(f"DELETE FROM vel_sessions WHERE id = {self.P}", (sid,))
        return len(rows)

    # -- internals --------------------------------------------------------------------------------------

    def _is_expired(self, expires_at: Any) -> bool:
        when = self.ts_out(expires_at)
        return when is not None and when <= self.clock()

    def _read_header(self, tx: Tx, session_id: str) -> dict[str, Any] | None:
        row = tx.one(f"SELECT context, expires_at FROM vel_sessions WHERE id = {self.P}", (session_id,))
        if row is None or self._is_expired(row[1]):
            return None
        return self._header_of(session_id, row[0])

    def _read_messages(self, tx: Tx, ids: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), 500):
            clause, params = self.where_in("id", ids[start : start + 500])
            rows = tx.all(f"SELECT {_MESSAGE_COLUMNS} FROM vel_messages WHERE {clause}", params)
            out.extend(self._message_dict(r) for r in rows)
        return out

    def _upsert_session(self, tx: Tx, session_id: str, header: dict[str, Any], *, exists: bool | None) -> None:
        now = self.clock()
        expires = expiry(now, header, self.ttl)
        created = datetime.fromisoformat(header["created_at"]) if header.get("created_at") else now
        P = self.P
        values = (self.json_in(header), self.ts_in(now), self.ts_in(expires))
        if exists:
            tx.execute(
                f"UPDATE vel_sessions SET context = {P}, updated_at = {P}, expires_at = {P} WHERE id = {P}",
                (*values, session_id),
            )
        else:
            cursor = tx.execute(
                f"INSERT INTO vel_sessions (id, context, created_at, updated_at, expires_at) "
                f"VALUES ({P}, {P}, {P}, {P}, {P}) ON CONFLICT (id) DO "
                + ("NOTHING" if exists is False else "UPDATE SET context = excluded.context, "
                   "updated_at = excluded.updated_at, expires_at = excluded.expires_at"),
                (session_id, values[0], self.ts_in(created), values[1], values[2]),
            )  # fmt: skip
            if exists is False and cursor.rowcount == 0:
                raise HeadConflict(session_id, None, -1)  # created concurrently by someone else
        self._keep_origins_alive(tx, header, now, expires)

    def _keep_origins_alive(self, tx: Tx, header: dict[str, Any], now: datetime, expires: datetime | None) -> None:
        """A fork's write counts as activity of the sessions it reads messages from.

        Guide B's cleanup SQL (``DELETE ... WHERE updated_at < ...``) and TTLs therefore
        never remove the origin of a fork that is still in use.
        """
        lineage = header.get("lineage") or []
        if not lineage:
            return
        clause, params = self.where_in("id", lineage)
        T = self.TS
        tx.execute(
            f"UPDATE vel_sessions SET updated_at = CASE WHEN updated_at < {T} THEN {T} ELSE updated_at END, "
            f"expires_at = CASE WHEN expires_at IS NULL OR {T} IS NULL THEN NULL "
            f"WHEN expires_at < {T} THEN {T} ELSE expires_at END WHERE {clause}",
            (self.ts_in(now), self.ts_in(now), self.ts_in(expires), self.ts_in(expires), self.ts_in(expires), *params),
        )

    def _insert_messages(self, tx: Tx, owner: str, messages: list[dict[str, Any]]) -> None:
        P = self.P
        tx.executemany(
            f"INSERT INTO vel_messages ({_MESSAGE_COLUMNS}) VALUES ({P}, {P}, {P}, {P}, {P}, {P}, {P}) "
            "ON CONFLICT (id) DO NOTHING",
            [self._message_row(owner, m) for m in messages],
        )

    def _rehome_for_forks(self, tx: Tx, session_id: str) -> None:
        """Before a session is deleted, its messages move to the first fork that reads them."""
        rows = tx.all(f"SELECT id, context FROM vel_sessions WHERE {self.lineage_contains()}", (session_id,))
        if not rows:
            return
        rows.sort(key=lambda row: str(row[0]))  # Python's order, whatever the database collation
        heir = rows[0][0]
        P = self.P
        tx.execute(f"UPDATE vel_messages SET session_id = {P} WHERE session_id = {P}", (heir, session_id))
        for dependent, context in rows:
            header = self.json_out(context)
            header["lineage"] = rehomed_lineage(list(header.get("lineage") or []), session_id, heir, dependent)
            tx.execute(f"UPDATE vel_sessions SET context = {P} WHERE id = {P}", (self.json_in(header), dependent))
