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
"""

from __future__ import annotations

import contextlib
import html
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from ..formats.kinds import PAYLOAD_VERSION, SESSION_MIME, TURN_KIND
from .live_text import LiveText, elided_note

if TYPE_CHECKING:
    from ..core.response import Response, StreamEvent
    from ..core.session import Session

# Shown on every answer of the offline echo provider, so nobody mistakes it for a model.
ECHO_NOTE = "offline echo — set OPENAI_API_KEY or --base-url to use a model"


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
    alternatives = turn_alternatives(session, nodes)
    if len(alternatives) > 1:
        payload["alternatives"] = alternatives
    return payload


MAX_ALTERNATIVES = 20  # answers of one cell kept in its output (the newest)


def turn_alternatives(session: Session, nodes: list[Any]) -> list[dict[str, Any]]:
    """Every answer this cell's turn has had (its re-runs: user messages beside this one,
    from the same cell), oldest first, each as ``{"head", "current", "messages"}``: what the
    output's 2/3 switcher flips between, with a kernel or without one.
    """
    from ..core.serialize import node_to_dict

    first = next((n for n in nodes if n.message.role == "user"), None)
    if first is None:
        return []
    siblings = [
        n
        for n in session.children(first.parent_id)
        if n.message.role == "user" and (first.cell_id is None or n.cell_id == first.cell_id)
    ][-MAX_ALTERNATIVES:]
    out = []
    for sibling in siblings:
        turn = [sibling]
        while True:  # down the first child until the next turn starts
            below = [c for c in session.children(turn[-1].id) if c.message.role != "user"]
            if not below:
                break
            turn.append(below[0])
        out.append(
            {"head": turn[-1].id, "current": sibling.id == first.id, "messages": [node_to_dict(n) for n in turn]}
        )
    return out


def finish_note(response: Response, default_cap: int | None = None) -> str:
    """The line that says an answer is not whole ('' when it is): shown live, final and in the terminal.

    ``default_cap``: the notebook's cap the turn ran under (``%config ChatMagics.max_tokens``)."""
    if response.refusal is not None:
        return "the model declined to answer"
    if response.finish_reason == "length" and default_cap:
        return (
            f"✂ cut off at the {default_cap}-token default cap — raise --max-tokens "
            "(or %config ChatMagics.max_tokens) to get the rest"
        )
    if response.finish_reason == "length":
        return "✂ cut off at max_tokens — raise --max-tokens to get the rest"
    if response.finish_reason == "content_filter":
        return "✂ stopped by the provider's content filter — rephrase the prompt to get an answer"
    return ""


def _tool_parts(event: StreamEvent) -> tuple[str, tuple[str, str, str, str]]:
    """The plain text of one streamed tool call or result line, and the parts ``_tool_html`` takes."""
    call = event.tool_call
    assert call is not None
    if event.type == "tool_call":
        return _tool_line(call.name, call.arguments)
    return _tool_line(call.name, event.text, result=True, is_error=event.is_error)


def _tool_line(
    name: str, text: str, *, result: bool = False, is_error: bool = False
) -> tuple[str, tuple[str, str, str, str]]:
    """One tool line (a call's arguments, or a result), live or final: its text and its parts."""
    mark, sep = ("⚠️" if is_error else "↳", " → ") if result else ("🔧", " ")
    name, arg = _clip(name), _clip(text)
    return f"{mark} {name}{sep}{arg}", (mark, name, sep, arg)


def _tool_html(mark: str, name: str, sep: str, arg: str) -> str:
    # Names, arguments and results come from the model or tools: each is its own escaped
    # <code>, and the line is a fixed template around them (render.assemble cleans it again).
    from ..render import assemble, inline_code

    return assemble(
        '<p class="vel-tool" style="margin: 0; color: #57606a">{mark} {name}{sep}{arg}</p>',
        mark=mark,
        name=inline_code(name),
        sep=sep,
        arg=inline_code(arg),
    )


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def usage_line(response: Response, default_cap: int | None = None) -> str:
    """The turn's one usage line: prompt → completion tokens · model · latency · first token
    (· the default cap, when the turn ran under it)."""
    usage = response.usage
    parts = [f"{usage.prompt_tokens} → {usage.completion_tokens} tokens"]
    if response.model:
        parts.append(response.model)
    if response.latency_ms:
        parts.append(_ms(response.latency_ms))
    if response.ttft_ms is not None:
        parts.append(f"first token {_ms(response.ttft_ms)}")
    if default_cap:
        parts.append(f"default cap {default_cap}")
    return " · ".join(parts)


_ECHO_STYLE = "padding: 1px 8px; border: 1px solid #9a6700; border-radius: 10px; color: #9a6700; font-size: 0.85em"
_NOTE_STYLE = "margin: 6px 0; padding: 2px 8px; border-left: 3px solid #d4a72c; color: #9a6700; font-weight: bold"
_USAGE_STYLE = "margin: 4px 0 0 0; color: #6e7781; font-size: 0.85em"
_PROMPT_STYLE = "color: #6e7781; font-size: 0.85em"
_STALE_STYLE = "margin: 2px 0 0 0; color: #9a6700; font-size: 0.85em; font-style: italic"


def turn_html(
    answer_html: str,
    *,
    tools: list[str] | tuple[str, ...] = (),
    prompt: str | None = None,
    note: str = "",
    usage: str = "",
    stale: str = "",
    echo: bool = False,
) -> str:
    """One turn's HTML: a fixed template around sanitized fragments, cleaned once more.

    ``answer_html`` and ``tools`` are already sanitized HTML; ``prompt`` (shown collapsed, only
    when it differs from the cell body), ``note`` and ``usage`` are text and are escaped here.
    ``echo``: the offline echo provider answered (a badge says so above the answer).
    """
    from ..render import assemble, text_to_html

    parts: dict[str, str] = {
        "prompt": "",
        "tools": "",
        "note": "",
        "usage": "",
        "stale": "",
        "echo": "",
        "answer": answer_html,
    }
    if prompt is not None:
        parts["prompt"] = assemble(
            '<details class="vel-prompt"><summary style="{style}">prompt sent (after {{name}} interpolation)</summary>'
            "{text}</details>",
            style=_PROMPT_STYLE,
            text=text_to_html(prompt),
        )
    if tools:
        parts["tools"] = assemble('<div class="vel-tools">{lines}</div>', lines="".join(tools))
    if note:
        parts["note"] = assemble('<p class="vel-note" style="{s}">{t}</p>', s=_NOTE_STYLE, t=html.escape(note))
    if usage:
        parts["usage"] = assemble('<p class="vel-usage" style="{s}">{t}</p>', s=_USAGE_STYLE, t=html.escape(usage))
    if stale:
        parts["stale"] = assemble('<p class="vel-stale" style="{s}">{t}</p>', s=_STALE_STYLE, t=html.escape(stale))
    if echo:
        parts["echo"] = assemble(
            '<p class="vel-echo" style="margin: 0 0 6px 0"><span style="{s}">{t}</span></p>',
            s=_ECHO_STYLE,
            t=html.escape(ECHO_NOTE),
        )
    return assemble(
        '<div class="vel-turn">{prompt}{echo}{tools}<div class="vel-answer">{answer}</div>{note}{usage}{stale}</div>',
        **parts,
    )


# Characters of the answer a live frame carries at most (a few screens): the stream's cost per
# frame stays bounded whatever the answer's length; the final output carries all of it.
LIVE_WINDOW = 16_000
_ELIDED_STYLE = "margin: 0 0 6px 0; color: #6e7781; font-size: 0.85em; font-style: italic"


class LiveView:
    """Draws one streaming turn; ``rich`` for a Jupyter frontend, else plain printing.

    Each rich frame carries sanitized HTML, the text, and a live turn payload (``"live":
    true``, no ids or usage yet) so our JupyterLab renderer draws the stream with the same
    layout as the final output. A frame carries at most the last ``window`` characters of the
    answer, cut where a Markdown block starts, under a line that says how much is above (in the
    HTML, the text and the payload's message content alike): a frame costs the same at any
    length, and the text is a list of chunks, never re-copied per token. A saved
    notebook keeps only the final output; a notebook saved mid-stream keeps a live frame,
    which ``export.notebook`` does not read as a turn.
    """

    clock = staticmethod(time.monotonic)  # (tests stream on a fake clock)

    def __init__(
        self,
        *,
        rich: bool,
        interval: float = 0.05,
        prompt: str | None = None,
        session_id: str = "",
        fmt: str = "markdown",
        provider: str = "",
        window: int = LIVE_WINDOW,
    ) -> None:
        self.rich = rich
        self.provider = provider  # "echo": every frame says it is the offline echo
        self.interval = interval
        self.prompt = prompt  # shown (collapsed) only when it differs from the cell body
        self.session_id = session_id
        self.fmt = fmt
        self.window = window
        self._text = LiveText()
        self.tools: list[str] = []
        self._tools_html: list[str] = []
        # The live payload's messages, in stream order. An assistant message's content is not
        # kept here: it is the stretch of the text from its entry in _text_at to the next one's.
        self._messages: list[dict[str, Any]] = []
        self._text_at: list[int | None] = []
        self.updates = 0
        self._handle: Any = None
        self._last_draw = 0.0
        self._last_len = 0
        self._start, self._reopen = 0, ""  # see _shown_from

    @property
    def text(self) -> str:
        """The answer's text so far (every assistant message's, in order)."""
        return str(self._text)

    @text.setter
    def text(self, value: str) -> None:
        self._text = LiveText(value)

    # -- streaming ----------------------------------------------------------------------

    def start(self) -> None:
        if self.rich:
            from IPython.display import display

            self._handle = display(self._bundle("…"), raw=True, display_id=True)

    def feed(self, event: StreamEvent) -> None:
        if event.type == "text_delta":
            self._assistant()
            self._text.append(event.text)
        elif event.type in ("tool_call", "tool_result"):
            plain, parts = _tool_parts(event)
            self.tools.append(plain)
            call = event.tool_call
            assert call is not None
            if event.type == "tool_call":
                self._assistant()["tool_calls"].append({"id": call.id, "name": call.name, "arguments": call.arguments})
            else:
                self._add("tool", None, content=event.text, name=call.name)
            if self.rich:
                self._tools_html.append(_tool_html(*parts))
            else:
                print(f"\n{plain}", flush=True)
        if self.rich:
            self._maybe_draw()
        elif event.type == "text_delta":
            sys.stdout.write(event.text)
            sys.stdout.flush()

    def _add(self, role: str, text_at: int | None, **fields: Any) -> dict[str, Any]:
        message = {"id": f"live-{len(self._messages)}", "role": role, **fields}
        self._messages.append(message)
        self._text_at.append(text_at)
        return message

    def _assistant(self) -> dict[str, Any]:
        """The assistant message being streamed (a new one after a tool result)."""
        if not self._messages or self._messages[-1]["role"] != "assistant":
            return self._add("assistant", len(self._text), content="", tool_calls=[])
        return self._messages[-1]

    def _maybe_draw(self, force: bool = False) -> None:
        now = self.clock()
        since = now - self._last_draw
        size = len(self._text)
        grown = size - self._last_len
        due = since >= self.interval and (grown * 4 >= self._last_len or since >= 0.5 or grown < 0)
        if force or due:
            start, reopen = self._shown_from()
            self._handle.update(self._bundle(reopen + self._text.slice(start) + " ▌", start, reopen), raw=True)
            self.updates += 1
            # Timed from the end of the draw: a slow frame cannot make every token draw one.
            self._last_draw, self._last_len = self.clock(), size

    def _shown_from(self) -> tuple[int, str]:
        """Where live frames start the answer, and the fence they start inside ('' if none).

        The start stays put while what is shown grows to ``window`` characters, then moves on
        to leave about half a window: the view pages forward now and then instead of
        scrolling under the reader on every frame.
        """
        if not 0 <= len(self._text) - self._start <= self.window:
            self._start, self._reopen = self._text.tail(self.window // 2)
        return self._start, self._reopen

    def _bundle(self, text: str, elided: int = 0, reopen: str = "", *, note: str = "") -> dict[str, Any]:
        """A live frame showing ``text``: the answer from character ``elided`` on (``reopen``:
        the fence it starts inside), or the whole answer."""
        from ..render import assemble, markdown_to_html

        echo = self.provider == "echo"
        answer = markdown_to_html(text)
        above = elided_note(elided) if elided else ""
        if above:
            answer = assemble('<p style="{s}">{t}</p>', s=_ELIDED_STYLE, t=html.escape(above)) + answer
        markup = turn_html(answer, tools=self._tools_html, prompt=self.prompt, note=note, echo=echo)
        plain = "\n".join(
            p
            for p in (
                f"[{ECHO_NOTE}]" if echo else "",
                *self.tools,
                f"[{above}]" if above else "",
                text,
                f"[{note}]" if note else "",
            )
            if p
        )
        live: dict[str, Any] = {
            "version": PAYLOAD_VERSION,
            "kind": TURN_KIND,
            "live": True,
            "session_id": self.session_id,
            "provider": self.provider,
            "format": self.fmt,
            "messages": self._live_messages(elided, f"{above}\n\n{reopen}" if above else ""),
        }
        if self.prompt is not None:
            live["prompt"] = self.prompt
        if note:
            live["note"] = note
        return {"text/html": markup, "text/plain": plain, SESSION_MIME: live}

    def _live_messages(self, start: int, lead: str) -> list[dict[str, Any]]:
        """The payload's messages, their text from character ``start`` on: the first message
        shown begins with ``lead`` (what is above); tool arguments and results are clipped to
        the window as well."""
        ends = iter([*(at for at in self._text_at if at is not None), len(self._text)][1:])
        out: list[dict[str, Any]] = []
        for message, at in zip(self._messages, self._text_at, strict=True):
            if at is None:
                out.append({**message, "content": self._clipped(message["content"])})
                continue
            end = next(ends)
            content = self._text.slice(max(at, start), end)
            if lead and end > start:
                content, lead = lead + content, ""
            calls = [{**call, "arguments": self._clipped(call["arguments"])} for call in message["tool_calls"]]
            out.append({**message, "content": content, "tool_calls": calls})
        return out

    def _clipped(self, text: str) -> str:
        return text if len(text) <= self.window else text[: self.window] + "…"

    @property
    def handle(self) -> Any:
        """The display this view draws in (None in a terminal), for updates after the turn."""
        return self._handle

    # -- endings ------------------------------------------------------------------------

    def finish(self, bundle: dict[str, Any], note: str = "") -> None:
        """Replace the live view with the final output (``note``: see ``finish_note``)."""
        if self.rich:
            self._handle.update(bundle, raw=True)
            self.updates += 1
        else:
            if self._text and not self._text.slice(len(self._text) - 1).endswith("\n"):
                print(flush=True)
            if note:
                print(f"[{note}]", flush=True)
            if self.provider == "echo":
                print(f"[{ECHO_NOTE}]", flush=True)

    def stop(self) -> None:
        """The turn failed or was interrupted. The error line under the view says which, and
        that the session is unchanged (once); the view keeps a partial answer, labelled as
        such, or goes away when nothing was shown."""
        if self.rich:
            if self._text or self.tools:  # the whole partial answer, once
                self._handle.update(self._bundle(self.text, note=PARTIAL_NOTE), raw=True)
            else:
                from IPython.display import clear_output

                # Our display is the cell's only output (tools, which could print, have not
                # run): no empty output is left above the error.
                clear_output()
        elif self._text or self.tools:
            print(f"\n[{PARTIAL_NOTE}]", flush=True)


PARTIAL_NOTE = "partial answer, not kept"


def stale_note(session_id: str) -> str:
    """The quiet line under a turn the session's current path no longer goes through."""
    return f"not on the current branch of {session_id} (%chat branches {session_id} lists them)"


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
    tools = _turn_tools(response)
    if payload is None:
        payload = turn_payload(session, response, fmt=fmt, prompt=prompt, default_cap=default_cap)
    data = dict(payload)
    cap = data.get("default_cap") if isinstance(data.get("default_cap"), int) else None
    note = finish_note(response, cap)
    stale = "" if current else stale_note(session.session_id)
    usage = usage_line(response, cap)
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


def _turn_tools(response: Response) -> list[str]:
    """The turn's tool-call and tool-result lines, in order, as the live view drew them."""
    lines = []
    for message in response.messages:
        for call in message.tool_calls:
            lines.append(_tool_html(*_tool_line(call.name, call.arguments)[1]))
        if message.role == "tool":  # a stored result keeps no error flag: tools' errors start "Error: "
            error = message.content.startswith("Error: ")
            lines.append(
                _tool_html(*_tool_line(message.name or "tool", message.content, result=True, is_error=error)[1])
            )
    return lines


def show_html(session: Session) -> str:
    """``%chat show``: the system prompt and every message of the current branch, as HTML.

    Each message is rendered on its own (Markdown for the conversation, verbatim text for
    tool results) and put in a fixed template under its role: no prefix is ever glued to
    model text.
    """
    from ..render import assemble, markdown_to_html, text_to_html

    def block(role: str, body: str) -> str:
        return assemble(
            '<div class="vel-msg"><p class="vel-role" style="{s}">{role}</p>{body}</div>',
            s=_ROLE_STYLE,
            role=html.escape(role),
            body=body,
        )

    blocks = [block("system", text_to_html(session.system))] if session.system else []
    for message in session.messages:
        body = text_to_html(message.content) if message.role == "tool" else markdown_to_html(message.content)
        echo = message.meta is not None and message.meta.provider == "echo"
        blocks.append(block(f"{message.role} · {ECHO_NOTE}" if echo else message.role, body))
    if not blocks:
        blocks.append(assemble("<p><em>(empty)</em></p>"))
    return assemble('<div class="vel-show">{blocks}</div>', blocks="".join(blocks))


_ROLE_STYLE = "margin: 10px 0 2px 0; color: #6e7781; font-size: 0.8em; font-weight: bold; text-transform: uppercase"


def _code_lang(text: str) -> str:
    """The language of the first fenced code block of ``text`` ('' when it names none or has none)."""
    from ..render import first_code_block

    block = first_code_block(text)
    return block[1] if block else ""


def extract_code(text: str) -> str:
    """The first fenced code block of ``text``, or the whole text when there is none."""
    from ..render import first_code_block

    block = first_code_block(text)
    return block[0] if block else text.strip()
