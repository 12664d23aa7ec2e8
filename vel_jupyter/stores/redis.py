"""RedisStore: sessions in Redis, with compare-and-swap turns in one round trip.

Key layout (``p`` is the ``prefix``, ``"vel"`` by default)::

    p:s:<sid>       hash     header (JSON), rev, tree
    p:t:<tree>      hash     message id -> message JSON: the messages of one conversation tree
    p:tm:<tree>     set      the sessions pointing into the tree
    p:sessions      zset     session id -> expiry in epoch seconds (``inf``: never expires)
    p:format        string   "2"; databases written before trees existed are migrated on open

A session and its forks share one tree; messages belong to the tree, not to the session
that wrote them, and a tree goes when the last session in ``p:tm:<tree>`` goes. So deleting,
re-saving, copying or expiring one session never removes a message another one reads.

Every write is one Lua script (EVALSHA through ``register_script``): Redis runs a script
alone, so checking the header's revision and the tree's heads, inserting the turn's
messages, rewriting the header and its expiry happen atomically and in a single round trip,
with no WATCH/retry loop. A turn touches only its own messages, so it costs O(1) in history
length. Reads are scripts too, so a load sees one consistent snapshot of a session and its tree.

Expiry is logical, not Redis's own key TTLs: time comes from ``clock`` (injectable in
tests). Expired sessions are invisible at once; call ``purge_expired()`` now and then to
reclaim their memory (a tree is freed with its last session).

The client is made with ``decode_responses=False``: replies are decoded here, so a
``client=`` made with either setting works the same.

The scripts build tree keys from the prefix, so on Redis Cluster use a hash-tag prefix
(``prefix="{vel}"``) to keep every key in one slot.

What is read back is data from outside (another process or tool may share the database):
headers pass ``base.stored_header``, listing lines ``base.summary_line``, and a damaged one is
one SessionDataError line naming the session, or a listing line with its problem. The URL is a
``Secret``; errors and redis' loggers show it with ``***`` for its password.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from ..core.secrets import KEYRING, Secret, guard_logs, redact_text
from ..core.tree import utcnow, validate_session_id
from ..errors import ConfigurationError, SessionDataError, StoreError
from ..formats import load_json
from ..formats.kinds import SESSION_KIND
from .base import (
    HeadConflict,
    SessionStore,
    damaged,
    expiry,
    header_heads,
    join_record,
    secret_dsn,
    split_record,
    store_error,
    stored_header,
    summary_line,
    summary_of,
    summary_pairs,
    tree_of,
)
from .redis_migrate import RedisFormat1
from .redis_scripts import DELETE, PURGE, READ, SUMMARIES, WRITE, decode, dumps, score, stored_rev

INSTALL_HINT = "RedisStore needs redis: pip install 'vel-jupyter[redis]' (redis)"
KIND = SESSION_KIND
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a connection: a dead host fails the turn instead of hanging the kernel."""
SOCKET_TIMEOUT = 30.0
"""Seconds to wait for an answer; generous, since a large save or purge is one script."""
BATCH = 500
"""Message ids per read_messages script call, and sessions per purge script call."""


def _describe(client: Any) -> str:
    """Where a caller-supplied client points, for messages (it never includes the password)."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None) or {}
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}"
    if kwargs.get("host"):
        return f"redis://{kwargs['host']}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
    return repr(type(client).__name__)


def _password_of(client: Any) -> str:
    """The client's password, so that error texts can be scrubbed of it."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None) or {}
    return str(kwargs.get("password") or "")


class RedisStore(RedisFormat1, SessionStore):
    """Sessions in Redis; ``url`` defaults to ``REDIS_URL``, or pass a ``redis.Redis`` as ``client``.

    ``ttl`` (seconds) makes sessions expire after their last write; ``clock`` is injectable
    for tests; ``prefix`` namespaces every key. A client passed in is not closed by
    ``close()``: its owner closes it.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        ttl: float | None = None,
        clock: Callable[[], datetime] = utcnow,
        prefix: str = "vel",
    ) -> None:
        try:
            import redis
        except ImportError:
            raise ConfigurationError(INSTALL_HINT) from None
        url = url or os.environ.get("REDIS_URL")
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError(f"RedisStore prefix must be a non-empty string, got {prefix!r}")
        self.ttl = ttl
        self.clock = clock
        self.prefix = prefix
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self._owns_client = client is None
        if client is None:
            if not url:
                raise ConfigurationError(
                    "RedisStore needs a server: pass url='redis://localhost:6379/0' or client=redis.Redis(...), "
                    "or set REDIS_URL"
                )
            self._url = secret_dsn(url)
            self._password = Secret("")
            client = self._connect(redis, url)
        else:
            self._url = secret_dsn(_describe(client))
        self._password = Secret(_password_of(client))
        KEYRING.keep_value(self._password.get())  # so that every redacted text (logs included) drops it
        self._client = client
        guard_logs()  # redis' loggers, made as its modules are imported
        self._ping()
        self._write_script = client.register_script(WRITE)
        self._read_script = client.register_script(READ)
        self._delete_script = client.register_script(DELETE)
        self._summaries_script = client.register_script(SUMMARIES)
        self._purge_script = client.register_script(PURGE)
        self._migrate()

    def _connect(self, redis: Any, url: str) -> Any:
        try:
            client = redis.Redis.from_url(
                url, decode_responses=False, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT
            )
        except ValueError as exc:
            raise ConfigurationError(redact_text(f"invalid Redis URL {self.url_shown}: {self._scrub(exc)}")) from None
        return client

    def _ping(self) -> None:
        """Fail at construction, with the server named, rather than on the first turn."""
        try:
            self._client.ping()
        except self._errors as exc:
            if self._owns_client:
                self._client.close()
            hint = (
                "check the user name and password"
                if type(exc).__name__ == "AuthenticationError"
                else "check that the server is running and reachable, then retry"
            )
            raise store_error(
                f"cannot open Redis store at {self.url_shown} ({type(exc).__name__}: {self._scrub(exc)}); {hint}"
            ) from None

    @property
    def url_shown(self) -> str:
        """Where the store is, as it may be shown: ``***`` for its password."""
        return self._url.shown

    def __repr__(self) -> str:
        return f"RedisStore({self.url_shown!r}, prefix={self.prefix!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # -- the four-method contract --------------------------------------------------------

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        validate_session_id(session_id)
        header, messages = split_record(session_id, data)
        self._run_write(session_id, "save", messages, header, expected=None)

    def load(self, session_id: str) -> dict[str, Any] | None:
        validate_session_id(session_id)
        reply = self._read(session_id, "all")
        if reply is None:
            return None
        header = self._header_of(session_id, reply[0], reply[1])
        rows = reply[2] if len(reply) > 2 else []
        return join_record(header, [self._message_of(session_id, row) for row in rows])

    def delete(self, session_id: str) -> bool:
        validate_session_id(session_id)
        with self._guard(f"delete session {session_id!r}"):
            return bool(self._delete_script(keys=[self._key("s", session_id)], args=[self.prefix, session_id]))

    def list_sessions(self) -> list[str]:
        # One range query over the expiry index: live sessions are those expiring after now.
        with self._guard("list sessions"):
            ids = self._client.zrangebyscore(self._key("sessions"), f"({self._now()}", "+inf")
        return sorted(decode(i) for i in ids)

    # -- incremental writes (TurnStore) ----------------------------------------------------

    def append(
        self, session_id: str, messages: list[dict[str, Any]], header: dict[str, Any], expected_rev: int | None
    ) -> None:
        validate_session_id(session_id)
        self._run_write(session_id, "append", messages, {**header, "tree": tree_of(header)}, expected=expected_rev)

    def read_header(self, session_id: str) -> dict[str, Any] | None:
        validate_session_id(session_id)
        reply = self._read(session_id, "header")
        return None if reply is None else self._header_of(session_id, reply[0], reply[1])

    def read_messages(self, tree: str, ids: Iterable[str]) -> list[dict[str, Any]]:
        wanted = list(ids)
        out: list[dict[str, Any]] = []
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start : start + BATCH]
            with self._guard(f"read messages {batch[:3]}{' ...' if len(batch) > 3 else ''}"):
                rows = self._client.hmget(self._key("t", tree), batch)
            out.extend(self._message_of(None, row) for row in rows if row is not None)
        return out

    def list_summaries(self) -> list[dict[str, Any]]:
        # Lines are data too: a session without a readable line is listed from its header,
        # checked, and a damaged header is listed with its problem (``damaged``).
        now = self._now()
        with self._guard("list sessions"):
            count, joined = self._summaries_script(keys=[self._key("sessions")], args=[self.prefix, now, "joined"])
        lines = summary_pairs(decode(joined), int(count))
        if lines is None:  # one line that is not JSON spoils the joined text: read them one by one
            with self._guard("list sessions"):
                flat = self._summaries_script(keys=[self._key("sessions")], args=[self.prefix, now, "pairs"])
            lines = {}
            for raw_sid, raw in zip(flat[::2], flat[1::2], strict=False):
                try:
                    lines[decode(raw_sid)] = summary_line(decode(raw_sid), load_json(decode(raw), "summary"))
                except SessionDataError:
                    lines[decode(raw_sid)] = None
        for sid in [sid for sid, line in lines.items() if line is None]:
            lines[sid] = self._summary_from_header(sid)
        return [line for _, line in sorted(lines.items()) if line is not None]

    def _summary_from_header(self, session_id: str) -> dict[str, Any] | None:
        """The listing line of a session that has none (written by another tool) or an unreadable one."""
        try:
            validate_session_id(session_id)
        except ConfigurationError:
            return summary_of({}, session_id=session_id, check=True)  # (says why the id cannot be loaded)
        reply = self._read(session_id, "header")
        if reply is None:
            return None  # deleted or expired meanwhile
        try:
            header = load_json(
                decode(reply[0]) if reply[0] is not None else "null", f"session {session_id!r}: its header"
            )
        except SessionDataError as exc:
            return {**summary_of({}, session_id=session_id), "damaged": str(exc)}
        if not isinstance(header, dict) or header.get("kind") != KIND:
            return {
                **summary_of({}, session_id=session_id),
                "damaged": f"session {session_id!r}: not a vel_jupyter session",
            }
        return summary_of(header, session_id=session_id, check=True)

    # -- expiry (ExpiringStore) --------------------------------------------------------------

    def purge_expired(self) -> int:
        # Batches keep each script short: Redis serves nobody else while one runs.
        now = self._now()
        purged = 0
        while True:
            with self._guard("purge expired sessions"):
                count = int(self._purge_script(keys=[self._key("sessions")], args=[self.prefix, now, BATCH]))
            purged += count
            if count < BATCH:
                return purged

    # -- internals ----------------------------------------------------------------------------

    def _key(self, kind: str, session_id: str | None = None) -> str:
        return f"{self.prefix}:{kind}" if session_id is None else f"{self.prefix}:{kind}:{session_id}"

    def _now(self) -> str:
        return repr(self.clock().timestamp())

    def _run_write(
        self,
        session_id: str,
        mode: str,
        messages: list[dict[str, Any]],
        header: dict[str, Any],
        expected: int | None,
    ) -> None:
        now = self.clock()
        rev = header.get("rev")
        try:
            header_args = [
                dumps(header),
                "" if rev is None else str(rev),
                header["tree"],
                dumps(header_heads(header)),
                dumps(summary_of(header)),
            ]
        except (TypeError, ValueError) as exc:
            raise StoreError(f"session {session_id!r}: the header cannot be stored as JSON ({exc})") from None
        args = [
            self.prefix,
            session_id,
            mode,
            "" if expected is None else str(expected),
            repr(now.timestamp()),
            score(expiry(now, header, self.ttl)),
            *header_args,
            *self._message_args(session_id, messages),
        ]
        with self._guard(f"save session {session_id!r}"):
            reply = self._write_script(keys=[self._key("s", session_id), self._key("sessions")], args=args)
        status = decode(reply[0])
        if status == "conflict":
            raise HeadConflict(session_id, expected, stored_rev(reply[1]))
        if status == "missing":
            raise StoreError(
                f"session {session_id!r}: message {decode(reply[1])!r} is not in tree {header['tree']!r} "
                "(the session it continues was deleted from the store by another process; nothing was written: reload the session and retry)"
            )

    def _message_args(self, session_id: str, messages: list[dict[str, Any]]) -> list[str]:
        """Alternating id, JSON; a message keeps the session that wrote it, like MemoryStore."""
        args: list[str] = []
        for message in messages:
            if not isinstance(message, dict) or not isinstance(message.get("id"), str):
                raise StoreError(f"session {session_id!r}: a message without an id cannot be stored")
            row = {**message, "session_id": message.get("session_id") or session_id}
            try:
                args += [message["id"], dumps(row)]
            except (TypeError, ValueError) as exc:
                raise StoreError(
                    f"session {session_id!r}: message {message['id']!r} cannot be stored as JSON ({exc})"
                ) from None
        return args

    def _read(self, session_id: str, what: str) -> list[Any] | None:
        with self._guard(f"read session {session_id!r}"):
            reply = self._read_script(
                keys=[self._key("s", session_id)], args=[self.prefix, session_id, self._now(), what]
            )
        return None if reply is None else list(reply)

    def _header_of(self, session_id: str, raw: Any, tree: Any) -> dict[str, Any]:
        try:
            header = load_json(decode(raw), f"session {session_id!r}: its header") if raw is not None else None
        except SessionDataError as exc:
            raise damaged(exc, session_id) from None
        if not isinstance(header, dict) or header.get("kind") != KIND:
            raise StoreError(
                f"session {session_id!r}: the Redis hash {self._key('s', session_id)!r} is not a vel_jupyter session "
                "(foreign or corrupt data, perhaps from another tool sharing the database); rename or delete it, "
                "or give this store another prefix="
            )
        if tree is not None:
            header["tree"] = decode(tree)
        header = stored_header(session_id, header)
        header["tree"] = tree_of(header)
        return header

    def _message_of(self, session_id: str | None, raw: Any) -> dict[str, Any]:
        whose = f"session {session_id!r}" if session_id is not None else f"a message stored under {self.prefix!r}"
        try:
            message = load_json(decode(raw), f"{whose}: a message row")
        except SessionDataError as exc:
            raise damaged(exc, session_id) from None
        if not isinstance(message, dict):
            raise damaged(SessionDataError(f"{whose}: a message row is not a JSON object"), session_id)
        return message

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Any Redis failure becomes a StoreError naming what failed and the (redacted) server."""
        try:
            yield
        except self._errors as exc:
            detail = self._scrub(exc)
            if "WRONGTYPE" in detail:
                raise StoreError(
                    f"could not {action}: keys under prefix {self.prefix!r} hold data that is not vel_jupyter's "
                    "(another tool sharing the database?); use another prefix= or remove them"
                ) from None
            cause = exc if detail == " ".join(str(exc).split()) else None  # never chain one that quoted a password
            raise store_error(
                f"could not {action} ({type(exc).__name__}: {detail}); "
                f"check that Redis at {self.url_shown} is reachable, then retry"
            ) from cause

    def _scrub(self, exc: Exception) -> str:
        """An error's text, with the password removed should a library ever echo it."""
        text = redact_text(" ".join(str(exc).split()))
        password = self._password.get()
        return text.replace(password, "***") if password else text
