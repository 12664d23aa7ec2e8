"""The HTML copy of our outputs: a fixed template around sanitized fragments (``render``),
which every viewer shows (JupyterLab without the extension, classic Notebook, VS Code,
nbconvert, GitHub). Texts come from ``texts``; model text is rendered by ``vel_jupyter.render``.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from .texts import ECHO_NOTE

if TYPE_CHECKING:
    from ..core.response import Response, StreamEvent
    from ..core.session import Session


def tool_parts(event: StreamEvent) -> tuple[str, tuple[str, str, str, str]]:
    """The plain text of one streamed tool call or result line, and the parts ``tool_html`` takes."""
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


def tool_html(mark: str, name: str, sep: str, arg: str) -> str:
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


_ECHO_STYLE = "padding: 1px 8px; border: 1px solid #9a6700; border-radius: 10px; color: #9a6700; font-size: 0.85em"
_NOTE_STYLE = "margin: 6px 0; padding: 2px 8px; border-left: 3px solid #d4a72c; color: #9a6700; font-weight: bold"
_USAGE_STYLE = "margin: 4px 0 0 0; color: #6e7781; font-size: 0.85em"
_PROMPT_STYLE = "color: #6e7781; font-size: 0.85em"
_STALE_STYLE = "margin: 4px 0; padding: 2px 8px; border-left: 3px solid #0969da"  # plain, like the answer


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


def turn_tools(response: Response) -> list[str]:
    """The turn's tool-call and tool-result lines, in order, as the live view drew them."""
    lines = []
    for message in response.messages:
        for call in message.tool_calls:
            lines.append(tool_html(*_tool_line(call.name, call.arguments)[1]))
        if message.role == "tool":  # a stored result keeps no error flag: tools' errors start "Error: "
            error = message.content.startswith("Error: ")
            lines.append(
                tool_html(*_tool_line(message.name or "tool", message.content, result=True, is_error=error)[1])
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
