"""SessionState: what one session is at a moment — its header and the tree it points into.

The header is the JSON that stores keep (``session_id``, ``tree``, ``system``, ``head``,
``heads``, ``current``, ``settings``, ``summaries``, ``stats``, ``rev``...); the tree is the
in-memory ``MessageTree`` a session shares with its forks. The repository is the only writer
(``core.repository``: it computes the next header with ``core.transitions``, persists it, then
applies it here); ``Session`` reads. A header is replaced whole, never edited in place, so a
reader holding the old one sees a consistent state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .context import SummaryRecord
from .secrets import redact_url
from .tree import MessageTree, Node


class SessionState:
    """A session's header, its conversation tree and its cached current path."""

    def __init__(self, header: dict[str, Any], tree: MessageTree | None = None) -> None:
        self.tree = tree if tree is not None else MessageTree()
        self.header: dict[str, Any] = {}
        self.summaries: dict[str, SummaryRecord] = {}
        # Turns append to the head, so its path is cached and extended; forks and checkouts
        # recompute it once, lazily. The cached list is shared: read it, never change it.
        self._path_cache: list[Node] | None = None
        self._path_cache_head: str | None = None
        self.apply(header)

    @property
    def head(self) -> str | None:
        head: str | None = self.header["head"]
        return head

    def path(self, head: str | None) -> list[Node]:
        """The nodes from the root to ``head`` (the shared cached list for the current head)."""
        if head == self._path_cache_head and self._path_cache is not None:
            return self._path_cache
        if head is None:
            return []
        path = self.tree.path(head)
        if head == self.head:
            self._path_cache, self._path_cache_head = path, head
        return path

    def stats_of(self, head: str | None) -> tuple[int, int]:
        """Messages and tokens on the path to ``head``: the header's own stats for the current head
        (kept up to date by every write), else a walk (a regenerate or a checkout elsewhere)."""
        if head is None:
            return 0, 0
        stats = self.header.get("stats")
        if head == self.head and stats:
            return int(stats["messages"]), int(stats["tokens"])
        path = self.path(head)
        return len(path), sum(n.message.usage.total_tokens for n in path)

    # -- writes (the repository's) ---------------------------------------------------------------

    def apply(self, header: dict[str, Any]) -> None:
        """Take ``header`` as the session's (a key in a stored URL is dropped, see below)."""
        url = (header.get("settings") or {}).get("base_url")
        if isinstance(url, str) and ("@" in url or "?" in url):  # (every turn passes here: parse only
            # a URL that may hold a key) A key in a stored URL (written before keys were kept out
            # of stored settings, or planted) is dropped, never kept: a URL from data is not the
            # user's to trust.
            shown = redact_url(url)
            if shown != url:
                header = {**header, "settings": {**header["settings"], "base_url": shown}}
        if header.get("summaries") is not self.header.get("summaries"):
            self.summaries = {s["covers"]: SummaryRecord.from_dict(s) for s in header.get("summaries") or []}
        self.header = header

    def absorb(
        self, header: dict[str, Any], nodes: Iterable[Node] = (), *, extends: str | None = None, stored: bool = False
    ) -> bool:
        """Take a header (and new nodes, parents first) as the session's state; False when the
        header was stale and only the nodes were kept.

        ``extends`` is the old head when ``nodes`` continue it: the cached path grows instead
        of being recomputed. A header we wrote ourselves never replaces a newer one (two
        threads may finish in either order); a header read from the store (``stored``) always
        does, even an older revision: someone re-saved an older snapshot, and the store is
        what the next compare-and-swap is checked against.
        """
        with self.tree.lock:
            added = []
            for node in nodes:
                self.tree.add(node)
                added.append(node)
            if not stored and int(header.get("rev") or 0) < int(self.header["rev"]):
                return False  # a writer that lost the race to a newer state: its nodes are kept, not its header
            if extends is not None and self._path_cache is not None and self._path_cache_head == extends and added:
                self._path_cache.extend(added)
                self._path_cache_head = added[-1].id
            self.apply(header)
            return True

    def rebase(self, header: dict[str, Any], tree: MessageTree) -> None:
        """Point at another conversation tree and header (the session was started again elsewhere)."""
        with tree.lock:
            self.tree = tree
            self._path_cache, self._path_cache_head = None, None
            self.apply(header)
