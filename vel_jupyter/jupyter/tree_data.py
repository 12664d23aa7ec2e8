"""A session family as turns: the ``%chat tree`` payload every fork-tree view draws.

A *family* is a session with every session forked from it (and forks of forks). Its messages
are grouped into turns by ``formats.turns.group_turns`` (the one turn-tree algorithm); the
payload carries the turns, so the static picture (``tree_view``), the widget and the
JupyterLab extension draw the same tree without grouping anything again. Plain dicts, so it
syncs to the browser as JSON (``formats.shapes.TreePayloadShape`` is its shape).

Each turn carries what its row shows: ``number`` (the turn's position on its path, from 1,
as ``%chat history``'s ``turn`` column counts), ``question`` and ``answer``, one-line plain
previews of the rendered Markdown (``render.markdown_to_text``: no ``##`` or ``**`` in a row).
The payload also carries its words (``texts``): the stats line, each head's label and the
templates of the folded branches' labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from ..core.serialize import node_to_dict
from ..core.session import Session
from ..core.tree import Node
from ..formats.kinds import PAYLOAD_VERSION, TREE_KIND
from ..formats.turns import group_turns
from .texts import FORK_LABELS, head_label, tree_stats

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
    ordered = sorted(nodes.values(), key=lambda n: n.id)  # siblings in id (creation) order
    turns = group_turns(node_to_dict(n) for n in ordered)
    turn_of: dict[str, str] = {}
    for turn in turns:
        first = turn["messages"][0]
        is_user = first["role"] == "user"
        answer = next((m for m in reversed(turn["messages"]) if m["role"] == "assistant" and m.get("content")), None)
        turn.update(
            question=row_text(first.get("content") or "") if is_user else "",
            answer=row_text(answer["content"]) if answer else "",
            preview=_preview(first.get("content") or ""),
            cell_id=nodes[turn["id"]].cell_id,
        )
        for m in turn["messages"]:
            turn_of[m["id"]] = turn["id"]
    heads: list[dict[str, Any]] = []
    for member in members:
        heads_of_member = member.heads
        for index, head in enumerate(heads_of_member):
            if head is not None and head in turn_of:
                heads.append(
                    {
                        "session_id": member.session_id,
                        "branch": index,
                        "turn": turn_of[head],
                        "message": head,
                        "current": member.current_branch == index,
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
    per_session: dict[str, int] = {}
    for entry in heads:
        per_session[entry["session_id"]] = per_session.get(entry["session_id"], 0) + 1
    for entry in heads:
        entry["label"] = head_label(entry["session_id"], entry["branch"], per_session[entry["session_id"]] > 1)
    return {
        "version": PAYLOAD_VERSION,
        "kind": TREE_KIND,
        "focus": focus.session_id,
        "sessions": [
            {"session_id": m.session_id, "head": m.head, "forked_from": m.forked_from, "system": m.system}
            for m in members
        ],
        "turns": turns,
        "heads": heads,
        "texts": {"stats": tree_stats(len(turns), len(members)), "fork_labels": dict(FORK_LABELS)},
    }
