"""The fork-tree widget (``vel_jupyter.tree(session)``, ``%chat tree ID --widget``): the same tree as a
``%chat tree`` output, for frontends that have a widget manager but not the vel-jupyter
extension (VS Code, classic Notebook, Colab), and for agents outside the notebook's registry.

Built on anywidget with its JavaScript in ``static/`` (shipped in the package, no CDN):
``static/render.js`` is the extension's ``src/widget.ts`` and the views it imports, bundled by
esbuild (``labextension/scripts/widget-assets.mjs``), so the tree is drawn by the same code as a
``%chat tree`` output's.
"Continue from here" (checkout) and "fork here" (a new session) arrive as messages, act on
the Python sessions (and so the store), and are answered; the tree redraws, also when turns
are added in other cells.

A widget needs a kernel, so the output also carries the tree itself under
``application/vnd.vel.tree+json`` and as a static ``text/html`` picture: with no kernel (or a
new one, after a restart) the JupyterLab extension draws the tree instead of "Loading
widget…", other viewers without a widget manager show the picture, and while the widget is
live the extension copies each redraw into the output, so the saved notebook shows the last
state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..core.session import Session
from ..errors import AgentError, ConfigurationError
from ..formats.kinds import TREE_MIME
from .tree_data import family, tree_payload

_STATIC = Path(__file__).parent / "static"


def _asset(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


class TreeWidget(anywidget.AnyWidget):
    """``vel_jupyter.tree(session)`` / ``%chat tree ID --widget``."""

    _esm = _asset("render.js")
    _css = _asset("render.css")
    data = traitlets.Dict().tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)

    def __init__(self, session: Session, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._agent = session.agent
        self._root = self._root_of(session)
        self.refresh()
        self._agent.add_listener(self._changed)
        self.on_msg(lambda _widget, content, _buffers: self.receive(content))

    def __repr__(self) -> str:
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
        from .tree_view import tree_html, tree_text

        # Viewers without a widget manager show the picture, not "Loading widget…".
        return {
            **data,
            TREE_MIME: self.data,
            "text/html": tree_html(self.data),
            "text/plain": tree_text(self.data),
        }, metadata

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

    def receive(self, content: dict[str, Any]) -> None:
        """A message from the browser: carry out its action, and answer it when it waits."""
        ok = True
        try:
            self.status = self.act(content)
        except AgentError as exc:
            ok, self.status = False, f"error: {exc}"
        if "request" in content:  # the browser waits for this answer to its request
            self.send({"request": content["request"], "ok": ok, "status": self.status})

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
