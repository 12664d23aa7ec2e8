"""What ``%chat`` commands print, computed from the kernel's sessions: each setting with its
value and where it comes from, branches described by where they split off, restored sessions
with their servers; and the plain column layout they share."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from ..core.branches import branch_splits
from ..core.secrets import KEYRING
from ..core.session import Session
from ..errors import ConfigurationError
from .registry import registry
from .running_cell import has_frontend, show


def print_servers(ids: list[str]) -> None:
    """Each restored session and the server it talks to; one that came with the data (not
    named in this process) is said to wait until the user names it."""
    rows = []
    for sid in ids:
        session = registry().get(sid)
        url = session.settings.get("base_url")
        if url is None:
            rows.append((sid, f"{session.provider_name} (this kernel's default)"))
        elif KEYRING.accepted(url):
            rows.append((sid, str(url)))
        else:
            rows.append((sid, f"{url}: not contacted until you name it (%chat config {sid} --base-url {url})"))
    if rows:
        print_table([("session", "server"), *rows], indent="  ")


def print_table(rows: Sequence[tuple[str, ...]], indent: str = "") -> None:
    """Rows as left-aligned columns (the first row is the header)."""
    print(table_text(rows, indent))


def table_text(rows: Sequence[tuple[str, ...]], indent: str = "") -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        (indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip() for row in rows
    )


def table_html(rows: Sequence[tuple[str, ...]]) -> str:
    """Rows as an HTML table (the first row is the header): every cell escaped into a fixed
    template, and the whole sanitized (``render.assemble``)."""
    from ..render import assemble

    cell = "padding: 2px 12px 2px 0; text-align: left"
    head = "".join(f'<th style="{cell}">{html.escape(c)}</th>' for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f'<td style="{cell}">{html.escape(c)}</td>' for c in row) + "</tr>" for row in rows[1:]
    )
    return assemble(
        '<table style="border-collapse: collapse"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>',
        head=head,
        body=body,
    )


def show_table(shell: Any, rows: Sequence[tuple[str, ...]], notes: Sequence[str] = ()) -> None:
    """A table as the cell's output: HTML in a frontend (no wrapping mid-word, as a text table
    in a narrow output did), text columns in a terminal; ``notes`` are lines below it."""
    text = "\n".join([table_text(rows), *notes])
    if not has_frontend(shell):
        print(text)
        return
    extra = "".join(f'<p style="margin: 4px 0">{html.escape(note)}</p>' for note in notes)
    show({"text/html": table_html(rows) + extra, "text/plain": text})


def from_config(session: Session, name: str) -> bool:
    """Whether the session's setting ``name`` is the %config default it was created with."""
    settings = session.settings
    return name in settings and registry().defaults.get(name) == settings[name]


def default_cap(session: Session) -> int | None:
    """The notebook's answer cap for a turn of ``session`` that sets none (None: the session's
    own params cap it, or there is no cap)."""
    own = {**session.agent.params, **session.params}
    if "max_tokens" in own or "max_completion_tokens" in own:
        return None
    return registry().max_tokens


def _cap_row(session: Session) -> tuple[str, str, str]:
    own = {**session.agent.params, **session.params}
    for name in ("max_tokens", "max_completion_tokens"):
        if name in own:
            return ("max_tokens", str(own[name]), "this session's params (a cell's --max-tokens wins)")
    cap = registry().max_tokens
    if cap is None:
        return ("max_tokens", "none", "%config ChatMagics.max_tokens = None (answers are not capped)")
    return ("max_tokens", str(cap), "%config ChatMagics.max_tokens, the default cap (a cell's --max-tokens wins)")


# What each source of a setting (``Session.setting_sources``) is called in ``%chat config``.
_SOURCES = {
    "agent": "the agent's default",
    "default": "the agent's default",
    "environment": "the agent's default",
    "store": "the store's",
}
_URL_SOURCES = {"agent": "the agent's default", "environment": "$OPENAI_BASE_URL", "default": "the provider's default"}


def config_rows(session: Session) -> list[tuple[str, str, str]]:
    """``%chat config``: each setting's effective value and where it comes from."""
    settings = session.settings
    sources = session.setting_sources()

    def source(name: str, names: dict[str, str] = _SOURCES) -> str:
        where = sources.get(name)
        if where == "session":
            if from_config(session, name):
                return f"this session (from %config ChatMagics.{name} when it was created)"
            return "this session"
        return names.get(where or "", "-")

    try:
        url = getattr(session.provider, "base_url", None)
    except ConfigurationError:  # its URL's key is not in this kernel: show the stored form
        url = settings.get("base_url")
    rows = [
        ("model", session.model, source("model")),
        ("provider", session.provider_name, source("provider")),
        ("base_url", str(url or ("-" if session.provider_name != "openai" else "https://api.openai.com/v1")),
         source("base_url", _URL_SOURCES)),
        ("params", json.dumps(session.params) if session.params else "-", source("params")),
        ("ttl", "-" if session.ttl is None else f"{session.ttl:g} s", source("ttl")),
        ("system", _preview(session.system or "", 50) if session.system else "-", "-s/--system, %chat system"),
        _cap_row(session),
        _keep_stopped_row(),
    ]  # fmt: skip
    return rows


def _keep_stopped_row() -> tuple[str, str, str]:
    """What a stop keeps: ``%config ChatMagics.keep_stopped`` (the registry holds it, as the cap)."""
    keep = registry().keep_stopped
    what = "a stopped turn keeps its answer so far" if keep else "a stopped turn leaves the session as it was"
    return ("keep_stopped", str(keep), f"%config ChatMagics.keep_stopped ({what})")


def branch_rows(session: Session) -> list[tuple[str, ...]]:
    """``%chat branches``: one row per branch, described by where it splits from the others
    (branches that split early would look alike by their last message alone)."""
    rows: list[tuple[str, ...]] = [("", "branch", "messages", "splits off at", "last message")]
    for branch in branch_splits(session):
        if branch.split is not None:
            own = branch.split.message
            split = f"turn {branch.split_turn} ({own.role}): {_preview(own.content, 40)}"
        else:
            split = "(ends inside another branch)" if branch.ends_inside else "-"
        mark = "*" if branch.current else ""
        rows.append((mark, str(branch.number), str(branch.messages), split, _preview(branch.last, 50)))
    if session.current_branch is None:
        rows.append(("*", "-", str(len(session.nodes)), f"detached at message {session.head}", ""))
    return rows


def _preview(text: str, limit: int) -> str:
    """A message as one line of the words a reader sees (no ``**`` or fences), quoted."""
    from ..render import markdown_to_text

    return repr(markdown_to_text(text, limit))
