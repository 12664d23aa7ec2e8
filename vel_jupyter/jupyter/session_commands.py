"""``%chat list, show, history, get, system, clear, delete``: the kernel's sessions listed, one
session shown or handed over, and its system prompt and lifetime."""

from __future__ import annotations

import argparse
from typing import Any

from ..core.session import Session
from .commands import Caller
from .registry import registry
from .running_cell import show
from .tables import show_table


def list_sessions(args: argparse.Namespace, caller: Caller) -> None:
    """Every session in a table; a damaged one listed beside the others with what is wrong."""
    rows = [("id", "model", "messages", "branches", "tokens", "updated")]
    damaged = []
    for line in registry().summaries():  # headers only: listing loads no messages
        if line.damaged is not None:  # listed beside the others, with what is wrong
            damaged.append(line)
            rows.append((line.session_id, "damaged: see below", "?", "?", "?", "?"))
            continue
        rows.append(
            (
                line.session_id,
                line.model,
                str(line.messages),
                str(line.branches),
                str(line.tokens),
                line.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            )
        )
    if len(rows) == 1:
        print("no sessions yet: run a %%chat cell")
        return
    show_table(caller.shell, rows, [f"{line.session_id}: {line.damaged}" for line in damaged])


def show_session(args: argparse.Namespace, caller: Caller) -> None:
    """The session's conversation as the cell's output."""
    session = registry().get(args.session_id)
    from .display import show_html

    show({"text/html": show_html(session), "text/plain": repr(session)})


def history(args: argparse.Namespace, caller: Caller) -> Any:
    """The session as a DataFrame (the cell's value)."""
    from .. import history as session_history

    return session_history(registry().get(args.session_id), branches=args.branches)


def get(args: argparse.Namespace, caller: Caller) -> Session:
    return registry().get(args.session_id)


def system(args: argparse.Namespace, caller: Caller) -> None:
    registry().get(args.session_id, create=True).system = " ".join(args.text)


def clear(args: argparse.Namespace, caller: Caller) -> None:
    registry().get(args.session_id).clear()


def delete(args: argparse.Namespace, caller: Caller) -> None:
    registry().delete(args.session_id)
