"""A turn while it streams: a live, coalesced view (see ``display`` for the whole story)."""

from __future__ import annotations

import html
import sys
import time
from typing import TYPE_CHECKING, Any

from ..formats.kinds import PAYLOAD_VERSION, SESSION_MIME, TURN_KIND
from .live_text import LiveText, elided_note
from .texts import ECHO_NOTE, PARTIAL_NOTE
from .turn_html import tool_html, tool_parts, turn_html

if TYPE_CHECKING:
    from ..core.response import StreamEvent

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

            self._handle = display(self._bundle("…"), raw=True, display_id=True)  # type: ignore[no-untyped-call]

    def feed(self, event: StreamEvent) -> None:
        if event.type == "text_delta":
            self._assistant()
            self._text.append(event.text)
        elif event.type in ("tool_call", "tool_result"):
            plain, parts = tool_parts(event)
            self.tools.append(plain)
            call = event.tool_call
            assert call is not None
            if event.type == "tool_call":
                self._assistant()["tool_calls"].append({"id": call.id, "name": call.name, "arguments": call.arguments})
            else:
                self._add("tool", None, content=event.text, name=call.name)
            if self.rich:
                self._tools_html.append(tool_html(*parts))
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

    def draw(self) -> None:
        """Draw the frame now, whatever the interval (the final output replaces it)."""
        self._maybe_draw(force=True)

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
        if echo:
            live["echo_note"] = ECHO_NOTE
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
        """The turn failed, or was stopped with nothing kept (a stop that keeps the answer so far
        ends with ``finish``, as any turn). The error line under the view says which, and that
        the session is unchanged (once); the view keeps a partial answer, labelled as such, or
        goes away when nothing was shown."""
        if self.rich:
            if self._text or self.tools:  # the whole partial answer, once
                self._handle.update(self._bundle(self.text, note=PARTIAL_NOTE), raw=True)
            else:
                from IPython.display import clear_output

                # Our display is the cell's only output (tools, which could print, have not
                # run): no empty output is left above the error.
                clear_output()  # type: ignore[no-untyped-call]
        elif self._text or self.tools:
            print(f"\n[{PARTIAL_NOTE}]", flush=True)
