"""Where a session's branches part: what tells two branches apart when their ends look alike.

A branch is described by the first message in which it differs from the branch nearest to it
(the one sharing the longest start): a regenerated turn repeats its prompt, so the first
message that *reads* differently is the one named. ``%chat branches`` prints this.
``branch_through`` picks the branch a chosen answer leads on to (a chat app's answer switcher).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .tree import Node

if TYPE_CHECKING:
    from .session import Session


@dataclass(frozen=True)
class BranchSplit:
    """One branch of a session and where it splits off from the others."""

    number: int  # from 1, as people count branches
    messages: int
    current: bool
    split: Node | None  # its first message that reads differently (None: the only branch, or ends inside another)
    split_turn: int  # the turn that message belongs to, from 1
    ends_inside: bool  # the whole branch is the start of another one
    last: str  # the text of its last message with text


def branch_splits(session: Session) -> list[BranchSplit]:
    """Each of ``session``'s branches, described by where it splits from its nearest sibling."""
    paths = [session.path(head) for head in session.heads]
    out = []
    for index, path in enumerate(paths):
        others = [other for j, other in enumerate(paths) if j != index]
        nearest = max(others, key=lambda other: _common_prefix(path, other), default=[])
        shared = _common_prefix(path, nearest)
        split: Node | None = None
        turn = 0
        if len(paths) > 1 and shared < len(path):
            at = shared
            while at + 1 < len(path) and at < len(nearest) and _same_text(path[at], nearest[at]):
                at += 1
            split = path[at]
            turn = max(1, sum(1 for node in path[: at + 1] if node.message.role == "user"))
        last = next((n.message.content for n in reversed(path) if n.message.content), "")
        out.append(
            BranchSplit(
                number=index + 1,
                messages=len(path),
                current=index == session.current_branch,
                split=split,
                split_turn=turn,
                ends_inside=len(paths) > 1 and shared >= len(path),
                last=last,
            )
        )
    return out


def branch_through(session: Session, message_id: str) -> int | None:
    """The index in ``session.heads`` of a branch whose path goes through ``message_id``: the
    current branch if it does, else the newest such branch (the highest index); None when none does."""
    current = session.current_branch
    through = [
        index
        for index, head in enumerate(session.heads)
        if head is not None and any(node.id == message_id for node in session.path_view(head))
    ]
    if current in through:
        return current
    return through[-1] if through else None


def _common_prefix(a: Sequence[Node], b: Sequence[Node]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x.id != y.id:
            break
        n += 1
    return n


def _same_text(a: Node, b: Node) -> bool:
    return a.message.role == b.message.role and a.message.content == b.message.content
