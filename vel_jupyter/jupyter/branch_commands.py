"""``%chat fork, branches, checkout, tree``: a session's branches and forks, listed, drawn and
moved between."""

from __future__ import annotations

import argparse
import re
from typing import Any

from IPython.core.error import UsageError

from ..core.session import Session
from .commands import Caller
from .registry import registry
from .running_cell import cell_id, has_frontend, show
from .tables import branch_rows, print_table


def fork(args: argparse.Namespace, caller: Caller) -> None:
    """A new session continuing SRC from its head (or from message --at)."""
    source, new, at = registry().get(args.source), args.new, args.at
    if new is not None and new in registry().ids():
        raise UsageError(f"session {new!r} already exists; name a new one (or leave it out for a generated id)")
    made = source.fork(new, at=at) if at is not None else source.fork(new)
    where = f" at message {at}" if at is not None else ""
    print(f"forked {source.session_id!r}{where} into {made.session_id!r}, which continues from turn {_turns(made)}")


def branches(args: argparse.Namespace, caller: Caller) -> None:
    """The session's branches, numbered from 1, each described by where it splits off."""
    print_table(branch_rows(registry().get(args.session_id)))


def checkout(args: argparse.Namespace, caller: Caller) -> None:
    """Continue the session from a branch (its number) or from a message id."""
    sid, target = args.session_id, args.target
    session = registry().get(sid)
    count = len(session.heads)
    if re.fullmatch(r"-?[0-9]+", target):  # ASCII digits only: '²'.isdigit() is True, int('²') fails
        number = int(target) if len(target) <= 9 else count + 1
        if not 1 <= number <= count:
            shown = target if len(target) <= 12 else target[:9] + "…"
            raise UsageError(
                f"no branch {shown}: session {sid!r} has {count} (numbered 1 to {count}; "
                f"%chat branches {sid} lists them)"
                if count
                else f"session {sid!r} has no branches yet: run a %%chat {sid} cell first"
            )
        session.checkout(number - 1)
    else:
        session.checkout(target)
    current = session.current_branch
    if current is not None:
        print(f"{sid!r} now at branch {current + 1} of {count}")
        return
    print(
        f"{sid!r} continues from turn {_turns(session)} (message {session.head}; "
        f"the next %%chat {sid} cell starts a new branch there)"
    )


def tree(args: argparse.Namespace, caller: Caller) -> Any:
    """The fork tree of a session and its forks; kept up to date as the family changes."""
    reg = registry()
    session = reg.get(args.session_id or caller.default_session)
    if args.widget:  # for frontends with a widget manager and without the vel-jupyter extension
        from .. import tree as tree_widget

        return tree_widget(session)
    from .tree_data import family
    from .tree_view import tree_bundle

    members = family(session, reg.agent.loaded_sessions())
    bundle = tree_bundle(session, members)
    if not has_frontend(caller.shell):
        print(bundle["text/plain"])
        return None
    handle = show(bundle, display_id=True)
    cell = cell_id(caller.shell, "tree", f"{args.session_id or ''} {'--widget' if args.widget else ''}".strip())
    reg.shown_trees.add(session, handle.display_id, members, cell=cell)
    return None


def _turns(session: Session) -> int:
    """How many turns (user messages) lead to the session's head."""
    return sum(1 for node in session.nodes if node.message.role == "user")
