"""RedisStore: being written (see issue 3)."""

from __future__ import annotations

from typing import Any

from .base import SessionStore


class RedisStore(SessionStore):
    def __init__(self, url: str | None = None, *, client: Any = None, **options: Any) -> None:
        raise NotImplementedError("RedisStore is not finished yet")
