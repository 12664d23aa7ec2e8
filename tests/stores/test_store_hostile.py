"""Store rows are data from outside: another process, another tool or a person sharing the
PostgreSQL database, the Redis server or the SQLite file may have written them.

Each test writes bad rows directly with the store's own driver (``Raw``), then reads them the
ways the repository does — load, listing, the pre-turn refresh, incremental rows — on every
store of the contract suite. A bad row is one ``SessionDataError`` line naming the session and
the field (a StoreError line for a user's four-method store whose own decoding fails), is listed
with its problem beside the others, and reading it changes nothing stored.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from vel_jupyter import Agent
from vel_jupyter.errors import AgentError, SessionDataError
from vel_jupyter.stores import TurnStore

from . import test_stores as contract
from .test_stores import agent_on

# The contract suite's stores, every kind (fixtures; the tests below ask for ``store``).
make_store = contract.make_store
store = contract.store

RAW = "\x00raw:"
"""Prefix of a header value given as raw JSON text, written as it is (``Raw.put_header``)."""


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


class Raw:
    """A store's rows, read and written with its own driver, as another process would."""

    kind = ""
    text_json = True  # JSON is kept as text (False: PostgreSQL's jsonb, which refuses NUL and lone surrogates)
    json_text = True  # rows are JSON texts (False: MemoryStore's dicts, which no JSON decoder reads)

    def header(self, sid: str) -> dict[str, Any]:
        raise NotImplementedError

    def write_header(self, sid: str, text: str) -> None:
        """Write ``text`` as the session's header, as a tool that knows nothing of listing lines would."""
        raise NotImplementedError

    def message(self, tree: str, mid: str) -> dict[str, Any]:
        raise NotImplementedError

    def write_message(self, tree: str, mid: str, message: dict[str, Any]) -> None:
        raise NotImplementedError

    def write_summary(self, sid: str, text: str) -> None:
        """The stored listing line (stores that keep one)."""
        raise NotImplementedError

    def add_row(self, sid: str, header_text: str) -> None:
        """A new session row with no listing line, under any id."""
        raise NotImplementedError

    def dump(self) -> Any:
        """Everything stored, to show that reading changed nothing."""
        raise NotImplementedError

    def put_header(self, sid: str, header: dict[str, Any]) -> None:
        """Write ``header``; a value starting with ``RAW`` (at any depth of dicts) is raw JSON text."""
        raws: dict[str, str] = {}

        def mark(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: mark(v) for k, v in value.items()}
            if isinstance(value, str) and value.startswith(RAW):
                token = f"@@raw{len(raws)}@@"
                raws[token] = value[len(RAW) :]
                return token
            return value

        text = json.dumps(mark(header))
        for token, raw in raws.items():
            text = text.replace(json.dumps(token), raw)
        self.write_header(sid, text)


class RawSQL(Raw):
    def __init__(self, connect: Callable[[], Any], placeholder: str, cast: str) -> None:
        self.connect, self.P, self.cast = connect, placeholder, cast

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        conn = self.connect()
        try:
            cursor = conn.execute(sql.replace("?", self.P), params)
            rows = cursor.fetchall() if cursor.description else []
            conn.commit()
            return rows
        finally:
            conn.close()

    def header(self, sid: str) -> dict[str, Any]:
        ((context,),) = self._all("SELECT context FROM vel_sessions WHERE id = ?", (sid,))
        return json.loads(context) if isinstance(context, str) else context

    def write_header(self, sid: str, text: str) -> None:
        self._all(f"UPDATE vel_sessions SET context = ?{self.cast}, summary = NULL WHERE id = ?", (text, sid))

    def message(self, tree: str, mid: str) -> dict[str, Any]:
        ((content, parent, role, usage),) = self._all(
            "SELECT content, parent_id, role, usage FROM vel_messages WHERE tree_id = ? AND id = ?", (tree, mid)
        )
        data = json.loads(content) if isinstance(content, str) else dict(content)
        usage = json.loads(usage) if isinstance(usage, str) else usage
        return {**data, "id": mid, "parent_id": parent, "role": role, "meta": usage}

    def write_message(self, tree: str, mid: str, message: dict[str, Any]) -> None:
        content = {k: v for k, v in message.items() if k not in ("id", "parent_id", "role", "meta", "created_at")}
        self._all(
            f"UPDATE vel_messages SET content = ?{self.cast}, usage = ?{self.cast}, parent_id = ?, role = ? "
            "WHERE tree_id = ? AND id = ?",
            (
                json.dumps(content),
                json.dumps(message.get("meta")),
                message.get("parent_id"),
                message["role"],
                tree,
                mid,
            ),
        )

    def write_summary(self, sid: str, text: str) -> None:
        self._all("UPDATE vel_sessions SET summary = ? WHERE id = ?", (text, sid))

    def add_row(self, sid: str, header_text: str) -> None:
        self._all(f"INSERT INTO vel_sessions (id, context) VALUES (?, ?{self.cast})", (sid, header_text))

    def dump(self) -> Any:
        text = "::text" if self.cast else ""
        sessions = f"SELECT id, context{text}, summary, tree_id, updated_at FROM vel_sessions ORDER BY id"
        messages = f"SELECT tree_id, id, parent_id, role, content{text}, usage{text} FROM vel_messages ORDER BY 1, 2"
        return self._all(sessions) + self._all(messages)


class RawRedis(Raw):
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)

    def header(self, sid: str) -> dict[str, Any]:
        return dict(json.loads(self.client.hget(f"vel:s:{sid}", "header")))

    def write_header(self, sid: str, text: str) -> None:
        self.client.hset(f"vel:s:{sid}", "header", text.encode("utf-8", "surrogatepass"))
        self.client.hdel(f"vel:s:{sid}", "summary")

    def message(self, tree: str, mid: str) -> dict[str, Any]:
        return dict(json.loads(self.client.hget(f"vel:t:{tree}", mid)))

    def write_message(self, tree: str, mid: str, message: dict[str, Any]) -> None:
        self.client.hset(f"vel:t:{tree}", mid, json.dumps(message))

    def write_summary(self, sid: str, text: str) -> None:
        self.client.hset(f"vel:s:{sid}", "summary", text)

    def add_row(self, sid: str, header_text: str) -> None:
        self.client.hset(f"vel:s:{sid}", mapping={"header": header_text, "tree": "t-" + sid})
        self.client.zadd("vel:sessions", {sid: float("inf")})

    def dump(self) -> Any:
        out = {}
        for key in sorted(self.client.keys("*")):
            kind = self.client.type(key)
            out[key] = {
                b"hash": self.client.hgetall,
                b"zset": lambda k: self.client.zrange(k, 0, -1, withscores=True),
                b"set": self.client.smembers,
                b"string": self.client.get,
            }[kind](key)
        return out


class RawRecords(Raw):
    """A four-method store: whole records as JSON texts (in a dict, or under Redis keys)."""

    def __init__(self, get: Callable[[str], str | None], put: Callable[[str, str], None], dump: Callable[[], Any]):
        self.get, self.put, self._dump = get, put, dump

    def _record(self, sid: str) -> dict[str, Any]:
        text = self.get(sid)
        assert text is not None
        return dict(json.loads(text))

    def header(self, sid: str) -> dict[str, Any]:
        return {k: v for k, v in self._record(sid).items() if k != "messages"}

    def write_header(self, sid: str, text: str) -> None:
        messages = json.dumps(self._record(sid)["messages"])
        self.put(sid, text[:-1] + f', "messages": {messages}}}')

    def message(self, tree: str, mid: str) -> dict[str, Any]:
        for sid in self._sids():
            for message in self._record(sid)["messages"]:
                if message["id"] == mid:
                    return dict(message)
        raise KeyError(mid)

    def write_message(self, tree: str, mid: str, message: dict[str, Any]) -> None:
        for sid in self._sids():
            record = self._record(sid)
            record["messages"] = [message if m["id"] == mid else m for m in record["messages"]]
            self.put(sid, json.dumps(record))

    def add_row(self, sid: str, header_text: str) -> None:
        self.put(sid, header_text[:-1] + ', "messages": []}')

    def _sids(self) -> list[str]:
        return sorted(self.dump())

    def dump(self) -> Any:
        return self._dump()


class RawMemory(Raw):
    """MemoryStore has no driver: its dicts are the rows (what a bug or a plugin could leave)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def header(self, sid: str) -> dict[str, Any]:
        return copy.deepcopy(self.store._headers[sid])

    def write_header(self, sid: str, text: str) -> None:
        self.store._headers[sid] = json.loads(text)
        self.store._lines.pop(sid, None)

    def message(self, tree: str, mid: str) -> dict[str, Any]:
        return copy.deepcopy(self.store._trees[tree][mid])

    def write_message(self, tree: str, mid: str, message: dict[str, Any]) -> None:
        self.store._trees[tree][mid] = message

    def add_row(self, sid: str, header_text: str) -> None:
        self.store._headers[sid] = json.loads(header_text)

    def dump(self) -> Any:
        return repr((self.store._headers, self.store._trees))


@pytest.fixture
def raw(request: pytest.FixtureRequest, store: Any) -> Raw:
    kind = request.node.callspec.params["make_store"]
    found: Raw
    if kind == "memory":
        found = RawMemory(store)
        found.json_text = False
    elif kind == "sqlite":
        import sqlite3

        found = RawSQL(lambda: sqlite3.connect(store.path), "?", "")
    elif kind == "postgres":
        import psycopg

        dsn = request.getfixturevalue("clean_postgres")
        found = RawSQL(lambda: psycopg.connect(dsn), "%s", "::jsonb")
        found.text_json = False
    elif kind == "redis":
        found = RawRedis(request.getfixturevalue("clean_redis"))
    elif kind == "dict":
        found = RawRecords(store.data.get, store.data.__setitem__, lambda: dict(store.data))
    else:  # the guide's store: records under session:<id> in Redis
        client = store.redis
        found = RawRecords(
            lambda sid: client.get(f"session:{sid}"),
            lambda sid, text: client.set(f"session:{sid}", text),
            lambda: {k.removeprefix("session:"): client.get(k) for k in client.keys("session:*")},
        )
    found.kind = kind
    return found


def two_sessions(store: Any) -> Agent:
    agent = agent_on(store)
    for sid in ("bad", "good"):
        agent.session(session_id=sid, system="be brief").run(f"hello from {sid}")
    return agent


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


def assert_refused(store: Any, raw: Raw, field: str, sid: str = "bad") -> str:
    """Loading ``sid`` is one error line naming it and ``field``; the listing shows it; nothing changes."""
    before = raw.dump()
    with pytest.raises(AgentError) as caught:
        agent_on(store).session(session_id=sid)
    text = one_line(caught.value)
    assert repr(sid) in text and field in text, text
    if raw.kind not in ("dict", "guide") or isinstance(caught.value, SessionDataError):
        assert isinstance(caught.value, SessionDataError), text  # (a user's store may fail decoding first)
    with pytest.raises(AgentError):
        agent_on(store).get_session(sid)
    lines = {line.session_id: line for line in agent_on(store).session_summaries()}
    assert set(lines) == {"bad", "good"}
    assert lines["good"].damaged is None
    assert raw.dump() == before, "reading a bad row changed what is stored"
    agent_on(store).session(session_id="good").run("the others still work")
    return text


HEADER_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("a list as model", lambda h: h["settings"].update(model=["x"]), "settings.model"),
    ("an integer system prompt", lambda h: h.update(system=5), "system"),
    ("a string as params", lambda h: h["settings"].update(params="temperature=2"), "settings.params"),
    ("a string as fork origin", lambda h: h.update(forked_from="origin"), "forked_from"),
    ("a list as fork origin", lambda h: h.update(forked_from=["origin", "m1"]), "forked_from"),
    ("an integer as heads", lambda h: h.update(heads=5), "heads"),
    ("a list as head", lambda h: h.update(head=["a"]), "head"),
    ("a string as revision", lambda h: h.update(rev="7"), "rev"),
    ("params nested too deeply", lambda h: h["settings"].update(params={"x": nested(40)}), "settings.params"),
    ("an unknown setting", lambda h: h["settings"].update(shell="rm -rf /"), "settings.shell"),
]


class TestABadHeader:
    @pytest.mark.parametrize(("case", "change", "field"), HEADER_CASES, ids=[c[0] for c in HEADER_CASES])
    def test_is_one_line_naming_the_field_listed_with_its_problem_and_changes_nothing(
        self, store: Any, raw: Raw, case: str, change: Callable[[dict[str, Any]], None], field: str
    ) -> None:
        two_sessions(store)
        header = raw.header("bad")
        change(header)
        raw.put_header("bad", header)
        assert_refused(store, raw, field)
        (line,) = [line for line in agent_on(store).session_summaries() if line.session_id == "bad"]
        assert line.damaged is not None and field in line.damaged, line
        assert line.updated_at.year >= 1  # a damaged line still shows (%chat list formats it)

    def test_json_nested_past_the_decoders_limit_is_one_line(self, store: Any, raw: Raw) -> None:
        if not raw.json_text:
            pytest.skip("MemoryStore keeps dicts: no JSON decoder reads its rows")
        two_sessions(store)
        header = raw.header("bad")
        header["settings"]["params"] = {"x": RAW + "[" * 5000 + "]" * 5000}
        raw.put_header("bad", header)
        text = assert_refused(store, raw, "'bad'")
        assert "nested" in text or "recursion" in text, text

    def test_a_damaged_session_can_be_deleted(self, store: Any, raw: Raw) -> None:
        two_sessions(store)
        header = raw.header("bad")
        header["system"] = ["not", "text"]
        raw.put_header("bad", header)
        agent = agent_on(store)
        assert agent.delete_session("bad") is True
        assert [line.session_id for line in agent.session_summaries()] == ["good"]

    def test_a_fork_cannot_take_a_damaged_sessions_id(self, store: Any, raw: Raw) -> None:
        agent = two_sessions(store)
        header = raw.header("bad")
        header["settings"]["model"] = {"name": "x"}
        raw.put_header("bad", header)
        before = raw.dump()
        with pytest.raises(AgentError, match="already exists"):
            agent_on(store).session(session_id="good").fork("bad")
        assert raw.dump() == before
        assert agent is not None


class TestText:
    """NUL written by another process becomes U+FFFD when read (``formats.text``); a lone
    surrogate, which no UTF-8 text can hold, is refused by the validator, naming the field."""

    def test_nul_in_a_stored_system_prompt_reads_as_the_replacement_character(self, store: Any, raw: Raw) -> None:
        if not raw.text_json:
            pytest.skip("PostgreSQL's jsonb refuses NUL: no process can store it")
        two_sessions(store)
        header = raw.header("bad")
        header["system"] = RAW + '"be\\u0000brief"'
        raw.put_header("bad", header)
        session = agent_on(store).session(session_id="bad")
        assert session.system == "be\ufffdbrief"
        session.run("and now?")  # a turn writes the clean text back
        assert agent_on(store).session(session_id="bad").system == "be\ufffdbrief"

    def test_nul_in_a_stored_message_reads_as_the_replacement_character(self, store: Any, raw: Raw) -> None:
        if not raw.text_json:
            pytest.skip("PostgreSQL's jsonb refuses NUL: no process can store it")
        session = two_sessions(store).session(session_id="bad")
        message = raw.message(session.tree_id, session.nodes[0].id)
        raw.write_message(session.tree_id, session.nodes[0].id, {**message, "content": "a\x00b"})
        assert agent_on(store).session(session_id="bad").messages[0].text == "a\ufffdb"

    def test_a_lone_surrogate_is_refused_naming_the_field(self, store: Any, raw: Raw) -> None:
        if not raw.text_json:
            pytest.skip("PostgreSQL's jsonb refuses lone surrogates: no process can store them")
        two_sessions(store)
        header = raw.header("bad")
        header["system"] = RAW + '"be\\ud800brief"'
        raw.put_header("bad", header)
        assert_refused(store, raw, "system")

    def test_a_raw_nul_in_json_text_is_one_line(self, store: Any, raw: Raw) -> None:
        if not (raw.text_json and raw.json_text):
            pytest.skip("PostgreSQL's jsonb refuses text that is not JSON, and MemoryStore keeps dicts")
        two_sessions(store)
        header = raw.header("bad")
        header["system"] = RAW + '"be\x00brief"'  # not JSON: control characters must be escaped
        raw.put_header("bad", header)
        assert_refused(store, raw, "'bad'")


MESSAGE_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("an integer as content", lambda m: m.update(content=5), "content"),
    ("a list as meta", lambda m: m.update(meta=["x"]), "meta"),
    ("a string as tool calls", lambda m: m.update(tool_calls="call it"), "tool_calls"),
    ("a negative token count", lambda m: m.update(meta={"prompt_tokens": -1}), "prompt_tokens"),
    ("its own parent", lambda m: m.update(parent_id=m["id"]), "loop"),
]


class TestABadMessageRow:
    @pytest.mark.parametrize(("case", "change", "field"), MESSAGE_CASES, ids=[c[0] for c in MESSAGE_CASES])
    def test_loading_is_one_line_naming_the_session_and_the_field(
        self, store: Any, raw: Raw, case: str, change: Callable[[dict[str, Any]], None], field: str
    ) -> None:
        agent = two_sessions(store)
        session = agent.session(session_id="bad")
        answer = session.nodes[-1]
        message = raw.message(session.tree_id, answer.id)
        change(message)
        raw.write_message(session.tree_id, answer.id, message)
        assert_refused(store, raw, field)

    @pytest.mark.parametrize(("case", "change", "field"), MESSAGE_CASES, ids=[c[0] for c in MESSAGE_CASES])
    def test_a_turn_that_would_read_it_fails_and_leaves_the_session_as_it_was(
        self, store: Any, raw: Raw, case: str, change: Callable[[dict[str, Any]], None], field: str
    ) -> None:
        if not isinstance(store, TurnStore):
            pytest.skip("a four-method store saves whole sessions: a turn reads nothing back")
        mine = agent_on(store).session(session_id="shared")
        mine.run("one")
        theirs = agent_on(store).get_session("shared")
        assert theirs is not mine
        theirs.run("two, from another process")
        new = theirs.nodes[-1]
        message = raw.message(theirs.tree_id, new.id)
        change(message)
        raw.write_message(theirs.tree_id, new.id, message)
        before, stored = mine.to_dict(), raw.dump()
        with pytest.raises(SessionDataError) as caught:
            mine.run("three")
        text = one_line(caught.value)
        assert "'shared'" in text and field in text, text
        assert mine.to_dict() == before
        assert raw.dump() == stored


class TestABadHeaderWrittenMeanwhile:
    def test_a_turn_fails_in_one_line_and_changes_nothing(self, store: Any, raw: Raw) -> None:
        if not isinstance(store, TurnStore):
            pytest.skip("a four-method store saves whole sessions: a turn reads nothing back")
        mine = agent_on(store).session(session_id="shared")
        mine.run("one")
        agent_on(store).get_session("shared").run("two, from another process")
        header = raw.header("shared")
        header["settings"]["model"] = ["gpt", "4o"]
        raw.put_header("shared", header)
        before, stored = mine.to_dict(), raw.dump()
        with pytest.raises(SessionDataError, match=r"'shared'.*settings\.model") as caught:
            mine.run("three")
        one_line(caught.value)
        assert mine.to_dict() == before
        assert raw.dump() == stored


class TestListing:
    def test_a_row_that_is_no_session_id_is_listed_with_its_problem(self, store: Any, raw: Raw) -> None:
        two_sessions(store)
        header = raw.header("good")
        raw.add_row("bad id;", json.dumps({**header, "session_id": "bad id;"}))
        lines = {line.session_id: line for line in agent_on(store).session_summaries()}
        assert set(lines) == {"bad", "good", "bad id;"}
        assert "not a valid session id" in (lines["bad id;"].damaged or "")
        assert lines["bad"].damaged is None

    def test_a_foreign_row_is_listed_with_its_problem(self, store: Any, raw: Raw) -> None:
        two_sessions(store)
        raw.add_row("legacy", json.dumps({"role": "user", "content": "hi"}))
        lines = {line.session_id: line for line in agent_on(store).session_summaries()}
        assert set(lines) == {"bad", "good", "legacy"}
        assert lines["legacy"].damaged, lines["legacy"]

    @pytest.mark.parametrize(
        "line",
        ["{not json", '{"model": 5}', "[1, 2]", '{"messages": -1}', '{"updated_at": "yesterday"}', '{}],["evil",{}'],
    )
    def test_an_unreadable_listing_line_is_read_again_from_its_header(self, store: Any, raw: Raw, line: str) -> None:
        if raw.kind not in ("sqlite", "postgres", "redis"):
            pytest.skip("only stores that keep a listing line per row")
        agent = two_sessions(store)
        raw.write_summary("bad", line)
        lines = {line.session_id: line for line in agent_on(store).session_summaries()}
        assert set(lines) == {"bad", "good"}
        expected = agent.session(session_id="bad")
        assert (lines["bad"].messages, lines["bad"].damaged) == (len(expected.messages), None)
        assert lines["good"].messages == 2
