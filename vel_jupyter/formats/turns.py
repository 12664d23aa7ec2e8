"""Messages grouped into *turns*: the one turn-tree algorithm.

A turn is a user message with the assistant and tool messages that follow it. A turn also
starts at a root and after a fork point (a message with several children), so two answers
to one question are two turns. Turns are linked by the turn they follow and numbered by
their position on their path, from 1 (a turn that starts with an answer shares its
question's number, as ``%chat history``'s ``turn`` column counts).

Every fork-tree view reads these turns: the ``%chat tree`` payload and the widget carry
them (``jupyter.tree_data``), the static picture and text copy draw them
(``jupyter.tree_view``) and the JupyterLab extension links them (``labextension/src/turns.ts``)
without grouping anything again. It lives here, beside the shapes, because it reads only
message records (plain dicts) and anything that writes a payload may need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def message_tokens(message: Mapping[str, Any]) -> int:
    """A message record's prompt + completion tokens (0 without usage)."""
    meta = message.get("meta")
    if not isinstance(meta, Mapping):
        return 0
    return int(meta.get("prompt_tokens") or 0) + int(meta.get("completion_tokens") or 0)


def group_turns(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The turns of ``messages`` (records with ``id``, ``parent_id``, ``role``), in preorder.

    Each turn is ``{"id", "parent", "number", "messages", "last", "tokens"}``: ``id`` is its
    first message's, ``parent`` the id of the turn it follows (None at a root), ``last`` the id
    of its last message (what "continue from here" acts on). Siblings keep their input order;
    a message whose parent is not among ``messages`` is a root. O(n) and iterative; the links
    must be acyclic (``validate.check_links``): a message on a loop belongs to no turn.
    """
    records = list(messages)
    ids = {m["id"] for m in records}
    children: dict[Any, list[Mapping[str, Any]]] = {}
    for m in records:
        parent = m.get("parent_id")
        children.setdefault(parent if parent in ids and parent != m["id"] else None, []).append(m)
    turns: list[dict[str, Any]] = []
    turn_of: dict[str, dict[str, Any]] = {}
    stack = list(reversed(children.get(None, [])))
    while stack:
        m = stack.pop()
        parent_id = m.get("parent_id")
        above = turn_of.get(parent_id) if parent_id in ids and parent_id != m["id"] else None
        user = m.get("role") == "user"
        if above is None or user or len(children[parent_id]) > 1:
            number = (above["number"] if above is not None else 0) + (1 if user else 0)
            turn: dict[str, Any] = {
                "id": m["id"],
                "parent": above["id"] if above is not None else None,
                "number": number,
                "messages": [],
                "last": m["id"],
                "tokens": 0,
            }
            turns.append(turn)
        else:
            turn = above
        turn["messages"].append(m)
        turn["last"] = m["id"]
        turn["tokens"] += message_tokens(m)
        turn_of[m["id"]] = turn
        stack.extend(reversed(children.get(m["id"], [])))
    return turns
