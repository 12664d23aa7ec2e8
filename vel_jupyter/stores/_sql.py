"""What SQLite and PostgreSQL stores share: the schema's shape, migrations, and every query.

Schema (guide B's table, plus one row per message of each conversation tree)::

    vel_sessions(id TEXT PRIMARY KEY, context JSON NOT NULL, created_at, updated_at, expires_at,
                 tree_id TEXT)
    vel_messages(tree_id TEXT, id TEXT, parent_id TEXT, role TEXT, content JSON, usage JSON,
                 created_at, PRIMARY KEY (tree_id, id))
    vel_migrations(name TEXT PRIMARY KEY, applied_at)

``context`` holds the session header (system prompt, heads, settings, fork origin,
revision). A session and its forks share a tree; messages belong to the tree, not to the
session that wrote them, so deleting or re-saving a session never removes a message another
session reads. A trigger deletes a tree's messages when its last session row goes — also for
guide B's cleanup SQL run from any client. A turn inserts its message rows and rewrites the
header in one transaction, after checking the header's revision (compare-and-swap): O(1) in
history length.

Every row read back is data from outside (``base.stored_header``, ``base.summary_line``): JSON
columns are read as text and decoded here, so bad JSON or JSON nested past the decoder's
limits is one SessionDataError line naming the session, as is any malformed field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ..core.tree import utcnow, validate_session_id
from ..errors import SessionDataError, StoreError
from ..formats import load_json
from ..formats.kinds import SESSION_KIND
from .base import (
    HeadConflict,
    SessionStore,
    damaged,
    expiry,
    header_heads,
    join_record,
    outside_parents,
    split_record,
    stored_header,
    summary_line,
    summary_of,
    summary_pairs,
    tree_of,
)

Row = Sequence[Any]
Migration = tuple[str, Callable[[Any], None]]

_MESSAGE_COLUMNS = "tree_id, id, parent_id, role, content, usage, created_at"  # (the insert's)
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

    def json_out(self, value: Any, where: str) -> Any:
        """A JSON column's value, read as text (``json_text``): every failure is one SessionDataError line."""
        return load_json(value, where) if isinstance(value, (str, bytes)) else value

    def json_text(self, column: str) -> str:
        """SQL reading a JSON column as text, which ``json_out`` decodes."""
        return column

    def ts_in(self, value: datetime | None) -> Any:
        return value

    def ts_out(self, value: Any) -> datetime | None:
        return value

    def migrations(self) -> list[Migration]:
        raise NotImplementedError

    def where_in(self, column: str, values: list[str]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join([self.P] * len(values))})", list(values)

    def lock_tree(self, tx: Tx, tree: str) -> None:
        """Serialise writers of one tree (SQLite's BEGIN IMMEDIATE already serialises all)."""

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

    def _message_row(self, tree: str, writer: str, message: dict[str, Any]) -> tuple[Any, ...]:
        content = {k: v for k, v in message.items() if k not in _ROW_KEYS}
        content.setdefault("session_id", writer)
        created = datetime.fromisoformat(message["created_at"])
        return (
            tree,
            message["id"],
            message.get("parent_id"),
            message["role"],
            self.json_in(content),
            self.json_in(message["meta"]) if message.get("meta") else None,
            self.ts_in(created),
        )

    def _json(self, value: Any, where: str, session_id: str | None) -> Any:
        try:
            return self.json_out(value, where)
        except SessionDataError as exc:
            raise damaged(exc, session_id) from None

    def message_columns(self) -> str:
        """The select list of a message row (``_message_dict`` reads it)."""
        return f"tree_id, id, parent_id, role, {self.json_text('content')}, {self.json_text('usage')}, created_at"

    def _message_dict(self, row: Row, session_id: str | None) -> dict[str, Any]:
        # The common case costs what it did before rows were checked: one decode per column; the
        # error text naming the session and the message is built only when a row fails.
        tree, message_id, parent_id, role, content, usage, created_at = row
        try:
            data = json.loads(content) if isinstance(content, (str, bytes)) else content
            meta = json.loads(usage) if isinstance(usage, (str, bytes)) else usage
            created = self.ts_out(created_at)
            if not isinstance(data, dict):
                raise ValueError("its content column is not a JSON object")
        except (TypeError, ValueError, RecursionError):
            whose = f"session {session_id!r}" if session_id is not None else f"tree {tree!r}"
            where = f"{whose}: message {message_id!r}"
            data = self._json(content, where, session_id)
            meta = self._json(usage, f"{where}: meta", session_id)
            if not isinstance(data, dict):
                raise damaged(
                    SessionDataError(f"{where}: its content column is not a JSON object"), session_id
                ) from None
            raise damaged(
                SessionDataError(f"{where}: created_at {created_at!r:.60} is not a time"), session_id
            ) from None
        data.update(id=message_id, parent_id=parent_id, role=role)
        data["created_at"] = created.isoformat() if created else None
        if meta is not None:
            data["meta"] = meta
        return data

    def _header_of(self, session_id: str, context: Any, tree: Any = None) -> dict[str, Any]:
        header = self._json(context, f"session {session_id!r}: its header", session_id)
        if not isinstance(header, dict) or header.get("kind") != SESSION_KIND:
            raise StoreError(
                f"session {session_id!r}: the vel_sessions row is not a vel_jupyter session "
                "(foreign data, perhaps from another tool sharing the table); rename or delete it"
            )
        if tree is not None:
            header["tree"] = tree
        header = stored_header(session_id, header)
        header["tree"] = tree_of(header)
        return header

    # -- the four-method contract ------------------------------------------------------------

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        validate_session_id(session_id)
        header, messages = split_record(session_id, data)
        with self.transaction() as tx:
            self.lock_tree(tx, header["tree"])
            self._insert_messages(tx, header["tree"], session_id, messages)
            self._upsert_session(tx, session_id, header, exists=None)

    def load(self, session_id: str) -> dict[str, Any] | None:
        validate_session_id(session_id)
        with self.transaction() as tx:
            header = self._read_header(tx, session_id)
            if header is None:
                return None
            rows = tx.all(
                f"SELECT {self.message_columns()} FROM vel_messages WHERE tree_id = {self.P}", (header["tree"],)
            )
            return join_record(header, [self._message_dict(r, session_id) for r in rows])

    def delete(self, session_id: str) -> bool:
        validate_session_id(session_id)
        with self.transaction() as tx:
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
        header = {**header, "tree": tree_of(header)}
        with self.transaction() as tx:
            self.lock_tree(tx, header["tree"])
            row = tx.one(
                f"SELECT {self.json_text('context')}, expires_at, tree_id FROM vel_sessions "
                f"WHERE id = {self.P}{self.lock_suffix()}",
                (session_id,),
            )
            live = row is not None and not self._is_expired(session_id, row[1])
            found: int | None = self._header_of(session_id, row[0], row[2]).get("rev", 0) if live and row else None
            if found != expected_rev or (live and row is not None and row[2] != header["tree"]):
                raise HeadConflict(session_id, expected_rev, found)
            if row is None or row[2] != header["tree"]:
                self._check_tree_alive(tx, session_id, header, messages)
            self._insert_messages(tx, header["tree"], session_id, messages)
            self._upsert_session(tx, session_id, header, exists=row is not None)

    def read_header(self, session_id: str) -> dict[str, Any] | None:
        with self.transaction() as tx:
            return self._read_header(tx, session_id)

    def read_messages(self, tree: str, ids: Iterable[str]) -> list[dict[str, Any]]:
        wanted = list(ids)
        out: list[dict[str, Any]] = []
        with self.transaction() as tx:
            for start in range(0, len(wanted), 500):
                clause, params = self.where_in("id", wanted[start : start + 500])
                rows = tx.all(
                    f"SELECT {self.message_columns()} FROM vel_messages WHERE tree_id = {self.P} AND {clause}",
                    [tree, *params],
                )
                out.extend(self._message_dict(r, None) for r in rows)
        return out

    def list_summaries(self) -> list[dict[str, Any]]:
        # Each row keeps its listing line as a small JSON text (``summary``), and the database
        # joins them into one text: 10,000 sessions are one value to decode, no header is read.
        # Lines are data too: a row without a readable line is listed from its header, checked,
        # and a damaged header is listed with its problem (``damaged``).
        now = self.ts_in(self.clock())
        live = f"(expires_at IS NULL OR expires_at > {self.P})"
        with self.transaction() as tx:
            count, joined = tx.one(
                f"SELECT count(*), {self.json_pairs_of('id', 'summary')} FROM vel_sessions "
                f"WHERE {live} AND summary IS NOT NULL",
                (now,),
            ) or (0, None)
            lines = summary_pairs(joined, count)
            if lines is None:  # one line that is not JSON spoils the join: read them one by one
                lines = {}
                query = f"SELECT id, summary FROM vel_sessions WHERE {live} AND summary IS NOT NULL"
                for sid, text in tx.all(query, (now,)):
                    try:
                        lines[_sid(sid)] = summary_line(_sid(sid), load_json(text, "summary"))
                    except SessionDataError:
                        lines[_sid(sid)] = None
            unlisted = [sid for sid, line in lines.items() if line is None]
            rows = tx.all(
                f"SELECT id, {self.json_text('context')}, tree_id FROM vel_sessions WHERE {live} AND summary IS NULL",
                (now,),
            )
            for start in range(0, len(unlisted), 500):
                clause, params = self.where_in("id", unlisted[start : start + 500])
                rows += tx.all(
                    f"SELECT id, {self.json_text('context')}, tree_id FROM vel_sessions WHERE {clause}", params
                )
        for sid, context, tree in rows:
            lines[_sid(sid)] = self._summary_from_header(_sid(sid), context, tree)
        return [line for _, line in sorted(lines.items()) if line is not None]

    def _summary_from_header(self, session_id: str, context: Any, tree: Any) -> dict[str, Any]:
        """The listing line of a row that has none (written by another tool) or an unreadable one."""
        try:
            header = self.json_out(context, f"session {session_id!r}: its header")
        except SessionDataError as exc:
            return {**summary_of({}, session_id=session_id), "damaged": str(exc)}
        if not isinstance(header, dict) or header.get("kind") != SESSION_KIND:
            return {
                **summary_of({}, session_id=session_id),
                "damaged": f"session {session_id!r}: the vel_sessions row is not a vel_jupyter session",
            }
        return summary_of({**header, "tree": tree} if tree is not None else header, session_id=session_id, check=True)

    def json_pairs_of(self, key: str, column: str) -> str:
        """SQL aggregating rows into one JSON text ``[[key, <column's JSON text>], ...]``."""
        raise NotImplementedError

    # -- expiry ----------------------------------------------------------------------------------------

    def purge_expired(self) -> int:
        now = self.ts_in(self.clock())
        with self.transaction() as tx:
            cursor = tx.execute(
                f"DELETE FROM vel_sessions WHERE expires_at IS NOT NULL AND expires_at <= {self.P}", (now,)
            )
            return int(cursor.rowcount)

    # -- internals --------------------------------------------------------------------------------------

    def _is_expired(self, session_id: str, expires_at: Any) -> bool:
        try:
            when = self.ts_out(expires_at)
        except (TypeError, ValueError):
            raise damaged(
                SessionDataError(f"session {session_id!r}: expires_at {expires_at!r:.60} is not a time"), session_id
            ) from None
        return when is not None and when <= self.clock()

    def _read_header(self, tx: Tx, session_id: str) -> dict[str, Any] | None:
        row = tx.one(
            f"SELECT {self.json_text('context')}, expires_at, tree_id FROM vel_sessions WHERE id = {self.P}",
            (session_id,),
        )
        if row is None or self._is_expired(session_id, row[1]):
            return None
        return self._header_of(session_id, row[0], row[2])

    def _upsert_session(self, tx: Tx, session_id: str, header: dict[str, Any], *, exists: bool | None) -> None:
        now = self.clock()
        expires = expiry(now, header, self.ttl)
        created = datetime.fromisoformat(header["created_at"]) if header.get("created_at") else now
        tree = header["tree"]
        P = self.P
        summary = json.dumps(summary_of(header), separators=(",", ":"))
        values = (self.json_in(header), self.ts_in(now), self.ts_in(expires), tree, summary)
        if exists:
            tx.execute(
                f"UPDATE vel_sessions SET context = {P}, updated_at = {P}, expires_at = {P}, tree_id = {P}, "
                f"summary = {P} WHERE id = {P}",
                (*values, session_id),
            )
        else:
            cursor = tx.execute(
                f"INSERT INTO vel_sessions (id, context, created_at, updated_at, expires_at, tree_id, summary) "
                f"VALUES ({P}, {P}, {P}, {P}, {P}, {P}, {P}) ON CONFLICT (id) DO "
                + ("NOTHING" if exists is False else "UPDATE SET context = excluded.context, "
                   "updated_at = excluded.updated_at, expires_at = excluded.expires_at, tree_id = excluded.tree_id, "
                   "summary = excluded.summary"),
                (session_id, values[0], self.ts_in(created), values[1], values[2], tree, summary),
            )  # fmt: skip
            if exists is False and cursor.rowcount == 0:
                raise HeadConflict(session_id, None, -1)  # created concurrently by someone else

    def _check_tree_alive(
        self, tx: Tx, session_id: str, header: dict[str, Any], messages: list[dict[str, Any]]
    ) -> None:
        """Refuse a new session (a fork) pointing into a tree that was freed meanwhile.

        A tree's messages are deleted only when no session row points into it (the trigger),
        under the tree's lock, which this transaction holds. So a writer whose own row points
        into the tree (its compare-and-swap matched) needs no check, and a new session needs
        one only when it continues messages it does not bring: is the tree still in use?
        """
        arriving = {m["id"] for m in messages}
        needed = {*header_heads(header), *outside_parents(messages)} - arriving
        if not needed:
            return
        in_use = tx.one(f"SELECT 1 FROM vel_sessions WHERE tree_id = {self.P} LIMIT 1", (header["tree"],))
        if in_use is None:
            raise StoreError(
                f"session {session_id!r}: it continues messages of tree {header['tree']!r}, which no session "
                "uses any more (the session it continues was deleted from the store by another process; "
                "nothing was written: reload the session and retry)"
            )

    def _insert_messages(self, tx: Tx, tree: str, writer: str, messages: list[dict[str, Any]]) -> None:
        P = self.P
        tx.executemany(
            f"INSERT INTO vel_messages ({_MESSAGE_COLUMNS}) VALUES ({P}, {P}, {P}, {P}, {P}, {P}, {P}) "
            "ON CONFLICT (tree_id, id) DO NOTHING",
            [self._message_row(tree, writer, m) for m in messages],
        )


def _sid(value: Any) -> str:
    """A row's id as text (SQLite keeps whatever another program gave it: a number, a blob)."""
    return value if isinstance(value, str) else str(value)
