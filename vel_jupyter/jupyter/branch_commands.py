"""``%chat fork, branches, checkout, tree``: a session's branches and forks, listed, drawn and
moved between."""

from __future__ import annotations

import argparse
import re
from typing import Any

from IPython.core.error import UsageError

from ..core.branches import branch_through
from ..core.session import Session
from ..errors import ConfigurationError
from .commands import Caller
from .registry import registry
from .running_cell import cell_id, has_frontend, show
from .tables import branch_rows, show_table


def fork(args: argparse.Namespace, caller: Caller) -> None:
    """A new session continuing SRC from its head (or from message --at)."""
    reg = registry()
    source, new, at = reg.get(args.source), args.new, args.at
    if new is not None and new in reg.ids():
        raise UsageError(f"session {new!r} already exists; name a new one (or leave it out for a generated id)")
    try:
        turn = _turns_to(source, at if at is not None else source.head)
    except ConfigurationError:
        turn = 0  # no message of the session: fork() below says so
    name = new or _fork_name(source.session_id, turn)
    made = source.fork(name, at=at) if at is not None else source.fork(name)
    print(
        f"forked {source.session_id!r} at turn {turn} into {made.session_id!r}: %%chat {made.session_id} continues it"
    )


def _fork_name(source: str, turn: int) -> str:
    """A fork's id when none is given, named by where it starts (``demo-turn2``, then ``demo-turn2-2``)."""
    taken = set(registry().ids())
    base = f"{source}-turn{turn}"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def branches(args: argparse.Namespace, caller: Caller) -> None:
    """The session's branches, numbered from 1, each described by where it splits off."""
    show_table(caller.shell, branch_rows(registry().get(args.session_id)))


def checkout(args: argparse.Namespace, caller: Caller) -> None:
    """Continue the session from a branch (its number) or from a message id; with ``--follow``,
    on the branch through that message (so the turns after it come back), else detached there."""
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
    elif args.follow and (through := branch_through(session, target)) is not None:
        # As in a chat app's answer switcher, choosing an answer brings back the turns that followed it.
        session.checkout(through)
        at, end = _turns_to(session, target), _turns(session)
        goes = f"goes on from turn {at} to turn {end}" if end > at else f"ends at turn {at}"
        print(f"{sid!r} now at branch {through + 1} of {count}, which {goes}")
        return
    else:
        session.checkout(target)
    current = session.current_branch
    if current is not None:
        print(f"{sid!r} now at branch {current + 1} of {count}")
        return
    print(f"{sid!r} continues from turn {_turns(session)} (the next %%chat {sid} cell starts a new branch there)")


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
    return _turns_to(session, session.head)


def _turns_to(session: Session, message_id: str | None) -> int:
    """How many turns (user messages) lead to ``message_id`` (a message of the session's tree)."""
    return sum(1 for node in session.path(message_id) if node.message.role == "user")
