"""``session_storage=`` values to stores."""

from __future__ import annotations

import os
from typing import Any

from ..errors import ConfigurationError
from .base import SessionStore
from .postgres import PostgresStore
from .redis import RedisStore
from .sqlite import SQLiteStore

_STORE_METHODS = ("save", "load", "delete", "list_sessions")


def open_store(spec: Any) -> SessionStore | None:
    """Turn a ``session_storage=`` value into a store (None: keep sessions in this process)."""
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
    if isinstance(spec, str):
        if spec.startswith("sqlite:///"):
            return SQLiteStore(spec[len("sqlite:///") :])
        if spec.startswith(("postgresql://", "postgres://")):
            return PostgresStore(dsn=spec)
        if spec.startswith(("redis://", "rediss://", "unix://")):
            return RedisStore(url=spec)
    raise ConfigurationError(
        f"unknown session_storage {spec!r}: use 'memory', 'database', a URL "
        "(sqlite:///path.db, postgresql://..., redis://...) or a SessionStore instance"
    )
