"""A user-written store with only guide A's four methods, over a plain dict.

Data is JSON-encoded on save and decoded on load, as any real backend would, so no
caller can share a reference with what is stored (a mutation after ``save`` is not seen).
"""

from __future__ import annotations

import json
from typing import Any

from vel_jupyter.stores import SessionStore


class DictStore(SessionStore):
    """Guide A's "Custom Store" over a dict: save, load, delete, list_sessions, nothing else."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"DictStore({sorted(self.data)})"

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        self.data[session_id] = json.dumps(data)

    def load(self, session_id: str) -> dict[str, Any] | None:
        raw = self.data.get(session_id)
        return json.loads(raw) if raw is not None else None

    def delete(self, session_id: str) -> bool:
        return self.data.pop(session_id, None) is not None

    def list_sessions(self) -> list[str]:
        return sorted(self.data)
