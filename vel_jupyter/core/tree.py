"""The message tree: every message of a session family, linked by parent ids.

A session is a named pointer (its *head*) into a tree shared with its forks, so forking
copies nothing and regenerating a turn just adds a sibling. A *branch* is a head the
session remembers; ``Session.branches`` lists them.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..errors import InvalidSessionIdError
from .message import Message

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id() -> str:
    """A 26-character, time-ordered, random id (ULID layout, lower-case).

    Time-ordered ids keep B-tree inserts in SQL stores at the right edge of the index.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


_SESSION_ID = re.compile(r"[\w.:@+=~-](?:[\w .:@+=~-]{0,198}[\w.:@+=~-])?")


def validate_session_id(session_id: Any) -> str:
    """Return ``session_id`` if it is safe to store and to name in a magic, else raise.

    Checked before any store query sees an id (queries are parameterized as well).
    """
    if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
        raise InvalidSessionIdError(
            f"invalid session id {session_id!r}: use 1-200 letters, digits, spaces inside, "
            "or any of . : @ + = ~ - _ (e.g. 'user-123-conv-456')"
        )
    return session_id


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Node:
    """A message placed in the tree.

    ``session_id`` is the session that wrote it (forks read their origin's nodes);
    ``cell_id`` is the notebook cell whose turn produced it, when there is one.
    """

    id: str
    parent_id: str | None
    message: Message
    session_id: str
    created_at: datetime
    cell_id: str | None = None


@dataclass(frozen=True)
class Branch:
    """One remembered head of a session."""

    index: int  # position in ``session.heads`` (0-based, as Python lists are)
    head: str | None
    current: bool
    length: int
    preview: str

    @property
    def number(self) -> int:
        """What a person reads and types: branches are numbered from 1 ("branch 2 of 3")."""
        return self.index + 1

    def __repr__(self) -> str:
        mark = "*" if self.current else " "
        return f"<Branch {mark}{self.number} head={self.head} messages={self.length} {self.preview!r}>"


class MessageTree:
    """Nodes by id, plus a children index. Shared by a session and all its forks."""

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self._nodes: dict[str, Node] = {}
        self._children: dict[str | None, list[str]] = {}
        # Sessions of one family may commit from different threads (async tools, the
        # notebook's background loop); the lock keeps the two dicts consistent.
        self.lock = threading.RLock()
        for node in nodes:
            self.add(node)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __getitem__(self, node_id: str) -> Node:
        return self._nodes[node_id]

    def get(self, node_id: str) -> Node | None:
        return self._nodes.get(node_id)

    def add(self, node: Node) -> None:
        with self.lock:
            if node.id in self._nodes:
                return  # idempotent: reloading a store may replay known nodes
            self._nodes[node.id] = node
            self._children.setdefault(node.parent_id, []).append(node.id)

    def children(self, node_id: str | None) -> list[Node]:
        return [self._nodes[c] for c in self._children.get(node_id, ())]

    def path(self, head: str | None) -> list[Node]:
        """Nodes from the root down to ``head`` (inclusive)."""
        out: list[Node] = []
        nodes = self._nodes
        current = head
        while current is not None:
            node = nodes[current]
            out.append(node)
            current = node.parent_id
        out.reverse()
        return out

    def depth(self, head: str | None) -> int:
        return len(self.path(head))

    def closure(self, heads: Iterable[str | None]) -> list[Node]:
        """Every node on the path to any of ``heads``, parents before children."""
        seen: set[str] = set()
        out: list[Node] = []
        for head in heads:
            chain: list[Node] = []
            current = head
            while current is not None and current not in seen:
                node = self._nodes[current]
                seen.add(current)
                chain.append(node)
                current = node.parent_id
            out.extend(reversed(chain))
        return out

    def nodes(self) -> list[Node]:
        return list(self._nodes.values())
