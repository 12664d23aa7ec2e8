"""``%chat config`` and ``%chat store``: a session's sticky settings, and where the kernel's
sessions are stored."""

from __future__ import annotations

import argparse

from IPython.core.error import UsageError

from ..errors import AgentError
from .commands import SETTINGS, Caller
from .registry import registry
from .tables import config_rows, print_table


def config(args: argparse.Namespace, caller: Caller) -> None:
    """Show a session's settings with where each comes from; set or --reset them first."""
    sid = args.session_id
    session = registry().get(sid)
    if args.reset is not None:
        names = args.reset or [k for k in SETTINGS if k in session.settings]
        unknown = [n for n in names if n not in SETTINGS]
        if unknown:
            raise UsageError(f"unknown setting {unknown[0]!r}; a session's settings are {', '.join(SETTINGS)}")
        session.configure(**dict.fromkeys(names))
        print(f"reset {', '.join(names) if names else 'nothing (no settings were set)'} of session {sid!r}")
    chosen = {k: v for k, v in (("base_url", args.base_url), ("model", args.model), ("provider", args.provider)) if v}
    if chosen.get("base_url"):
        require_http_url(chosen["base_url"])
    if chosen:  # naming a URL here is what lets a restored session talk to it (core/secrets.py)
        session.configure(**chosen)
        print(f"session {sid!r} now uses " + ", ".join(f"{k} {session.settings.get(k)}" for k in chosen))
    print(f"session {sid!r} (a cell's -m/-p/--base-url sticks here; %chat config {sid} --reset removes it):")
    print_table([("setting", "value", "from"), *config_rows(session)], indent="  ")


def store(args: argparse.Namespace, caller: Caller) -> None:
    """Show the store; with a URL, move the kernel's sessions to it first."""
    if args.url:
        switch_store(args.url)
    current = registry().agent.store
    print(f"store: {current!r}" if current is not None else "store: memory (this kernel only)")


def switch_store(spec: str) -> None:
    """Move the kernel's sessions to the store ``spec``; a failure is one UsageError line."""
    try:
        registry().use_store(spec)
    except AgentError as exc:
        raise UsageError(str(exc)) from None


def require_http_url(url: str) -> None:
    """A server URL given as --base-url must be http(s)."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--base-url {url!r} must be an http(s) URL, e.g. http://localhost:11434/v1")
