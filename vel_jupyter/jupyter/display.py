"""Showing a turn: a live, coalesced view while it streams, then one clean output.

In a Jupyter frontend the answer is one display that is updated in place at most every
``interval`` seconds (~20 Hz) and only once the text grew by a quarter since the last
redraw (or half a second passed): the bytes sent grow linearly with the answer, not with
its square. When the turn ends the display is replaced by the final bundle (Markdown,
plain text and our JSON mimetype), which is all a saved notebook keeps. In a terminal,
tokens are printed as they arrive.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from .safe_markdown import safe_markdown

if TYPE_CHECKING:
    from ..core.response import Response, StreamEvent
    from ..core.session import Session

SESSION_MIME = "application/vnd.vel.session+json"
PAYLOAD_VERSION = 1


def turn_payload(session: Session, response: Response) -> dict[str, Any]:
    """This turn's messages with ids, parent ids and usage, for the saved notebook."""
    from ..core.serialize import node_to_dict

    nodes = [session.node(message_id) for message_id in response.message_ids]
    branch = next((b.index for b in session.branches if b.current), None)
    return {
        "version": PAYLOAD_VERSION,
        "kind": "vel_jupyter.turn",
        "session_id": session.session_id,
        "branch": branch,
        "branches": len(session.branches),
        "head": session.head,
        "model": response.model,
        "usage": {"prompt_tokens": response.usage.prompt_tokens, "completion_tokens": response.usage.completion_tokens},
        "messages": [node_to_dict(n) for n in nodes],
    }


def finish_note(response: Response) -> str:
    """The line that says an answer is not whole ('' when it is): shown live, final and in the terminal."""
    if response.refusal is not None:
        return "the model declined to answer"
    if response.finish_reason == "length":
        return "✂ cut off at max_tokens — raise --max-tokens to get the rest"
    if response.finish_reason == "content_filter":
        return "✂ stopped by the provider's content filter — rephrase the prompt to get an answer"
    return ""


def _tool_line(event: StreamEvent) -> str:
    call = event.tool_call
    assert call is not None
    # Names, arguments and results come from the model or tools: all go through
    # safe_markdown like the answer itself.
    if event.type == "tool_call":
        return f"🔧 {safe_markdown(_clip(call.name))} {safe_markdown(_clip(call.arguments))}"
    mark = "⚠️" if event.is_error else "↳"
    return f"{mark} {safe_markdown(_clip(call.name))} → {safe_markdown(_clip(event.text))}"


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LiveView:
    """Draws one streaming turn; ``rich`` for a Jupyter frontend, else plain printing."""

    def __init__(self, *, rich: bool, interval: float = 0.05, header: str = "") -> None:
        self.rich = rich
        self.interval = interval
        self.header = header
        self.text = ""
        self.tools: list[str] = []
        self.updates = 0
        self._handle: Any = None
        self._last_draw = 0.0
        self._last_len = 0
        self._printed = 0

    # -- streaming ----------------------------------------------------------------------

    def start(self) -> None:
        if self.rich:
            from IPython.display import display

            self._handle = display(self._bundle("…"), raw=True, display_id=True)

    def feed(self, event: StreamEvent) -> None:
        if event.type == "text_delta":
            self.text += event.text
        elif event.type in ("tool_call", "tool_result"):
            self.tools.append(_tool_line(event))
            if not self.rich:
                print(f"\n{self.tools[-1]}", flush=True)
        if self.rich:
            self._maybe_draw()
        elif event.type == "text_delta":
            sys.stdout.write(event.text)
            sys.stdout.flush()

    def _maybe_draw(self, force: bool = False) -> None:
        now = time.monotonic()
        since = now - self._last_draw
        grown = len(self.text) - self._last_len
        due = since >= self.interval and (grown * 4 >= self._last_len or since >= 0.5 or grown < 0)
        if force or due:
            self._handle.update(self._bundle(self.text + " ▌"), raw=True)
            self.updates += 1
            self._last_draw, self._last_len = now, len(self.text)

    def _bundle(self, text: str, *, note: str = "") -> dict[str, Any]:
        parts = [self.header] if self.header else []
        if self.tools:
            parts.append("\n".join(f"> {line}" for line in self.tools))
        parts.append(safe_markdown(text))
        if note:
            parts.append(f"*{note}*")
        plain = "\n".join(p for p in (*self.tools, text, f"[{note}]" if note else "") if p)
        return {"text/markdown": "\n\n".join(parts), "text/plain": plain}

    # -- endings ------------------------------------------------------------------------

    def finish(self, bundle: dict[str, Any], note: str = "") -> None:
        """Replace the live view with the final output (``note``: see ``finish_note``)."""
        if self.rich:
            self._handle.update(bundle, raw=True)
            self.updates += 1
        else:
            if self.text and not self.text.endswith("\n"):
                print(flush=True)
            if note:
                print(f"[{note}]", flush=True)

    def stop(self, note: str) -> None:
        """The turn failed or was interrupted: keep the partial text, marked."""
        if self.rich:
            self._handle.update(self._bundle(self.text, note=note), raw=True)
        else:
            print(f"\n[{note}]", flush=True)


def final_bundle(session: Session, response: Response, *, fmt: str = "markdown", header: str = "") -> dict[str, Any]:
    """The one output a finished turn leaves in the notebook."""
    text = response.text
    if response.output is not None:
        markdown = fenced(response.output.model_dump_json(indent=2), "json")
        plain = repr(response.output)
    elif fmt == "code":
        markdown = fenced(extract_code(text), "")
        plain = text
    elif fmt in ("json", "text"):
        markdown = fenced(text, fmt)
        plain = text
    else:
        markdown = safe_markdown(text)
        plain = text
    tools = [f"🔧 {safe_markdown(_clip(c.name))} {safe_markdown(_clip(c.arguments))}" for c in response.tool_calls]
    note = finish_note(response)
    # The note is our own text (no model text in it), so it can be Markdown as written.
    parts = [p for p in (header, "\n".join(f"> {t}" for t in tools), markdown, f"**{note}**" if note else "") if p]
    bundle: dict[str, Any] = {
        "text/markdown": "\n\n".join(parts),
        "text/plain": f"{plain}\n[{note}]" if note else plain,
        SESSION_MIME: turn_payload(session, response),
    }
    if fmt == "json" or response.output is not None:
        with contextlib.suppress(ValueError):  # not JSON after all: Markdown and text only
            bundle["application/json"] = json.loads(response.output.model_dump_json() if response.output else text)
    if fmt == "text":
        bundle.pop("text/markdown")
    return bundle


def fenced(text: str, lang: str) -> str:
    """``text`` as a Markdown code block whose fence no backtick run inside can close."""
    run = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        run = max(run, current)
    fence = "`" * max(3, run + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def extract_code(text: str) -> str:
    """The first fenced code block of ``text``, or the whole text when there is none."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("```")), None)
    if start is None:
        return text.strip()
    fence = lines[start].lstrip()[:3]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith(fence)), len(lines))
    return "\n".join(lines[start + 1 : end])
