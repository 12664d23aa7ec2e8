"""RedisStore's Lua scripts, and how values are written to and read from Redis.

Every write is one script (EVALSHA through ``register_script``): Redis runs a script alone, so
a turn's compare-and-swap, its messages, header and expiry happen atomically in one round trip.
See ``stores.redis`` for the key layout.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

# -- Lua ------------------------------------------------------------------------------------

LIB = """
local function score_of(raw)
  if not raw then return nil end
  if raw == "inf" or raw == "+inf" then return math.huge end
  return tonumber(raw)
end

local function expired(p, sid, now)
  local s = score_of(redis.call("ZSCORE", p .. ":sessions", sid))
  return s ~= nil and s <= now
end

-- sid no longer points into tree; the last one out frees the tree's messages.
local function leave(p, tree, sid)
  local mkey = p .. ":tm:" .. tree
  redis.call("SREM", mkey, sid)
  if redis.call("SCARD", mkey) == 0 then redis.call("DEL", p .. ":t:" .. tree, mkey) end
end

local function drop(p, sid)
  local skey = p .. ":s:" .. sid
  local tree = redis.call("HGET", skey, "tree")
  redis.call("DEL", skey)
  redis.call("ZREM", p .. ":sessions", sid)
  if tree then leave(p, tree, sid) end
end
"""

# KEYS: p:s:<sid>, p:sessions
# ARGV: prefix, sid, mode ("append" | "save"), expected rev ("" = none), now, expires,
#       header JSON, rev ("" = none), tree, heads JSON, summary JSON, then message id, JSON pairs
WRITE = (
    LIB
    + """
local p, sid, mode, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, expires, tree = tonumber(ARGV[5]), ARGV[6], ARGV[9]
local skey, sessions, tkey = KEYS[1], KEYS[2], p .. ":t:" .. ARGV[9]
local exists = redis.call("EXISTS", skey) == 1
local live = exists and not expired(p, sid, now)
if mode == "append" then
  local found = ""
  if live then
    found = redis.call("HGET", skey, "rev") or ""
    -- A session deleted and started again points into a new tree: a stale writer conflicts.
    if redis.call("HGET", skey, "tree") ~= tree then return {"conflict", found} end
  end
  if found ~= expected then return {"conflict", found} end
end
-- Check before writing anything (a script cannot roll back): every head, and every parent of
-- an arriving message, is in the tree already or arrives now.
local arriving = {}
for i = 12, #ARGV, 2 do arriving[ARGV[i]] = true end
local needed = cjson.decode(ARGV[10])
for i = 12, #ARGV, 2 do
  local parent = cjson.decode(ARGV[i + 1])["parent_id"]
  if type(parent) == "string" then table.insert(needed, parent) end
end
for _, id in ipairs(needed) do
  if not arriving[id] and redis.call("HEXISTS", tkey, id) == 0 then return {"missing", id} end
end
for i = 12, #ARGV, 2 do redis.call("HSETNX", tkey, ARGV[i], ARGV[i + 1]) end
local old_tree = false
if exists then old_tree = redis.call("HGET", skey, "tree") end
redis.call("HSET", skey, "header", ARGV[7], "rev", ARGV[8], "tree", tree, "summary", ARGV[11])
redis.call("SADD", p .. ":tm:" .. tree, sid)
if old_tree and old_tree ~= tree then leave(p, old_tree, sid) end
redis.call("ZADD", sessions, expires, sid)
return {"ok"}
"""
)

# KEYS: p:s:<sid>; ARGV: prefix, sid, now, what ("header" | "all")
# Returns nil when absent or expired, else {header, tree, rows of the tree (with "all")}.
READ = (
    LIB
    + """
local p, sid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call("EXISTS", KEYS[1]) == 0 or expired(p, sid, now) then return false end
local fields = redis.call("HMGET", KEYS[1], "header", "tree")
local out = {fields[1], fields[2]}
if ARGV[4] == "all" and fields[2] then table.insert(out, redis.call("HVALS", p .. ":t:" .. fields[2])) end
return out
"""
)

# KEYS: p:sessions; ARGV: prefix, now, how ("joined" | "pairs").  The listing lines of the live
# sessions: "joined" is {count, '[[sid, line], ...]'}, one reply to decode, not one per session
# (null for a session without a line); "pairs" is {sid, line or "", ...}, for when one line is
# not JSON and spoils the joined text.
SUMMARIES = """
local out = {}
local ids = redis.call("ZRANGEBYSCORE", KEYS[1], "(" .. ARGV[2], "+inf")
for _, sid in ipairs(ids) do
  local summary = redis.call("HGET", ARGV[1] .. ":s:" .. sid, "summary")
  if ARGV[3] == "pairs" then
    table.insert(out, sid)
    table.insert(out, summary or "")
  else
    table.insert(out, "[" .. cjson.encode(sid) .. "," .. (summary or "null") .. "]")
  end
end
if ARGV[3] == "pairs" then return out end
return {#ids, "[" .. table.concat(out, ",") .. "]"}
"""

# KEYS: p:s:<sid>; ARGV: prefix, sid.  Returns 1 if the session existed.
DELETE = (
    LIB
    + """
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
drop(ARGV[1], ARGV[2])
return 1
"""
)

# KEYS: p:sessions; ARGV: prefix, now, limit.  Deletes up to limit expired sessions; returns how many.
PURGE = (
    LIB
    + """
local ids = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[2], "LIMIT", 0, tonumber(ARGV[3]))
for _, sid in ipairs(ids) do drop(ARGV[1], sid) end
return #ids
"""
)


# -- helpers --------------------------------------------------------------------------------


def decode(value: Any) -> str:
    """A Redis reply as str, whichever ``decode_responses`` the client was made with (U+FFFD for
    bytes that are not UTF-8: another program wrote them)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def score(when: datetime | None) -> str:
    """An expiry as a sorted-set score: epoch seconds, ``inf`` for never."""
    return "inf" if when is None else repr(when.timestamp())


def stored_rev(raw: Any) -> int | None:
    """A stored revision ("" when the header had none)."""
    value = decode(raw) if raw is not None else ""
    try:
        return int(value) if value else None
    except ValueError:
        return None


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
