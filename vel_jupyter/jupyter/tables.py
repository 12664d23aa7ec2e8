"""What ``%chat`` commands print, computed from the kernel's sessions: each setting with its
value and where it comes from, branches described by where they split off, restored sessions
with their servers; and the plain column layout they share."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..core.branches import branch_splits
from ..core.secrets import KEYRING
from ..core.session import Session
from ..errors import ConfigurationError
from .registry import registry


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
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


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
    ]  # fmt: skip
    return rows


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
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
