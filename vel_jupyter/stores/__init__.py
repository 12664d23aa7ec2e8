"""Where sessions live between processes: memory, SQLite, PostgreSQL, Redis, or your own.

Pick one with ``Agent(session_storage=...)``: ``'memory'`` (this process only, the default),
``'database'`` (PostgreSQL at ``POSTGRES_DSN``), a URL (``sqlite:///sessions.db``,
``postgresql://...``, ``redis://...``) or a store instance. A custom store subclasses
``SessionStore`` and implements its four methods.
"""

from __future__ import annotations

from ._open import open_store
from .base import ExpiringStore, HeadConflict, SessionStore, TurnStore
from .memory import MemoryStore
from .postgres import PostgresStore
from .redis import RedisStore
from .sqlite import SQLiteStore

__all__ = [
    "ExpiringStore",
    "HeadConflict",
    "MemoryStore",
    "PostgresStore",
    "RedisStore",
    "SQLiteStore",
    "SessionStore",
    "TurnStore",
    "open_store",
]
