"""A ``%chat tree`` output: the fork tree of a session family, for every kind of viewer.

One display carries three copies of the same tree:

* ``application/vnd.vel.tree+json`` (``tree_data.tree_payload``): JupyterLab with the
  vel-jupyter extension draws it as an interactive tree (read any turn; with a kernel,
  "continue from here" and "fork here", which run ``%chat checkout`` / ``%chat fork`` in it);
* ``text/html``: a static picture, sanitized like every output of ours, that any other
  viewer shows (JupyterLab without the extension, classic Notebook, VS Code, nbconvert,
  GitHub): the focused session's path turn by turn, each other branch folded in a
  ``<details>`` labelled by where it diverges;
* ``text/plain``: the same path as lines, for terminals.

No widget: the output needs neither a widget manager nor a live kernel to show, so a saved
notebook never reads "Error displaying widget". While the kernel runs, the registry redraws
the display when a session of the family moves (``shown.ShownTrees``). ``vel_jupyter.tree(session)`` is
the anywidget version, for frontends with a widget manager and no extension.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..formats.kinds import TREE_MIME
from . import texts
from .tree_data import tree_payload

if TYPE_CHECKING:
    from ..core.session import Session

STATIC_ROWS = 300  # turns the static picture draws (a 1,000-turn path shows its ends)
TEXT_ROWS = 40  # lines of the text/plain copy
RUN_HEAD = 3  # of a path too long to draw whole: its first turns, then its last ones

_MUTED = "color: #6e7781"
_ROW = "margin: 0; padding: 2px 0 2px 0; line-height: 1.35"
_NUMBER = "color: #6e7781; font-weight: bold"
_CHIP = "border: 1px solid #0969da; border-radius: 8px; padding: 0 6px; color: #0969da; font-size: 0.8em"
_HEAD_CHIP = "border-radius: 8px; padding: 0 6px; background-color: #0969da; color: #ffffff; font-size: 0.8em"
_ANSWER = "color: #57606a; font-size: 0.9em"
_FORK = "margin: 2px 0 2px 0; padding: 0 0 0 14px; border-left: 1px dashed #d0d7de"


def tree_bundle(focus: Session, members: list[Session], *, commands: bool = True) -> dict[str, Any]:
    """The output of ``%chat tree``. ``commands``: the tree's actions may run ``%chat``
    commands in the kernel (the session lives in the notebook's registry)."""
    payload = tree_payload(focus, members)
    if commands:
        payload["commands"] = "%chat"
    return {TREE_MIME: payload, "text/html": tree_html(payload), "text/plain": tree_text(payload)}


@dataclass
class _Turn:
    data: dict[str, Any]
    children: list[_Turn] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    head: bool = False  # the focused session's current message is in this turn

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def number(self) -> int:
        return int(self.data.get("number") or 0)

    @property
    def question(self) -> str:
        return str(self.data.get("question") or "")

    @property
    def answer(self) -> str:
        return str(self.data.get("answer") or "")


@dataclass
class _Tree:
    roots: list[_Turn]
    path: list[_Turn]  # root to the focused session's current turn
    payload: dict[str, Any]

    @property
    def focus(self) -> str:
        return str(self.payload.get("focus") or "")


def _tree(payload: dict[str, Any]) -> _Tree:
    """The payload's turns linked by their ``parent`` (grouped once, by ``formats.turns``)."""
    turns = {str(t["id"]): _Turn(t) for t in payload.get("turns") or []}
    roots: list[_Turn] = []
    for turn in turns.values():
        parent = turns.get(str(turn.data.get("parent")))
        (parent.children if parent is not None else roots).append(turn)
    focus = str(payload.get("focus") or "")
    current: _Turn | None = None
    for head in payload.get("heads") or []:
        at = turns.get(str(head.get("turn")))
        if at is None:
            continue
        if str(head.get("session_id")) == focus and head.get("current"):
            at.head, current = True, at
            continue
        at.labels.append(str(head.get("label") or head.get("session_id")))
    path: list[_Turn] = []
    parents = {child.id: turn for turn in turns.values() for child in turn.children}
    step = current
    while step is not None:
        path.append(step)
        step = parents.get(step.id)
    return _Tree(roots, path[::-1], payload)


def fork_label(start: _Turn, continuing: _Turn | None) -> str:
    """How a folded branch is named: by where it diverges from the turn the path takes."""
    return texts.fork_label(start.number, start.question, start.answer, continuing.question if continuing else None)


def _fork_info(start: _Turn) -> str:
    turns = _walk(start)
    size = len(turns)
    labels = sorted({label for turn in turns for label in turn.labels})
    return f"{size} turn{'s' if size != 1 else ''}" + (f" · {', '.join(labels)}" if labels else "")


def _walk(start: _Turn) -> list[_Turn]:
    """The turns of the subtree rooted at ``start`` (iterative: any depth)."""
    out, stack = [], [start]
    while stack:
        turn = stack.pop()
        out.append(turn)
        stack.extend(turn.children)
    return out


def _sessions_line(tree: _Tree) -> str:
    numbers = {turn.id: turn.number for turn in _all(tree)}
    parts = []
    for head in tree.payload.get("heads") or []:
        if not head.get("current"):
            continue
        sid = str(head.get("session_id"))
        at = numbers.get(str(head.get("turn")))
        where = f"turn {at}" if at else "no turns"
        parts.append(f"{sid} (current: {where})" if sid == tree.focus else f"{sid} (at {where})")
    return " · ".join(parts)


def _all(tree: _Tree) -> list[_Turn]:
    return [turn for root in tree.roots for turn in _walk(root)]


def _stats(tree: _Tree) -> str:
    return texts.tree_stats(len(tree.payload.get("turns") or []), len(tree.payload.get("sessions") or []))


# -- text/html ------------------------------------------------------------------------------


def tree_html(payload: dict[str, Any]) -> str:
    """The static picture: sanitized HTML (a fixed template around escaped text)."""
    from ..render import assemble

    tree = _tree(payload)
    budget = [STATIC_ROWS]
    body = _path_html(tree, budget) if tree.path else _branches_html(tree.roots, budget)
    if not tree.roots:
        body = f'<p style="{_MUTED}; font-style: italic">(no messages yet)</p>'
    return assemble(
        '<div class="vel-tree"><p class="vel-tree-title" style="margin: 0 0 2px 0">'
        '<strong>{focus}</strong> <span style="{muted}">· {stats}</span></p>'
        '<p class="vel-tree-sessions" style="margin: 0 0 6px 0; {muted}; font-size: 0.9em">sessions: {sessions}</p>'
        "{body}"
        '<p class="vel-tree-note" style="margin: 6px 0 0 0; {muted}; font-size: 0.85em">{note}</p></div>',
        focus=html.escape(tree.focus),
        stats=html.escape(_stats(tree)),
        muted=_MUTED,
        sessions=html.escape(_sessions_line(tree) or "none"),
        body=body,
        note=html.escape(
            "A picture of the tree: open the notebook in JupyterLab with vel-jupyter to read any turn, "
            f"continue from it or fork it (%chat tree {tree.focus} redraws it)."
        ),
    )


def _row_html(turn: _Turn) -> str:
    parts = [f'<span style="{_NUMBER}">{turn.number}</span> ']
    parts.append(
        html.escape(turn.question)
        if turn.question
        else f'<span style="{_MUTED}; font-style: italic">(another answer)</span>'
    )
    for label in turn.labels:
        parts.append(f' <span style="{_CHIP}">{html.escape(label)}</span>')
    if turn.head:
        parts.append(f' <span style="{_HEAD_CHIP}">current</span>')
    if turn.answer:
        parts.append(f'<br><span style="{_ANSWER}">↳ {html.escape(turn.answer)}</span>')
    return f'<div class="vel-tree-row" style="{_ROW}">{"".join(parts)}</div>'


def _path_html(tree: _Tree, budget: list[int]) -> str:
    """The focused path, each fork on it folded beside the turn it leaves from."""
    path = tree.path
    out: list[str] = []
    skip: range = range(0)
    if len(path) > budget[0]:
        keep_tail = budget[0] - RUN_HEAD - 1
        skip = range(RUN_HEAD, len(path) - keep_tail)
    siblings = tree.roots
    for index, turn in enumerate(path):
        if index in skip:
            if index == skip.start:
                out.append(
                    f'<p style="{_MUTED}; margin: 2px 0">⋯ {len(skip)} more turn{"s" if len(skip) != 1 else ""}</p>'
                )
            siblings = turn.children
            continue
        out.append(_row_html(turn))  # then the other answers or questions at this point
        budget[0] -= 1
        out.append(_forks_html([s for s in siblings if s is not turn], turn, budget))
        siblings = turn.children
    out.append(_forks_html(siblings, None, budget))  # what continues after the head
    return "".join(out)


def _forks_html(starts: list[_Turn], continuing: _Turn | None, budget: list[int]) -> str:
    out = []
    for start in starts:
        label = html.escape(f"{fork_label(start, continuing)} · {_fork_info(start)}")
        inner = _branches_html([start], budget) if budget[0] > 0 else f'<p style="{_MUTED}">⋯</p>'
        out.append(
            f'<details class="vel-tree-fork" style="{_FORK}"><summary style="{_MUTED}">{label}</summary>{inner}</details>'
        )
    return "".join(out)


def _branches_html(starts: list[_Turn], budget: list[int]) -> str:
    """Each start's chain of turns; a fork inside is folded again (depth-first, bounded)."""
    out = []
    for start in starts:
        turn: _Turn | None = start
        while turn is not None and budget[0] > 0:
            out.append(_row_html(turn))
            budget[0] -= 1
            if len(turn.children) == 1:
                turn = turn.children[0]
                continue
            if turn.children:
                out.append(_forks_html(turn.children, None, budget))
            turn = None
        if turn is not None:
            out.append(f'<p style="{_MUTED}; margin: 2px 0">⋯ (more turns: open in JupyterLab)</p>')
    return "".join(out)


# -- text/plain -----------------------------------------------------------------------------


def tree_text(payload: dict[str, Any]) -> str:
    """The focused path as lines (first and last ones of a long path), forks as one line each."""
    tree = _tree(payload)
    lines = [f"{tree.focus}: {_stats(tree)}", f"sessions: {_sessions_line(tree) or 'none'}"]
    rows: list[str] = []
    siblings = tree.roots
    for turn in tree.path:
        marks = "".join(f" [{label}]" for label in turn.labels) + (" [current]" if turn.head else "")
        answer = f" → {turn.answer}" if turn.answer else ""
        rows.append(f"  {turn.number:>3}  {turn.question or '(another answer)'}{answer}"[:150] + marks)
        for other in siblings:
            if other is not turn:
                rows.append(f"       + {fork_label(other, turn)} ({_fork_info(other)})"[:150])
        siblings = turn.children
    for other in siblings:
        rows.append(f"       + {fork_label(other, None)} ({_fork_info(other)})"[:150])
    if len(rows) > TEXT_ROWS:
        rows = [*rows[:RUN_HEAD], f"  ⋯ {len(rows) - TEXT_ROWS + 1} more lines", *rows[-(TEXT_ROWS - RUN_HEAD - 1) :]]
    return "\n".join(lines + rows)
