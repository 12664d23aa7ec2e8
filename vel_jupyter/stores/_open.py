"""``session_storage=`` values to stores."""

from __future__ import annotations

import os
from typing import Any

from ..core.secrets import redact_text, redact_url
from ..errors import ConfigurationError
from .base import SessionStore
from .postgres import PostgresStore
from .redis import RedisStore
from .sqlite import SQLiteStore

_STORE_METHODS = ("save", "load", "delete", "list_sessions")
_POSTGRES = ("postgresql", "postgres")
_REDIS = ("redis", "rediss", "unix")


def open_store(spec: Any) -> SessionStore | None:
    """Turn a ``session_storage=`` value into a store (None: keep sessions in this process).

    URL schemes are read case-insensitively, as URLs define them (``PostgreSQL://`` is
    ``postgresql://``); an error shows a URL only with ``***`` for its credentials.
    """
    if spec is None or spec == "memory":
        return None
    if isinstance(spec, SessionStore) or all(callable(getattr(spec, m, None)) for m in _STORE_METHODS):
        return spec
    if spec == "database":
        if not os.environ.get("POSTGRES_DSN"):
            raise ConfigurationError(
                "session_storage='database' needs PostgreSQL: set POSTGRES_DSN=postgresql://user:password@host/db "
                "(or pass a URL such as 'sqlite:///sessions.db' to use SQLite)"
            )
        return PostgresStore()
    hint = ""
    if isinstance(spec, str):
        scheme, sep, rest = spec.partition("://")
        kind = scheme.lower() if sep else ""
        if kind == "sqlite" and rest.startswith("/"):
            return SQLiteStore(rest[1:])
        if kind in _POSTGRES:
            return PostgresStore(dsn=f"{kind}://{rest}")
        if kind in _REDIS:
            return RedisStore(url=f"{kind}://{rest}")
        shown = redact_text(redact_url(spec))
        if kind.partition("+")[0] in _POSTGRES:
            hint = f" ({scheme}:// is SQLAlchemy's form: give the URL as postgresql://...)"
        elif kind.partition("+")[0] in _REDIS:
            hint = f" ({scheme}:// is not supported: give the URL of one server, redis://...)"
        elif kind == "sqlite":
            hint = " (a SQLite URL has three slashes and a path: sqlite:///sessions.db)"
        shown = repr(shown if len(shown) <= 200 else shown[:200] + "...")
    else:
        shown = redact_text(repr(spec))[:200]
    raise ConfigurationError(
        f"unknown session_storage {shown}{hint}: use 'memory', 'database', a URL "
        "(sqlite:///path.db, postgresql://..., redis://...) or a SessionStore instance"
    )
