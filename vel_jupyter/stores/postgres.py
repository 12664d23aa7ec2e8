"""PostgresStore: sessions in PostgreSQL through a psycopg connection pool.

Guide B's ``vel_sessions`` table as printed (``context`` holds the session header), plus
``vel_messages`` rows, so guide B's cleanup SQL works unchanged and cascades::

    DELETE FROM vel_sessions WHERE updated_at < NOW() - INTERVAL '7 days';

The DSN is a ``Secret``: the store's repr and errors show it with ``***`` for its password,
and psycopg's loggers (the pool's warnings quote a DSN it cannot parse) pass the redacting
filter (``core.secrets.guard_logs``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from ..core.secrets import guard_logs, redact_text
from ..core.tree import utcnow
from ..errors import ConfigurationError
from ._sql import Migration, SQLStore, Tx
from .base import place_in_trees, secret_dsn, store_error, summary_of

INSTALL_HINT = "pip install 'vel-jupyter[postgres]' (psycopg[binary,pool])"


def _create_sessions(tx: Tx) -> None:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS vel_sessions ("
        " id TEXT PRIMARY KEY,"
        " context JSONB NOT NULL,"
        " created_at TIMESTAMPTZ DEFAULT NOW(),"
        " updated_at TIMESTAMPTZ DEFAULT NOW(),"
        " expires_at TIMESTAMPTZ)"
    )


def _create_messages(tx: Tx) -> None:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS vel_messages ("
        " id TEXT PRIMARY KEY,"
        " session_id TEXT NOT NULL REFERENCES vel_sessions(id) ON DELETE CASCADE,"
        " parent_id TEXT,"
        " role TEXT NOT NULL,"
        " content JSONB NOT NULL,"
        " usage JSONB,"
        " created_at TIMESTAMPTZ NOT NULL)"
    )
    tx.execute("CREATE INDEX IF NOT EXISTS vel_messages_session ON vel_messages(session_id)")


def _index_sessions(tx: Tx) -> None:
    tx.execute("CREATE INDEX IF NOT EXISTS vel_sessions_updated_at ON vel_sessions(updated_at)")
    tx.execute(
        "CREATE INDEX IF NOT EXISTS vel_sessions_expires_at ON vel_sessions(expires_at) WHERE expires_at IS NOT NULL"
    )


def _index_lineage(tx: Tx) -> None:
    # Deleting a session looks up the forks that read its messages.
    tx.execute("CREATE INDEX IF NOT EXISTS vel_sessions_lineage ON vel_sessions USING GIN ((context->'lineage'))")


TREE_LOCK = 7364220
"""First key of the advisory locks that serialise the writers of one tree (the second: its hash)."""


def _messages_belong_to_trees(tx: Tx) -> None:
    """Format 2: a message row belongs to its conversation tree, not to the session that wrote it.

    Every family (a session and its forks, joined by lineage) becomes one tree; the rows any
    member owned move into it; the cascade from a session to "its" rows is replaced by a
    trigger that frees a tree's rows when its last session row goes — under the tree's
    advisory lock, so a fork being created in the same tree at that moment is never left
    pointing at freed rows.
    """
    tx.execute("ALTER TABLE vel_sessions ADD COLUMN tree_id TEXT")
    tx.execute("ALTER TABLE vel_sessions ADD COLUMN summary TEXT")  # the listing line (stores.base.summary_of)
    rows = [(sid, dict(context)) for sid, context in tx.all("SELECT id, context FROM vel_sessions")]
    found = tx.all("SELECT id, parent_id, session_id, usage FROM vel_messages")
    place_in_trees(rows, {mid: (parent, owner, usage) for mid, parent, owner, usage in found})
    for sid, header in rows:
        tx.execute(
            "UPDATE vel_sessions SET tree_id = %s, context = %s::jsonb, summary = %s WHERE id = %s",
            (header["tree"], json.dumps(header), json.dumps(summary_of(header)), sid),
        )
    tx.execute("DROP INDEX IF EXISTS vel_sessions_lineage")
    tx.execute("ALTER TABLE vel_messages DROP CONSTRAINT IF EXISTS vel_messages_session_id_fkey")
    tx.execute("ALTER TABLE vel_messages ADD COLUMN tree_id TEXT")
    tx.execute(
        "UPDATE vel_messages m SET tree_id = s.tree_id,"
        " content = CASE WHEN m.content ? 'session_id' THEN m.content"
        " ELSE jsonb_set(m.content, '{session_id}', to_jsonb(m.session_id)) END"
        " FROM vel_sessions s WHERE s.id = m.session_id"
    )
    tx.execute("DELETE FROM vel_messages WHERE tree_id IS NULL")  # rows of no session: the old cascade's leftovers
    tx.execute("ALTER TABLE vel_messages ALTER COLUMN tree_id SET NOT NULL")
    tx.execute("ALTER TABLE vel_messages DROP CONSTRAINT vel_messages_pkey")
    tx.execute("ALTER TABLE vel_messages ADD PRIMARY KEY (tree_id, id)")
    tx.execute("DROP INDEX IF EXISTS vel_messages_session")
    tx.execute("ALTER TABLE vel_messages DROP COLUMN session_id")
    tx.execute("CREATE INDEX vel_sessions_tree ON vel_sessions(tree_id)")
    tx.execute(
        "CREATE OR REPLACE FUNCTION vel_free_tree() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" PERFORM pg_advisory_xact_lock({TREE_LOCK}, hashtext(OLD.tree_id));"
        " IF NOT EXISTS (SELECT 1 FROM vel_sessions WHERE tree_id = OLD.tree_id) THEN"
        "  DELETE FROM vel_messages WHERE tree_id = OLD.tree_id;"
        " END IF; RETURN NULL; END $$"
    )
    tx.execute(
        "CREATE TRIGGER vel_trees_free_on_delete AFTER DELETE ON vel_sessions"
        " FOR EACH ROW EXECUTE FUNCTION vel_free_tree()"
    )
    tx.execute(
        "CREATE TRIGGER vel_trees_free_on_update AFTER UPDATE OF tree_id ON vel_sessions"
        " FOR EACH ROW WHEN (OLD.tree_id IS DISTINCT FROM NEW.tree_id) EXECUTE FUNCTION vel_free_tree()"
    )


MIGRATIONS: list[Migration] = [
    ("0001_create_sessions", _create_sessions),
    ("0002_create_messages", _create_messages),
    ("0003_index_sessions", _index_sessions),
    ("0004_index_lineage", _index_lineage),
    ("0005_messages_belong_to_trees", _messages_belong_to_trees),
]


_URL_SCHEME = re.compile(r"(?i)(postgres(?:ql)?)://")


class PostgresStore(SQLStore):
    """Sessions in PostgreSQL; ``dsn`` defaults to ``POSTGRES_DSN``."""

    name = "postgres"
    TS = "%s::timestamptz"

    def __init__(
        self,
        dsn: str | None = None,
        *,
        ttl: float | None = None,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        dsn = dsn or os.environ.get("POSTGRES_DSN")
        if not dsn:
            raise ConfigurationError(
                "PostgresStore needs a DSN: pass dsn='postgresql://user:password@host/db' or set POSTGRES_DSN"
            )
        try:
            import psycopg
            from psycopg.types.json import Jsonb
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ConfigurationError(f"PostgresStore needs psycopg: {INSTALL_HINT}") from None
        self._psycopg = psycopg
        self._jsonb = Jsonb
        # libpq reads only lower-case schemes: 'PostgreSQL://' is the same URL.
        dsn = _URL_SCHEME.sub(lambda m: f"{m.group(1).lower()}://", dsn, count=1) if _URL_SCHEME.match(dsn) else dsn
        self._dsn = secret_dsn(dsn)
        self.ttl = ttl
        self.clock = clock
        self._pool = ConnectionPool(
            self._dsn.get(),
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            check=ConnectionPool.check_connection,  # a server restart leaves dead connections behind
            name="vel_jupyter",
        )
        guard_logs()  # the pool's workers log each failed attempt, quoting the DSN when they cannot parse it
        try:
            self._pool.open(wait=True, timeout=timeout)
            self.migrate()
        except Exception as exc:
            self._pool.close()
            raise store_error(
                f"cannot open PostgreSQL store at {self.dsn_shown} ({_detail(exc)}); is the server running?"
            ) from _chain(exc)

    @property
    def dsn_shown(self) -> str:
        """The DSN as it may be shown: ``***`` for its password."""
        return self._dsn.shown

    def __repr__(self) -> str:
        return f"PostgresStore({self.dsn_shown!r})"

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        psycopg = self._psycopg
        try:
            with self._pool.connection() as conn, conn.transaction():
                cursor = conn.cursor()
                yield Tx(cursor.execute, cursor.executemany)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise store_error(
                f"PostgreSQL at {self.dsn_shown} is unavailable ({_detail(exc)}); nothing was written, retry"
            ) from _chain(exc)
        except psycopg.Error as exc:  # the server refused a statement: one line, the traceback would quote it
            raise store_error(
                f"PostgreSQL at {self.dsn_shown} refused the request ({type(exc).__name__}: {_detail(exc)}); "
                "nothing was written"
            ) from _chain(exc)
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg_pool"):  # PoolTimeout: no connection could be made
                raise store_error(
                    f"PostgreSQL at {self.dsn_shown} is unavailable ({_detail(exc)}); retry when it is back"
                ) from _chain(exc)
            raise

    def migrations(self) -> list[Migration]:
        return MIGRATIONS

    def migrations_table_ddl(self) -> str:
        # The advisory lock serialises concurrent first opens (two kernels starting at once).
        return (
            "SELECT pg_advisory_xact_lock(7364219);"
            "CREATE TABLE IF NOT EXISTS vel_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ DEFAULT NOW())"
        )

    def json_in(self, value: Any) -> Any:
        return self._jsonb(value)

    def where_in(self, column: str, values: list[str]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(%s)", [list(values)]

    def json_text(self, column: str) -> str:
        # Decoded by json_out, not by psycopg: JSON nested past the decoder's limit is then one
        # SessionDataError line naming the session, not a RecursionError from inside fetchall().
        return f"{column}::text"

    def json_pairs_of(self, key: str, column: str) -> str:
        return f"'[' || string_agg('[' || to_json({key})::text || ',' || {column} || ']', ',') || ']'"

    def lock_tree(self, tx: Tx, tree: str) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (TREE_LOCK, tree))

    def lock_suffix(self) -> str:
        return " FOR UPDATE"

    def close(self) -> None:
        self._pool.close()


def _detail(exc: BaseException) -> str:
    """A driver's error as one line, without credentials."""
    return redact_text(" ".join(str(exc).split()))


def _chain(exc: BaseException) -> BaseException | None:
    """The cause to chain: none when its text holds a credential (a traceback would print it)."""
    return exc if redact_text(str(exc)) == str(exc) else None
