"""RedisStore: sessions in Redis, with compare-and-swap turns in one round trip.

Key layout (``p`` is the ``prefix``, ``"vel"`` by default)::

    p:s:<sid>       hash     header (JSON, without its lineage), lineage (JSON list), rev
    p:m:<sid>       hash     message id -> message JSON, for the messages <sid> owns
    p:owner         hash     message id -> owning session (ids are global, like a primary key)
    p:sessions      zset     session id -> expiry in epoch seconds (``inf``: never expires)
    p:deps:<sid>    zset     sessions whose lineage contains <sid>, all scored 0

Every write is one Lua script (EVALSHA through ``register_script``): Redis runs a script
alone, so checking the header's revision, inserting the turn's messages, rewriting the
header, refreshing the expiry and keeping the fork's origins alive happen atomically and
in a single round trip, with no WATCH/retry loop. A turn touches only its own messages and
the lineage, so it costs O(1) in history length. Reads are scripts too, so a load sees
one consistent snapshot of a session and its lineage.

Expiry is logical, not Redis's own key TTLs: time comes from ``clock`` (injectable in
tests), a fork's writes push its origins' expiry later, and a session's messages must be
handed to its forks before it goes. Expired sessions are invisible at once; call
``purge_expired()`` now and then to reclaim their memory.

``p:deps:<sid>`` is a sorted set with equal scores so that Redis keeps it in byte order:
the fork that inherits a deleted origin's messages is the first in sorted order, as in
MemoryStore, without depending on the server's locale.

The client is made with ``decode_responses=False``: replies are decoded here, so a
``client=`` made with either setting works the same.

The scripts build the keys of origins and forks from the prefix, so on Redis Cluster use a
hash-tag prefix (``prefix="{vel}"``) to keep every key in one slot.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from ..core.tree import utcnow, validate_session_id
from ..errors import ConfigurationError, StoreError
from .base import HeadConflict, SessionStore, expiry, join_record, split_record

INSTALL_HINT = "RedisStore needs redis: pip install 'vel-jupyter[redis]' (redis)"
KIND = "vel_jupyter.session"
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a connection: a dead host fails the turn instead of hanging the kernel."""
SOCKET_TIMEOUT = 30.0
"""Seconds to wait for an answer; generous, since a large save or purge is one script."""
BATCH = 500
"""Message ids per read_messages script call, and sessions per purge script call."""

# -- Lua ------------------------------------------------------------------------------------

# Helpers every script shares. Lineages are JSON lists of session ids (restricted to safe
# characters by validate_session_id), so cjson round-trips them exactly; the full header
# is never decoded in Lua, where cjson would turn [] into {} and round large numbers.
_LIB = """
local function score_of(raw)
  if not raw then return nil end
  if raw == "inf" or raw == "+inf" then return math.huge end
  return tonumber(raw)
end

local function lineage_of(raw)
  if not raw or raw == "" then return {} end
  return cjson.decode(raw)
end

local function lineage_json(list)
  if #list == 0 then return "[]" end
  return cjson.encode(list)
end

local function expired(p, sid, now)
  local s = score_of(redis.call("ZSCORE", p .. ":sessions", sid))
  return s ~= nil and s <= now
end

-- Hand a session's messages to the first fork that reads them (the heir) and point the
-- other forks' lineage at the heir (no repeats, never itself), as stores.base.rehomed_lineage.
-- Returns true when there was a fork to inherit them.
local function rehome(p, sid)
  local mkey, dkey = p .. ":m:" .. sid, p .. ":deps:" .. sid
  local owner = p .. ":owner"
  local deps = redis.call("ZRANGE", dkey, 0, -1)
  if #deps == 0 then return false end
  local heir = deps[1]
  local hkey = p .. ":m:" .. heir
  local rows = redis.call("HGETALL", mkey)
  for i = 1, #rows, 2 do
    redis.call("HSET", hkey, rows[i], rows[i + 1])
    redis.call("HSET", owner, rows[i], heir)
  end
  redis.call("DEL", mkey, dkey)
  for _, dep in ipairs(deps) do
    local depkey = p .. ":s:" .. dep
    if redis.call("EXISTS", depkey) == 1 then
      local out, seen = {}, {}
      for _, origin in ipairs(lineage_of(redis.call("HGET", depkey, "lineage"))) do
        local o = origin
        if o == sid then o = heir end
        if o ~= dep and not seen[o] then
          seen[o] = true
          table.insert(out, o)
        end
      end
      redis.call("HSET", depkey, "lineage", lineage_json(out))
      if dep ~= heir then redis.call("ZADD", p .. ":deps:" .. heir, 0, dep) end
    end
  end
  return true
end

-- Delete a session, its forks keeping the messages they read.
local function drop(p, sid)
  local skey, mkey, dkey = p .. ":s:" .. sid, p .. ":m:" .. sid, p .. ":deps:" .. sid
  local owner = p .. ":owner"
  if not rehome(p, sid) then
    for _, id in ipairs(redis.call("HKEYS", mkey)) do redis.call("HDEL", owner, id) end
  end
  for _, origin in ipairs(lineage_of(redis.call("HGET", skey, "lineage"))) do
    redis.call("ZREM", p .. ":deps:" .. origin, sid)
  end
  redis.call("DEL", skey, mkey, dkey)
  redis.call("ZREM", p .. ":sessions", sid)
end
"""

# KEYS: p:s:<sid>, p:m:<sid>, p:owner, p:sessions
# ARGV: prefix, sid, mode ("append" | "save"), expected rev ("" = none), now, expires,
#       header JSON, rev ("" = none), lineage JSON ("" = none), then message id, JSON pairs
_WRITE = (
    _LIB
    + """
local p, sid, mode, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, expires = tonumber(ARGV[5]), ARGV[6]
local skey, mkey, owner, sessions = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local exists = redis.call("EXISTS", skey) == 1
local live = exists and not expired(p, sid, now)
if mode == "append" then
  local found = ""
  if live then found = redis.call("HGET", skey, "rev") or "" end
  if found ~= expected then return {"conflict", found} end
end
-- An expired leftover counts as absent: drop it (its forks keep their messages), reuse the id.
if exists and not live then
  drop(p, sid)
  exists = false
end
local old = {}
if exists then old = lineage_of(redis.call("HGET", skey, "lineage")) end
if mode == "save" then
  -- Replace: the session's own messages go (after its forks took theirs); ids that other
  -- sessions own stay theirs.
  if not rehome(p, sid) then
    for _, id in ipairs(redis.call("HKEYS", mkey)) do redis.call("HDEL", owner, id) end
    redis.call("DEL", mkey)
  end
end
for i = 10, #ARGV, 2 do
  if redis.call("HSETNX", owner, ARGV[i], sid) == 1 then redis.call("HSET", mkey, ARGV[i], ARGV[i + 1]) end
end
redis.call("HSET", skey, "header", ARGV[7], "rev", ARGV[8])
local lineage = {}
if ARGV[9] == "" then
  redis.call("HDEL", skey, "lineage")
else
  redis.call("HSET", skey, "lineage", ARGV[9])
  lineage = cjson.decode(ARGV[9])
end
local kept = {}
for _, origin in ipairs(lineage) do kept[origin] = true end
for _, origin in ipairs(old) do
  if not kept[origin] then redis.call("ZREM", p .. ":deps:" .. origin, sid) end
end
redis.call("ZADD", sessions, expires, sid)
for _, origin in ipairs(lineage) do
  redis.call("ZADD", p .. ":deps:" .. origin, 0, sid)
  -- A live fork keeps its origins alive: XX touches only stored origins, GT only pushes
  -- the expiry later (and an origin that never expires, inf, stays so).
  redis.call("ZADD", sessions, "XX", "GT", expires, origin)
end
return {"ok"}
"""
)

# KEYS: p:s:<sid>; ARGV: prefix, sid, now, what ("header" | "all")
# Returns nil when absent or expired, else {header, lineage, rows of sid, rows of each origin...}.
_READ = (
    _LIB
    + """
local p, sid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call("EXISTS", KEYS[1]) == 0 or expired(p, sid, now) then return false end
local fields = redis.call("HMGET", KEYS[1], "header", "lineage")
local out = {fields[1], fields[2]}
if ARGV[4] == "all" then
  table.insert(out, redis.call("HVALS", p .. ":m:" .. sid))
  for _, origin in ipairs(lineage_of(fields[2])) do table.insert(out, redis.call("HVALS", p .. ":m:" .. origin)) end
end
return out
"""
)

# KEYS: p:owner; ARGV: prefix, message ids...  Returns the JSON of the ids found, in order.
_MESSAGES = """
local p, out = ARGV[1], {}
for i = 2, #ARGV do
  local owner = redis.call("HGET", KEYS[1], ARGV[i])
  if owner then
    local row = redis.call("HGET", p .. ":m:" .. owner, ARGV[i])
    if row then table.insert(out, row) end
  end
end
return out
"""

# KEYS: p:s:<sid>; ARGV: prefix, sid.  Returns 1 if the session existed.
_DELETE = (
    _LIB
    + """
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
drop(ARGV[1], ARGV[2])
return 1
"""
)

# KEYS: p:sessions; ARGV: prefix, now, limit.  Deletes up to limit expired sessions; returns how many.
_PURGE = (
    _LIB
    + """
local ids = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[2], "LIMIT", 0, tonumber(ARGV[3]))
for _, sid in ipairs(ids) do drop(ARGV[1], sid) end
return #ids
"""
)


# -- helpers --------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """The URL without its password, for messages and repr."""
    url = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)
    return re.sub(r"(password=)[^&]*", r"\1***", url)


def _text(value: Any) -> str:
    """A Redis reply as str, whichever ``decode_responses`` the client was made with."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _score(when: datetime | None) -> str:
    """An expiry as a sorted-set score: epoch seconds, ``inf`` for never."""
    return "inf" if when is None else repr(when.timestamp())


def _rev(raw: Any) -> int | None:
    """A stored revision ("" when the header had none)."""
    text = _text(raw) if raw is not None else ""
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


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


class RedisStore(SessionStore):
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
            self.url_shown = redact_url(url)
            self._password = ""
            client = self._connect(redis, url)
        else:
            self.url_shown = _describe(client)
        self._password = _password_of(client)
        self._client = client
        self._ping()
        self._write_script = client.register_script(_WRITE)
        self._read_script = client.register_script(_READ)
        self._messages_script = client.register_script(_MESSAGES)
        self._delete_script = client.register_script(_DELETE)
        self._purge_script = client.register_script(_PURGE)

    def _connect(self, redis: Any, url: str) -> Any:
        try:
            client = redis.Redis.from_url(
                url, decode_responses=False, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT
            )
        except ValueError as exc:
            raise ConfigurationError(f"invalid Redis URL {self.url_shown}: {self._scrub(exc)}") from None
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
            raise StoreError(
                f"cannot open Redis store at {self.url_shown} ({type(exc).__name__}: {self._scrub(exc)}); {hint}"
            ) from None

    def __repr__(self) -> str:
        return f"RedisStore({self.url_shown!r}, prefix={self.prefix!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # -- the four-method contract --------------------------------------------------------

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        validate_session_id(session_id)
        header, messages = split_record(session_id, data)
        header.setdefault("kind", KIND)
        header.setdefault("version", 1)
        self._run_write(session_id, "save", messages, header, expected=None)

    def load(self, session_id: str) -> dict[str, Any] | None:
        validate_session_id(session_id)
        reply = self._read(session_id, "all")
        if reply is None:
            return None
        header = self._header_of(session_id, reply[0], reply[1])
        messages = [self._message_of(session_id, row) for rows in reply[2:] for row in rows]
        return join_record(header, messages, self.read_messages)

    def delete(self, session_id: str) -> bool:
        validate_session_id(session_id)
        with self._guard(f"delete session {session_id!r}"):
            return bool(self._delete_script(keys=[self._key("s", session_id)], args=[self.prefix, session_id]))

    def list_sessions(self) -> list[str]:
        # One range query over the expiry index: live sessions are those expiring after now.
        with self._guard("list sessions"):
            ids = self._client.zrangebyscore(self._key("sessions"), f"({self._now()}", "+inf")
        return sorted(_text(i) for i in ids)

    # -- incremental writes (TurnStore) ----------------------------------------------------

    def append(
        self, session_id: str, messages: list[dict[str, Any]], header: dict[str, Any], expected_rev: int | None
    ) -> None:
        validate_session_id(session_id)
        self._run_write(session_id, "append", messages, header, expected=expected_rev)

    def read_header(self, session_id: str) -> dict[str, Any] | None:
        validate_session_id(session_id)
        reply = self._read(session_id, "header")
        return None if reply is None else self._header_of(session_id, reply[0], reply[1])

    def read_messages(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        wanted = list(ids)
        out: list[dict[str, Any]] = []
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start : start + BATCH]
            with self._guard(f"read messages {batch[:3]}{' ...' if len(batch) > 3 else ''}"):
                rows = self._messages_script(keys=[self._key("owner")], args=[self.prefix, *batch])
            out.extend(self._message_of(None, row) for row in rows)
        return out

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
        args = [
            self.prefix,
            session_id,
            mode,
            "" if expected is None else str(expected),
            repr(now.timestamp()),
            _score(expiry(now, header, self.ttl)),
            *self._header_args(session_id, header),
            *self._message_args(session_id, messages),
        ]
        keys = [self._key("s", session_id), self._key("m", session_id), self._key("owner"), self._key("sessions")]
        with self._guard(f"save session {session_id!r}"):
            reply = self._write_script(keys=keys, args=args)
        if _text(reply[0]) == "conflict":
            raise HeadConflict(session_id, expected, _rev(reply[1]))

    def _header_args(self, session_id: str, header: dict[str, Any]) -> list[str]:
        """Header JSON, revision and lineage JSON: the lineage apart, so scripts can rewrite it alone."""
        lineage = header.get("lineage")
        stored = dict(header)
        if lineage is not None:
            if not isinstance(lineage, list) or not all(isinstance(o, str) for o in lineage):
                raise StoreError(f"session {session_id!r}: the header's lineage must be a list of session ids")
            del stored["lineage"]
        rev = header.get("rev")
        try:
            return [_dumps(stored), "" if rev is None else str(rev), "" if lineage is None else _dumps(lineage)]
        except (TypeError, ValueError) as exc:
            raise StoreError(f"session {session_id!r}: the header cannot be stored as JSON ({exc})") from None

    def _message_args(self, session_id: str, messages: list[dict[str, Any]]) -> list[str]:
        """Alternating id, JSON; a message keeps the session that wrote it, like MemoryStore."""
        args: list[str] = []
        for message in messages:
            if not isinstance(message, dict) or not isinstance(message.get("id"), str):
                raise StoreError(f"session {session_id!r}: a message without an id cannot be stored")
            row = {**message, "session_id": message.get("session_id") or session_id}
            try:
                args += [message["id"], _dumps(row)]
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

    def _header_of(self, session_id: str, raw: Any, raw_lineage: Any) -> dict[str, Any]:
        try:
            header = json.loads(raw) if raw is not None else None
            lineage = json.loads(raw_lineage) if raw_lineage is not None else None
        except ValueError:
            header = lineage = None
        if not isinstance(header, dict) or header.get("kind") != KIND:
            raise StoreError(
                f"session {session_id!r}: the Redis hash {self._key('s', session_id)!r} is not a vel_jupyter session "
                "(foreign or corrupt data, perhaps from another tool sharing the database); rename or delete it, "
                "or give this store another prefix="
            )
        if raw_lineage is not None:
            header["lineage"] = lineage
        return header

    def _message_of(self, session_id: str | None, raw: Any) -> dict[str, Any]:
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            whose = f"session {session_id!r}" if session_id is not None else "a session"
            raise StoreError(f"{whose}: a message stored under {self.prefix!r} is not valid JSON (corrupt data)")
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
            raise StoreError(
                f"could not {action} ({type(exc).__name__}: {detail}); "
                f"check that Redis at {self.url_shown} is reachable, then retry"
            ) from (exc if detail == str(exc) else None)  # never chain an error that quoted the password

    def _scrub(self, exc: Exception) -> str:
        """An error's text, with the password removed should a library ever echo it."""
        text = redact_url(str(exc))
        return text.replace(self._password, "***") if self._password else text
