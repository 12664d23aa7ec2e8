"""The fork-tree widget: every branch and fork of a session family, live, clickable.

Built on anywidget with its JavaScript in ``static/`` (shipped in the package, no CDN); the
tree itself is drawn by the JupyterLab extension's ``render.ts`` (``static/render.js``).
Clicking a turn shows its messages and offers "continue from here" (checkout) and
"fork here" (a new session); both act on the Python sessions (and so the store), and the
tree redraws. It also redraws when turns are added in other cells.

A widget needs a kernel, so the output also carries the tree itself under
``application/vnd.vel.tree+json``: with no kernel (or a new one, after a restart) the
JupyterLab extension draws that instead of "Loading widget…", and while the widget is live
the extension copies each redraw into it, so the saved notebook shows the last state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..core.session import Session
from ..errors import AgentError, ConfigurationError
from .tree_data import TREE_MIME, family, tree_payload

_STATIC = Path(__file__).parent / "static"


def _joined(*names: str) -> str:
    # One module: render.js (the JupyterLab renderer's code, copied here by
    # labextension/scripts/widget-assets.mjs) then the widget's own code, which uses it.
    return "\n".join((_STATIC / name).read_text(encoding="utf-8") for name in names)


class TreeWidget(anywidget.AnyWidget):
    """``session.tree()`` / ``%chat tree ID``."""

    _esm = _joined("render.js", "tree.js")
    _css = _joined("render.css", "tree.css")
    data = traitlets.Dict().tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)

    def __init__(self, session: Session, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._agent = session.agent
        self._root = self._root_of(session)
        self.refresh()
        self._agent.add_listener(self._changed)
        self.on_msg(self._message)

    def __repr__(self) -> str:
        # Also the text/plain a saved notebook shows when no kernel can draw the widget.
        data = self.data or {}
        return (
            f"fork tree of session {self._session.session_id!r}: {len(data.get('turns', []))} turns, "
            f"{len(data.get('sessions', []))} sessions (run the cell with a kernel to interact)"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        return {**data, TREE_MIME: self.data}, metadata

    @staticmethod
    def _root_of(session: Session) -> str:
        return session.tree_id

    def members(self) -> list[Session]:
        return family(self._session, self._agent.loaded_sessions())

    def refresh(self) -> None:
        """Recompute the tree from the sessions (done automatically on every change)."""
        self.data = tree_payload(self._session, self.members())

    def _changed(self, session: Session) -> None:
        if self._root_of(session) == self._root:
            self.refresh()

    def _message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        try:
            self.status = self.act(content)
        except AgentError as exc:
            self.status = f"error: {exc}"

    def act(self, content: dict[str, Any]) -> str:
        """Perform a browser action: ``checkout`` or ``fork`` at a message; returns a status line."""
        action = content.get("action")
        session = self._agent.get_session(str(content.get("session_id") or self._session.session_id))
        message_id = content.get("message_id")
        if action == "checkout":
            session.checkout(message_id)
            return f"{session.session_id} continues from the selected turn"
        if action == "fork":
            fork = session.fork(content.get("new_id") or None, at=message_id)
            self.refresh()
            return f"forked into {fork.session_id}"
        raise ConfigurationError(f"unknown tree action {action!r}")

    def close(self) -> None:
        self._agent.remove_listener(self._changed)
        super().close()
