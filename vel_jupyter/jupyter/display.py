"""Showing a turn: a live, coalesced view while it streams, then one clean output.

In a Jupyter frontend the answer is one display that is updated in place at most every
``interval`` seconds (~20 Hz) and only once the text grew by a quarter since the last
redraw (or half a second passed). A live frame carries at most the last ``LIVE_WINDOW``
characters (``live_text``), so it costs the same at any length and the bytes sent grow
linearly with the answer, not with its square. When the turn ends the display is replaced
by the final bundle (sanitized ``text/html``, the raw text as ``text/plain`` and our JSON
mimetype), which is all a saved notebook keeps. Every frame and the final output are
rendered by ``vel_jupyter.render`` (markdown-it-py, Pygments, nh3) and share one layout, so
live and final look alike. No ``text/markdown`` is sent: a Markdown copy of model text would
be rendered with raw HTML on by other frontends. In a terminal, tokens are printed as they
arrive.

The parts, one job each: ``texts`` (the words), ``turn_payload`` (the JSON a turn's output
carries), ``turn_html`` (the HTML copy), ``live_view`` (the stream); this module puts a
finished turn's output together and re-exports what the magics and tests use.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from ..formats.kinds import SESSION_MIME
from .live_view import LIVE_WINDOW, LiveView
from .texts import ECHO_NOTE, PARTIAL_NOTE, stale_note
from .turn_html import _code_lang, extract_code, show_html, turn_html, turn_tools
from .turn_payload import MAX_ALTERNATIVES, finish_note, turn_alternatives, turn_payload, usage_line

if TYPE_CHECKING:
    from ..core.response import Response
    from ..core.session import Session

__all__ = [
    "ECHO_NOTE",
    "LIVE_WINDOW",
    "MAX_ALTERNATIVES",
    "PARTIAL_NOTE",
    "LiveView",
    "_code_lang",
    "extract_code",
    "final_bundle",
    "finish_note",
    "show_html",
    "stale_note",
    "turn_alternatives",
    "turn_html",
    "turn_payload",
    "usage_line",
]


def final_bundle(
    session: Session,
    response: Response,
    *,
    fmt: str = "markdown",
    prompt: str | None = None,
    payload: dict[str, Any] | None = None,
    current: bool = True,
    default_cap: int | None = None,
) -> dict[str, Any]:
    """The one output a finished turn leaves in the notebook: sanitized HTML, the raw text, our JSON.

    ``prompt``: the prompt as sent, when it differs from the cell body (interpolation).
    ``payload``: the turn payload as first shown (a redrawn output keeps what the turn was);
    ``current``: whether the session's current path still goes through this turn.
    """
    from ..render import code_to_html, markdown_to_html, text_to_html

    text = response.text
    if response.output is not None:
        answer = code_to_html(response.output.model_dump_json(indent=2), "json")
        plain = repr(response.output)
    elif fmt == "code":
        answer = code_to_html(extract_code(text), _code_lang(text))
        plain = text
    elif fmt == "json":
        answer = code_to_html(text, "json")
        plain = text
    elif fmt == "text":
        answer = text_to_html(text)
        plain = text
    else:
        answer = markdown_to_html(text)
        plain = text
    tools = turn_tools(response)
    if payload is None:
        payload = turn_payload(session, response, fmt=fmt, prompt=prompt, default_cap=default_cap)
    data = dict(payload)
    cap = data.get("default_cap") if isinstance(data.get("default_cap"), int) else None
    # The payload's words, when it has them (one first shown before they were carried: computed).
    carried_note, carried_usage = data.get("finish_note"), data.get("usage_line")
    note = carried_note if isinstance(carried_note, str) else finish_note(response, cap)
    usage = carried_usage if isinstance(carried_usage, str) else usage_line(response, cap)
    stale = "" if current else stale_note(session.session_id)
    alternatives = data.get("alternatives") or []
    if len(alternatives) > 1:  # static HTML cannot flip: it says how many answers there are
        own = next((i for i, a in enumerate(alternatives) if a.get("current")), len(alternatives) - 1)
        usage += f" · answer {own + 1} of {len(alternatives)} (%chat branches {session.session_id})"
    echo = response.provider == "echo"
    markup = turn_html(answer, tools=tools, prompt=prompt, note=note, usage=usage, stale=stale, echo=echo)
    data["current"] = current
    plain = f"{plain}\n[{note}]" if note else plain
    bundle: dict[str, Any] = {
        "text/html": markup,
        "text/plain": f"[{ECHO_NOTE}]\n{plain}" if echo else plain,
        SESSION_MIME: data,
    }
    if fmt == "json" or response.output is not None:
        with contextlib.suppress(ValueError):  # not JSON after all: HTML and text only
            bundle["application/json"] = json.loads(response.output.model_dump_json() if response.output else text)
    return bundle
