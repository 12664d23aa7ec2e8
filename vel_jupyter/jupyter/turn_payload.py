"""A finished turn as the payload its output carries (``formats.shapes.TurnPayloadShape``).

Its messages with ids, parent ids and usage, where the session stands (branch, head), every
answer the cell has had (the 2/3 switcher works with no kernel), the cell's turns elsewhere in
the session's tree (``elsewhere``: a restore places them) and the words the views show
(``usage_line``, ``finish_note``, ``echo_note``; see ``texts``): the JupyterLab extension shows
them, the HTML copy of the output uses the same ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..formats.kinds import PAYLOAD_VERSION, TURN_KIND
from . import texts

if TYPE_CHECKING:
    from ..core.response import Response
    from ..core.session import Session


def finish_note(response: Response, default_cap: int | None = None) -> str:
    """The line that says an answer is not whole ('' when it is): shown live, final and in the terminal.

    ``default_cap``: the notebook's cap the turn ran under (``%config ChatMagics.max_tokens``)."""
    return texts.finish_note(response.finish_reason, response.refusal, default_cap)


def usage_line(response: Response, default_cap: int | None = None) -> str:
    """The turn's one usage line: prompt → completion tokens · model · latency · first token
    (· the default cap, when the turn ran under it)."""
    usage = response.usage
    return texts.usage_line(
        usage.prompt_tokens, usage.completion_tokens, response.model, response.latency_ms, response.ttft_ms, default_cap
    )


def turn_payload(
    session: Session,
    response: Response,
    *,
    fmt: str = "markdown",
    prompt: str | None = None,
    default_cap: int | None = None,
) -> dict[str, Any]:
    """This turn's messages with ids, parent ids and usage, for the saved notebook.

    ``prompt`` is the prompt as sent when it differs from the cell body (else left out);
    ``fmt`` is how the answer is shown ("json" for structured output).
    """
    from ..core.serialize import node_to_dict

    nodes = [session.node(message_id) for message_id in response.message_ids]
    branch = next((b.index for b in session.branches if b.current), None)
    payload: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "kind": TURN_KIND,
        "session_id": session.session_id,
        "branch": branch,
        "branches": len(session.branches),
        "head": session.head,
        "model": response.model,
        "provider": response.provider,
        "usage": {"prompt_tokens": response.usage.prompt_tokens, "completion_tokens": response.usage.completion_tokens},
        "latency_ms": round(response.latency_ms, 1) if response.latency_ms else None,
        "ttft_ms": round(response.ttft_ms, 1) if response.ttft_ms is not None else None,
        "format": "json" if response.output is not None else fmt,
        "messages": [node_to_dict(n) for n in nodes],
    }
    if prompt is not None:
        payload["prompt"] = prompt
    if default_cap:  # the notebook's cap this turn ran under: the usage line and the cut-off note say so
        payload["default_cap"] = default_cap
    payload["usage_line"] = usage_line(response, default_cap)
    payload["finish_note"] = finish_note(response, default_cap)
    if response.provider == "echo":
        payload["echo_note"] = texts.ECHO_NOTE
    alternatives = turn_alternatives(session, nodes, model=response.model, default_cap=default_cap)
    if len(alternatives) > 1:
        payload["alternatives"] = alternatives
    elsewhere = turns_elsewhere(session, nodes, model=response.model, default_cap=default_cap)
    if elsewhere:
        payload["elsewhere"] = elsewhere
    return payload


MAX_ALTERNATIVES = 20  # answers of one cell kept in its output (the newest), and turns elsewhere


def turn_alternatives(
    session: Session, nodes: list[Any], *, model: str | None = None, default_cap: int | None = None
) -> list[dict[str, Any]]:
    """Every answer this cell's turn has had (its re-runs: user messages beside this one,
    from the same cell), oldest first, each as ``{"head", "current", "messages"}`` with its own
    words (``texts.messages_texts``; ``model``: the turn's, when a message names none): what the
    output's 2/3 switcher flips between, with a kernel or without one.
    """
    first = next((n for n in nodes if n.message.role == "user"), None)
    if first is None:
        return []
    siblings = [
        n
        for n in session.children(first.parent_id)
        if n.message.role == "user" and (first.cell_id is None or n.cell_id == first.cell_id)
    ][-MAX_ALTERNATIVES:]
    return [_answer(session, sibling, sibling.id == first.id, model, default_cap) for sibling in siblings]


def turns_elsewhere(
    session: Session, nodes: list[Any], *, model: str | None = None, default_cap: int | None = None
) -> list[dict[str, Any]]:
    """The turns this cell made elsewhere in the session's tree (under another parent: the cell
    was re-run while its turn was off the current path), the newest ``MAX_ALTERNATIVES``, oldest
    first, shaped as alternatives. Not shown: they keep those turns in the saved notebook, so a
    restore can place them and what continued from them."""
    first = next((n for n in nodes if n.message.role == "user"), None)
    if first is None or first.cell_id is None:
        return []
    others = [
        n
        for n in session.reachable_nodes()
        if n.message.role == "user" and n.cell_id == first.cell_id and n.parent_id != first.parent_id
    ]
    others.sort(key=lambda n: (n.created_at, n.id))
    return [_answer(session, node, False, model, default_cap) for node in others[-MAX_ALTERNATIVES:]]


def _answer(
    session: Session, question: Any, current: bool, model: str | None, default_cap: int | None
) -> dict[str, Any]:
    """One answer of a cell: its question and the messages below it until the next turn starts."""
    from ..core.serialize import node_to_dict

    turn = [question]
    while True:  # down the first child until the next turn starts
        below = [c for c in session.children(turn[-1].id) if c.message.role != "user"]
        if not below:
            break
        turn.append(below[0])
    messages = [node_to_dict(n) for n in turn]
    return {
        "head": turn[-1].id,
        "current": current,
        "messages": messages,
        **texts.messages_texts(messages, model, default_cap),
    }
