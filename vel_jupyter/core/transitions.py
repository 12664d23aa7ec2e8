"""Header transitions: the next header of a session after a turn, a checkout or a setting.

Pure functions of a ``SessionState`` (nothing is written, no store is needed): the repository
computes the header it will persist with them, and applies it once the store took it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .state import SessionState
from .tree import Node


def next_header(state: SessionState, now: datetime, *, added: Sequence[Node] = (), **changes: Any) -> dict[str, Any]:
    """The header after ``changes``: revision bumped, ``stats`` of the new head.

    ``added`` are new nodes (not in the tree yet) that end at the new head.
    """
    current = state.header
    header = {**current, **changes, "rev": int(current["rev"]) + 1, "updated_at": now.isoformat()}
    if not added and header["head"] == state.head and current.get("stats"):
        return header  # same head, same path: the stats stand
    base = added[0].parent_id if added else header["head"]
    messages, tokens = state.stats_of(base)
    header["stats"] = {
        "messages": messages + len(added),
        "tokens": tokens + sum(n.message.usage.total_tokens for n in added),
    }
    return header


def moved_heads(
    header: dict[str, Any], base: str | None, new_head: str | None, explicit_parent: bool
) -> dict[str, Any]:
    """Where the branches stand after a turn from ``base`` ends at ``new_head``: the branch it
    continues moves, or a new branch is added (a regenerate, a turn from elsewhere)."""
    heads = list(header["heads"])
    current: int | None = header["current"]
    if current is not None and current < len(heads) and heads[current] == base and base == header["head"]:
        heads[current] = new_head
    elif base in heads and not explicit_parent:
        current = heads.index(base)
        heads[current] = new_head
    else:
        heads.append(new_head)
        current = len(heads) - 1
    return {"head": new_head, "heads": heads, "current": current}
