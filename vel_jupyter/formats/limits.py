"""Bounds on data from outside, and the session id pattern: what every shape and check shares."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Bounds on data from outside: generous for real conversations, small enough that a
    crafted document cannot exhaust memory or time."""

    id_chars: int = 200
    text_chars: int = 64 * 1024 * 1024  # one message's content
    messages: int = 1_000_000  # one record or notebook
    branches: int = 100_000  # heads of one session
    tool_calls: int = 1_000  # per message
    summaries: int = 100_000
    lineage: int = 10_000
    json_depth: int = 32  # nesting of free-form values (params)
    json_items: int = 10_000  # keys and items of free-form values
    count: int = 10**15  # token counts, revisions
    ttl_seconds: int = 1000 * 366 * 86400  # a stored expiry must stay a date (year 9999 is the limit)


LIMITS = Limits()

SESSION_ID = re.compile(r"[\w.:@+=~-](?:[\w .:@+=~-]{0,198}[\w.:@+=~-])?")
"""Session ids: safe to store and to name in a magic (``core.tree.validate_session_id``)."""


def check_json_size(value: Any) -> None:
    """A free-form JSON value is at most ``LIMITS.json_depth`` deep with ``LIMITS.json_items`` items."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    items = 0
    while stack:
        current, depth = stack.pop()
        if depth > LIMITS.json_depth:
            raise ValueError(f"nested deeper than {LIMITS.json_depth} levels")
        children = current.values() if isinstance(current, dict) else current if isinstance(current, list) else ()
        for child in children:
            items += 1
            if items > LIMITS.json_items:
                raise ValueError(f"has more than {LIMITS.json_items} items")
            stack.append((child, depth + 1))
