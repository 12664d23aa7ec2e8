"""A session family as turns: what the fork-tree widget draws.

A *family* is a session with every session forked from it (and forks of forks). A *turn*
is a user message with the assistant and tool messages that follow it; turns are linked
by the turn their user message follows. Plain dicts, so they sync to the browser as JSON.

Each turn carries what its row shows: ``number`` (the turn's position on its path, from 1,
as ``%chat history``'s ``turn`` column counts), ``question`` and ``answer``, one-line plain
previews of the rendered Markdown (``render.markdown_to_text``: no ``##`` or ``**`` in a row).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from ..core.serialize import node_to_dict
from ..core.session import Session
from ..core.tree import Node

PREVIEW = 80
ROW_PREVIEW = 160  # characters of a row's question or answer (the row clips what does not fit)


def family(session: Session, candidates: Iterable[Session]) -> list[Session]:
    """``session`` and the sessions sharing its conversation tree, id order."""
    members = {s.session_id: s for s in candidates if s.tree_id == session.tree_id}
    members[session.session_id] = session
    return [members[sid] for sid in sorted(members)]


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


@lru_cache(maxsize=8192)
def row_text(content: str) -> str:
    """A message as its row shows it: the rendered words on one line (cached: the tree of a
    long session is recomputed after every turn, its old messages never change)."""
    from ..render import markdown_to_text

    return markdown_to_text(content, ROW_PREVIEW)


def tree_payload(focus: Session, members: list[Session]) -> dict[str, Any]:
    """Turns of every branch of every family member, the members' heads, and the focus."""
    nodes: dict[str, Node] = {}
    for member in members:
        for node in member.reachable_nodes():
            nodes.setdefault(node.id, node)
    turn_of: dict[str, str] = {}  # message id -> id of its turn (the user message)
    turns: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for node in _parents_first(nodes):
        parent_turn = turn_of.get(node.parent_id) if node.parent_id else None
        if node.message.role == "user" or parent_turn is None:
            above = turns[parent_turn]["number"] if parent_turn is not None else 0
            is_user = node.message.role == "user"
            turns[node.id] = {
                "id": node.id,
                "parent": parent_turn,
                "number": above + (1 if is_user else 0),
                "question": row_text(node.message.content) if is_user else "",
                "answer": "",
                "preview": _preview(node.message.content),
                "messages": [],
                "tokens": 0,
                "last": node.id,
                "cell_id": node.cell_id,
            }
            order.append(node.id)
            turn_of[node.id] = node.id
        else:
            turn_of[node.id] = parent_turn
        turn = turns[turn_of[node.id]]
        turn["messages"].append(node_to_dict(node))
        turn["tokens"] += node.message.usage.total_tokens
        turn["last"] = node.id
        if node.message.role == "assistant" and node.message.content:
            turn["answer"] = row_text(node.message.content)
    heads = []
    for member in members:
        heads_of_member = member.heads
        for index, head in enumerate(heads_of_member):
            if head is not None and head in turn_of:
                current = member.current_branch == index
                heads.append(
                    {
                        "session_id": member.session_id,
                        "branch": index,
                        "turn": turn_of[head],
                        "message": head,
                        "current": current,
                    }
                )
        if member.head is not None and member.head not in heads_of_member and member.head in turn_of:
            heads.append(
                {
                    "session_id": member.session_id,
                    "branch": None,
                    "turn": turn_of[member.head],
                    "message": member.head,
                    "current": True,
                }
            )
    return {
        "version": 1,
        "kind": "vel_jupyter.tree",
        "focus": focus.session_id,
        "sessions": [
            {"session_id": m.session_id, "head": m.head, "forked_from": m.forked_from, "system": m.system}
            for m in members
        ],
        "turns": [turns[t] for t in order],
        "heads": heads,
    }


def _parents_first(nodes: dict[str, Node]) -> list[Node]:
    children: dict[str | None, list[Node]] = {}
    for node in nodes.values():
        parent = node.parent_id if node.parent_id in nodes else None
        children.setdefault(parent, []).append(node)
    out: list[Node] = []
    stack = sorted(children.get(None, []), key=lambda n: n.id, reverse=True)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(sorted(children.get(node.id, []), key=lambda n: n.id, reverse=True))
    return out
