"""Writing sessions for a notebook: ``%chat export``'s output bundle, and a full record embedded
in a notebook's metadata without a kernel."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from ..core.session import Session
from ..errors import SessionDataError
from ..formats.kinds import METADATA_KEY
from .notebook_read import EXPORT_MIME, json_value, parse_export, read_notebook


def export_bundle(session: Session) -> dict[str, Any]:
    """The output of ``%chat export ID``: the full session (every branch) under ``EXPORT_MIME``,
    plus a short summary as sanitized HTML and plain text. API keys are never part of it."""
    record = session.to_dict()
    branches = session.branches
    sid = session.session_id
    current = next((b.number for b in branches if b.current), None)
    count = len(record["messages"])
    html_out = _export_html(session, count)
    plain = (
        f"vel_jupyter session {sid!r}: {count} messages, {len(branches)} branches "
        f"(current: {'detached' if current is None else current}); saved in this output"
    )
    return {EXPORT_MIME: record, "text/html": html_out, "text/plain": plain}


def _export_html(session: Session, count: int) -> str:
    """The summary of an export as sanitized HTML: fixed templates around escaped values."""
    from html import escape

    from ..render import assemble, inline_code

    branches = session.branches
    items = []
    for branch in branches:
        preview = " ".join(branch.preview.split())
        mark = " (current)" if branch.current else ""
        items.append(
            assemble(
                "<li>branch {index}{mark}: {length} messages, last: {preview}</li>",
                index=str(branch.number),
                mark=mark,
                length=str(branch.length),
                preview=escape(preview) if preview else "<em>(empty)</em>",
            )
        )
    noun = "branch" if len(branches) == 1 else "branches"
    return assemble(
        '<div class="vel-export"><p><strong>Session {sid} exported</strong> — {count} messages, {n} {noun}, '
        "model {model}, {tokens} tokens on the current branch. Saved with the notebook: "
        "<code>%chat restore --notebook PATH</code> rebuilds it.</p><ul>{items}</ul></div>",
        sid=inline_code(session.session_id),
        count=str(count),
        n=str(len(branches)),
        noun=noun,
        model=escape(session.model or ""),
        tokens=str(session.usage.total_tokens),
        items="".join(items),
    )


def write_session(
    notebook_or_path: str | os.PathLike[str] | Any,
    session_or_record: Session | dict[str, Any],
    *,
    path_out: str | os.PathLike[str] | None = None,
) -> Any:
    """Embed a full session record in a notebook's metadata, without a kernel.

    The record (``session.to_dict()``, or such a dict) goes to
    ``metadata["vel_jupyter"]["sessions"][session_id]``, replacing an earlier one of the
    same id; ``read_sessions`` finds it there. ``notebook_or_path`` is an nbformat
    notebook (changed in place) or a path; the notebook is validated, then written back
    to its path, or to ``path_out`` when given. Returns the notebook.
    """
    import nbformat

    if isinstance(session_or_record, Session):
        record = session_or_record.to_dict()
    else:
        record = json_value(copy.deepcopy(session_or_record), "the record to write")
    export = parse_export(record, "the record to write", 0)
    sid = export.header["session_id"]
    path: Path | None = None
    if isinstance(notebook_or_path, (str, os.PathLike)):
        path = Path(notebook_or_path)
        notebook = read_notebook(path)
    else:
        notebook = notebook_or_path
    metadata = notebook.setdefault("metadata", {})
    section = metadata.setdefault(METADATA_KEY, {})
    if not isinstance(section, dict):
        raise SessionDataError(f"notebook metadata {METADATA_KEY!r} is a {type(section).__name__}, not an object")
    sessions = section.setdefault("sessions", {})
    if not isinstance(sessions, dict):
        raise SessionDataError(
            f"notebook metadata {METADATA_KEY}.sessions is a {type(sessions).__name__}, not an object"
        )
    sessions[sid] = record
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as exc:
        raise SessionDataError(f"the notebook is not valid nbformat: {str(exc).splitlines()[0]}") from None
    target = path_out if path_out is not None else path
    if target is not None:
        nbformat.write(notebook, os.fspath(target))  # type: ignore[no-untyped-call]
    return notebook
