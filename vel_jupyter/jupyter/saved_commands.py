"""``%chat restore`` and ``%chat export``: sessions brought back from the store or a saved
notebook, and one session saved as JSON in an output or a file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from IPython.core.error import UsageError

from ..errors import SessionDataError, StoreError
from .commands import Caller, usage_of
from .registry import registry
from .running_cell import show
from .tables import print_servers

if TYPE_CHECKING:
    from ..export.notebook_restore import Restored


def restore(args: argparse.Namespace, caller: Caller) -> None:
    """Sessions from the store, or from a saved notebook's outputs (no store needed)."""
    if args.notebook is not None:
        from ..export.notebook_restore import restore_sessions

        path = args.notebook
        try:
            restored = restore_sessions(path, registry(), replace=args.replace)
        except (SessionDataError, StoreError, OSError) as exc:
            raise UsageError(f"cannot restore from {path}: {exc}") from None
        print(restored_line(restored, path))
        for line in restored.skipped:
            print(line)
        print_servers(restored.ids)
        return
    if args.replace:
        raise UsageError(f"--replace goes with --notebook PATH; {usage_of('restore')}")
    ids = registry().restore()
    print(f"restored {counted(len(ids), 'session')}: {', '.join(ids)}" if ids else "no stored sessions to restore")
    print_servers(ids)


def restored_line(restored: Restored, path: str) -> str:
    """What a notebook restore brought back, in one sentence."""
    if not restored.ids:
        return f"no session of {path} could be restored" if restored.skipped else f"no sessions in {path}"
    parts = [counted(len(restored.ids), "session"), counted(restored.turns, "turn")]
    if restored.alternatives:
        parts.append(counted(restored.alternatives, "alternative answer"))
    listed = f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"restored {listed} from {path}: {', '.join(restored.ids)}"


def counted(number: int, noun: str) -> str:
    """``1 session``, ``2 sessions``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def export(args: argparse.Namespace, caller: Caller) -> None:
    """The whole session as JSON: in this cell's output, or written to --file."""
    sid, path = args.session_id, args.file
    session = registry().get(sid)
    if path is not None:
        target = Path(path).expanduser()
        try:
            target.write_text(json.dumps(session.to_dict(), indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {target}: {exc}") from None
        print(f"exported session {sid!r} to {target}")
        return
    from ..export.notebook import export_bundle

    show(export_bundle(session))
