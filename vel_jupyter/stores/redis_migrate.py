"""RedisStore's format upgrade: databases written before conversation trees existed (format 1).

A mixin of ``RedisStore``: run once when a store opens (``_migrate``), under a lock key so two
processes never migrate at once.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import StoreError
from .base import place_in_trees, summary_of
from .redis_scripts import decode, dumps

FORMAT = "2"


class RedisFormat1:
    """Converts a format-1 database in place (see ``RedisStore``)."""

    prefix: str
    _client: Any

    def _key(self, kind: str, session_id: str | None = None) -> str:
        raise NotImplementedError

    def _guard(self, action: str) -> Any:
        raise NotImplementedError

    def _migrate(self) -> None:
        """Convert a database written before trees existed (format 1), once; see ``_from_format_1``."""
        with self._guard("check the store's format"):
            found = self._client.get(self._key("format"))
            if found is not None and decode(found) == FORMAT:
                return
            if self._client.set(self._key("migrating"), "1", nx=True, ex=300) is None:
                raise StoreError(
                    f"the Redis store under prefix {self.prefix!r} is being migrated by another process; retry in a minute"
                )
            try:
                if found is None and self._client.exists(self._key("owner")):
                    self._from_format_1()
                self._client.set(self._key("format"), FORMAT)
            finally:
                self._client.delete(self._key("migrating"))

    def _from_format_1(self) -> None:
        """Format 1 kept each session's messages under ``p:m:<sid>`` (rows handed to a fork when
        their owner went) and the lineage apart; format 2 keeps one tree per family."""
        client = self._client
        sids = [decode(s) for s in client.zrange(self._key("sessions"), 0, -1)]
        headers: list[tuple[str, dict[str, Any]]] = []
        for sid in sids:
            raw, lineage = client.hmget(self._key("s", sid), "header", "lineage")
            if raw is None:
                continue
            header = json.loads(raw)
            if lineage is not None:
                header["lineage"] = json.loads(lineage)
            headers.append((sid, header))
        rows_of = {sid: client.hgetall(self._key("m", sid)) for sid, _ in headers}
        messages: dict[str, tuple[str | None, str, Any]] = {}
        for owner, rows in rows_of.items():
            for raw in rows.values():
                message = json.loads(raw)
                messages[message["id"]] = (message.get("parent_id"), owner, message.get("meta"))
        place_in_trees(headers, messages)
        pipe = client.pipeline(transaction=True)
        for sid, header in headers:
            tree = header["tree"]
            rows = rows_of[sid]
            if rows:
                pipe.hset(self._key("t", tree), mapping=rows)
            pipe.sadd(self._key("tm", tree), sid)
            pipe.hset(
                self._key("s", sid),
                mapping={"header": dumps(header), "tree": tree, "summary": dumps(summary_of(header))},
            )
            pipe.hdel(self._key("s", sid), "lineage")
            pipe.delete(self._key("m", sid), self._key("deps", sid))
        pipe.delete(self._key("owner"))
        pipe.execute()
