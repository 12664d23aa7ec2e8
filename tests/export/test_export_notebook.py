"""Sessions embedded in the notebook: %chat export, read_sessions, write_session, %chat restore --notebook.

The round trips run on real kernels (one nbclient run shared by the module); the damage
and offline tests build notebooks in-process from the same payloads a kernel shows.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from nbclient import NotebookClient

from vel_jupyter import Agent, Session
from vel_jupyter.core.serialize import node_to_dict, session_from_dict
from vel_jupyter.errors import ConfigurationError, SessionDataError
from vel_jupyter.export.notebook import EXPORT_MIME, export_bundle, read_sessions, restore_notebook, write_session
from vel_jupyter.export.notebook_merge import merge_notebook
from vel_jupyter.formats.kinds import SESSION_MIME
from vel_jupyter.jupyter.display import turn_payload
from vel_jupyter.jupyter.registry import Registry, registry, set_registry
from vel_jupyter.testing import OpenAIServer, Reply

from ..support.fixtures import TEST_KEY

# The notebook the kernel runs. Indices matter: tests below cut cells out by index.
CELLS = [
    "%load_ext vel_jupyter\nimport json\nimport vel_jupyter\n\n"
    'def double(n: int) -> int:\n    """Double a number."""\n    return 2 * n',
    "%%chat x -s 'Be brief.'\nhello",  # 1
    "%%chat x\nsecond question",  # 2
    '%%chat x --tools double\ncall double {"n": 21}',  # 3: a tool call
    "%%chat y --fork-from x\na fork",  # 4
    "%%chat y\nthe fork's second turn",  # 5
    "vel_jupyter.sessions()['x'].regenerate();",  # 6: a branch made in code, no output
    "%%chat x\nafter the regenerate",  # 7: continues that branch
    "%chat export x",  # 8
    "%%chat x\nafter the export",  # 9: newer than the export
    "%%chat z\nonly turns",  # 10
    "%%chat z\nonly turns, again",  # 11
    "print(json.dumps({sid: s.to_dict() for sid, s in vel_jupyter.sessions().items()}))",  # 12
]
EXPORT_CELL, REGENERATE_CELL, AFTER_REGENERATE_CELL = 8, 6, 7


def _offline_env(mp: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "VEL_STORE", "VEL_MODEL"):
        mp.delenv(name, raising=False)


def run_notebook(sources: list[str], *, allow_errors: bool = False) -> Any:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    with pytest.MonkeyPatch.context() as mp:
        _offline_env(mp)
        NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=allow_errors).execute()
    return notebook


def stdout_of(cell: Any) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def last_json(cell: Any) -> Any:
    return json.loads(stdout_of(cell).strip().splitlines()[-1])


def ours(cell: Any) -> list[Any]:
    return [o.data[EXPORT_MIME] for o in cell.outputs if EXPORT_MIME in o.get("data", {})]


class Ran:
    def __init__(self, path: Path, notebook: Any, live: dict[str, Any]) -> None:
        self.path, self.notebook, self.live = path, notebook, live


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """The notebook above, executed once on a real kernel and saved."""
    notebook = run_notebook(CELLS)
    path = tmp_path_factory.mktemp("export") / "sessions.ipynb"
    nbformat.write(notebook, path)
    return Ran(path, nbformat.read(path, as_version=4), last_json(notebook.cells[-1]))


def offline(record: dict[str, Any]) -> Session:
    return session_from_dict(record, Agent(provider="echo"))


def assert_same_branches(restored: dict[str, Any], live: dict[str, Any]) -> None:
    """Identical messages, ids, parent ids and usage on every branch; same heads and current one."""
    assert restored["messages"] == live["messages"]
    assert (restored["head"], restored["heads"], restored["current"]) == (live["head"], live["heads"], live["current"])
    a, b = offline(restored), offline(live)
    assert [n.id for n in a.nodes] == [n.id for n in b.nodes]
    assert a.usage == b.usage
    for index in range(len(b.branches)):
        a.checkout(index)
        b.checkout(index)
        assert [node_to_dict(n) for n in a.nodes] == [node_to_dict(n) for n in b.nodes]
        assert a.usage == b.usage


# -- real kernels ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_kernel_run_has_what_the_round_trip_needs(ran: Ran) -> None:
    cells = ran.notebook.cells
    assert [o for c in cells for o in c.outputs if o.output_type == "error"] == []
    assert EXPORT_MIME == SESSION_MIME
    (export,) = ours(cells[EXPORT_CELL])  # one output: the whole session
    assert export["kind"] == "vel_jupyter.session"
    assert set(cells[EXPORT_CELL].outputs[0].data) == {EXPORT_MIME, "text/html", "text/plain"}
    assert ours(cells[REGENERATE_CELL]) == []
    x = ran.live["x"]
    assert len(x["heads"]) == 2  # the regenerate made a branch
    assert any(m["role"] == "tool" for m in x["messages"])
    assert ran.live["y"]["forked_from"]["session_id"] == "x"
    assert set(ran.live) == {"x", "y", "z"}


@pytest.mark.slow
def test_read_sessions_round_trips_a_real_kernel(ran: Ran) -> None:
    records = read_sessions(ran.path)
    assert list(records) == ["x", "y", "z"]
    assert read_sessions(ran.notebook) == records
    # x: the export's header and messages, plus the turn run after the export: the whole record.
    assert records["x"] == ran.live["x"]
    assert records["x"]["system"] == "Be brief."
    for sid in ("x", "y", "z"):
        assert_same_branches(records[sid], ran.live[sid])
        assert offline(records[sid]).to_dict()["messages"] == ran.live[sid]["messages"]
    # y and z are known from their turns only: everything but the system prompt and creation time.
    for sid in ("y", "z"):
        for key in ("session_id", "forked_from", "lineage", "settings", "updated_at", "rev"):
            assert records[sid][key] == ran.live[sid][key], key
    assert records["y"]["system"] is None  # only an export holds the system prompt


@pytest.mark.slow
def test_chat_restore_notebook_in_a_fresh_kernel(ran: Ran) -> None:
    path = shlex.quote(str(ran.path))
    dump = "print(json.dumps({sid: s.to_dict() for sid, s in vel_jupyter.sessions().items()}))"
    notebook = run_notebook(
        [
            "%load_ext vel_jupyter\nimport json\nimport vel_jupyter",
            f"%chat restore --notebook {path}",
            dump,
            f"%chat restore --notebook {path}",  # 3: they exist now
            f"%chat restore --notebook {path} --replace",
            "%%chat x\nafter the restore",
            "print(json.dumps([m.content for m in vel_jupyter.sessions()['x'].messages]))",
            "%%chat y\nthe fork goes on",
            "print(json.dumps([n.id for n in vel_jupyter.sessions()['y'].nodes]))",
        ],
        allow_errors=True,
    )
    cells = notebook.cells
    said = stdout_of(cells[1]).splitlines()
    turns = {m["id"] for r in ran.live.values() for m in r["messages"] if m["role"] == "user"}
    assert said[0] == f"restored 3 sessions and {len(turns)} turns from {ran.path}: x, y, z"
    assert said[1].split() == ["session", "server"] and len(said) == 5, "then each session's server"
    restored = last_json(cells[2])
    assert restored["x"] == ran.live["x"]  # exported: identical, header and all
    for sid in ("x", "y", "z"):
        assert_same_branches(restored[sid], ran.live[sid])
    (error,) = [o.text for o in cells[3].outputs if o.output_type == "stream" and o.name == "stderr"]
    assert error.startswith("UsageError: ") and error.count("\n") == 1  # one line, no traceback
    assert "already exist" in error and "--replace" in error
    assert [o for c in cells[4:] for o in c.outputs if o.output_type == "error"] == []
    contents = last_json(cells[6])
    assert (
        contents[-2:] == ["after the restore", contents[-1]] and len(contents) == len(offline(ran.live["x"]).nodes) + 2
    )
    assert last_json(cells[8])[:-2] == [n.id for n in offline(ran.live["y"]).nodes]  # continued where it was


@pytest.mark.slow
def test_a_notebook_of_turns_only_restores_the_current_branch(ran: Ran) -> None:
    notebook = copy.deepcopy(ran.notebook)
    del notebook.cells[REGENERATE_CELL : EXPORT_CELL + 2]  # no export; x's last turns were on the regenerated branch
    assert not any(o["kind"] == "vel_jupyter.session" for c in notebook.cells for o in ours(c))
    records = read_sessions(notebook)
    live = offline(ran.live["x"])
    live.checkout(0)  # the branch x's remaining cells made
    x = records["x"]
    assert x["head"] == ours(ran.notebook.cells[3])[0]["head"] == live.head  # the last turn's head
    assert x["heads"] == [live.head] and x["current"] == 0
    assert x["messages"] == [node_to_dict(n) for n in live.nodes]
    assert offline(x).usage == live.usage
    for sid in ("y", "z"):
        assert_same_branches(records[sid], ran.live[sid])


@pytest.mark.slow
def test_a_turn_after_code_made_history_is_skipped_and_named(ran: Ran) -> None:
    notebook = copy.deepcopy(ran.notebook)
    notebook.cells[EXPORT_CELL].outputs = []  # as if the export cell had never been run
    merged = merge_notebook(notebook)
    cells = [notebook.cells[AFTER_REGENERATE_CELL], notebook.cells[EXPORT_CELL + 1]]  # the turn after it goes too
    lines = [str(s) for s in merged.skipped]
    for line, (index, cell) in zip(
        lines, [(AFTER_REGENERATE_CELL, cells[0]), (EXPORT_CELL + 1, cells[1])], strict=True
    ):
        assert line.startswith(f"cell {index + 1} (id {cell.id!r}), output 0: session 'x': skipped this turn")
        assert "made in code" in line and "\n" not in line
    assert len({s.parent for s in merged.skipped}) == 1, "both name the regenerated answer, the message missing"
    # Everything else is restored: y and z whole, x up to the regenerate.
    assert list(merged.records) == ["x", "y", "z"]
    for sid in ("y", "z"):
        assert_same_branches(merged.records[sid], ran.live[sid])
    x = offline(merged.records["x"])
    assert {n.id for n in x.nodes} <= {m["id"] for m in ran.live["x"]["messages"]}
    with pytest.warns(UserWarning, match="skipped this turn") as warned:
        assert read_sessions(notebook) == merged.records
    assert [str(w.message) for w in warned] == lines


# -- offline: write_session, restore_notebook ------------------------------------------------------


def family() -> tuple[Agent, Session, Session]:
    """x with two branches and a tool-free fork y, on the echo provider."""
    agent = Agent(provider="echo")
    x = agent.session("x", system="Be brief.")
    x.run("one")
    x.run("two")
    y = x.fork("y")
    y.run("fork")
    x.regenerate("two, again")
    return agent, x, y


def turns_notebook(steps: list[tuple[Session, Callable[[Session], Any]]]) -> Any:
    """A notebook with one output cell per turn, as a kernel would save it."""
    notebook = nbformat.v4.new_notebook()
    for index, (session, step) in enumerate(steps):
        response = step(session)
        cell = nbformat.v4.new_code_cell(f"%%chat {session.session_id}\nturn {index}")
        cell.id = f"cell-{index}"
        data = {EXPORT_MIME: turn_payload(session, response), "text/plain": response.text}
        cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
        notebook.cells.append(cell)
    return nbformat.from_dict(json.loads(json.dumps(notebook)))


def test_write_session_then_read_sessions(tmp_path: Path) -> None:
    _, x, y = family()
    path = tmp_path / "empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    write_session(path, x)
    write_session(path, y.to_dict(), path_out=tmp_path / "copy.ipynb")
    assert read_sessions(path) == {"x": x.to_dict()}
    assert read_sessions(tmp_path / "copy.ipynb") == {"x": x.to_dict(), "y": y.to_dict()}
    nbformat.validate(nbformat.read(tmp_path / "copy.ipynb", as_version=4))
    x.run("three")  # writing again replaces the entry
    notebook = write_session(nbformat.read(path, as_version=4), x)
    assert read_sessions(notebook)["x"] == x.to_dict()
    assert read_sessions(path)["x"] != x.to_dict()  # a notebook object is not written anywhere by itself
    with pytest.raises(SessionDataError, match="the record to write"):
        write_session(notebook, {**x.to_dict(), "version": 99})


def test_restore_notebook_into_an_agent_and_a_store(tmp_path: Path) -> None:
    _, x, y = family()
    notebook = write_session(write_session(nbformat.v4.new_notebook(), x), y)
    agent = Agent(provider="echo")
    assert restore_notebook(notebook, agent) == ["x", "y"]
    assert agent.get_session("x").to_dict() == x.to_dict()
    assert agent.get_session("y").to_dict() == y.to_dict()
    with pytest.raises(ConfigurationError, match=r"x, y already exist.*replace=True"):
        restore_notebook(notebook, agent)
    agent.get_session("x").run("more")
    assert restore_notebook(notebook, agent, replace=True) == ["x", "y"]
    assert agent.get_session("x").to_dict() == x.to_dict()

    # Sessions known from turns only go into a store too, and keep working there.
    a = Agent(provider="echo").session("a")
    turns = turns_notebook([(a, lambda s: s.run("hi")), (a, lambda s: s.run("again"))])
    store = f"sqlite:///{tmp_path / 'sessions.db'}"
    stored = Agent(provider="echo", session_storage=store)
    reg = Registry(provider="echo", store=store)
    assert restore_notebook(turns, reg) == ["a"]
    reg.get("a").run("after the restore")
    reloaded = Agent(provider="echo", session_storage=store).get_session("a")
    assert [m.content for m in reloaded.messages][:4] == [m.content for m in a.messages]
    assert len(reloaded.messages) == 6
    assert stored.list_sessions() == ["a"]


def test_turns_are_replayed_in_the_order_they_were_made() -> None:
    """A cell re-run higher up the notebook holds the session's latest turn."""
    agent = Agent(provider="echo")
    s = agent.session("s")
    payload_first = turn_payload(s, s.run("first"))  # a kernel builds each payload right after its turn
    payload_second = turn_payload(s, s.run("second"))
    payload_rerun = turn_payload(s, s.regenerate("second, edited"))  # cell 2 edited and re-run: output replaced
    payload_late = turn_payload(s, s.run("third"))  # then a new cell at the end
    notebook = nbformat.v4.new_notebook()
    for payload in (payload_first, payload_rerun, payload_late):
        cell = nbformat.v4.new_code_cell("%%chat s")
        cell.outputs = [nbformat.v4.new_output("display_data", data={EXPORT_MIME: payload})]
        notebook.cells.append(cell)
    record = read_sessions(notebook)["s"]
    assert record["head"] == s.head and record["current"] == 1
    assert record["heads"] == s.heads, "branch 0's end is in no turn output, but the re-run's output holds it"
    assert payload_second["head"] == s.heads[0] and len(payload_rerun["alternatives"]) == 2
    assert_same_branches(record, s.to_dict())

    # Out of notebook order: the later cell was run first.
    notebook.cells[1], notebook.cells[2] = notebook.cells[2], notebook.cells[1]
    assert read_sessions(notebook)["s"]["head"] == s.head


# -- damaged or foreign data --------------------------------------------------------------------------


def damaged_notebook(damage: Callable[[dict[str, Any]], Any], *, export: bool = False) -> Any:
    """Cell 1 holds x's first turn, cell 2 (id 'damaged') its second turn or a full export, damaged."""
    agent = Agent(provider="echo")
    x = agent.session("x")
    first = turn_payload(x, x.run("one"))
    second = export_bundle(x)[EXPORT_MIME] if export else turn_payload(x, x.run("two"))
    second = json.loads(json.dumps(second))
    replaced = damage(second)
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell("# damaged"))
    for index, payload in enumerate([first, second if replaced is None else replaced], start=1):
        cell = nbformat.v4.new_code_cell("%%chat x")
        cell.id = "damaged" if index == 2 else f"fine-{index}"
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "x", EXPORT_MIME: payload})]
        notebook.cells.append(cell)
    return notebook


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda p: p.__setitem__(key, value)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def damage(payload: dict[str, Any]) -> None:
        del payload[key]

    return damage


def _message(index: int, key: str, value: Any = None, *, drop: bool = False) -> Callable[[dict[str, Any]], None]:
    def damage(payload: dict[str, Any]) -> None:
        if drop:
            payload["messages"][index].pop(key)
        else:
            payload["messages"][index][key] = value

    return damage


TURN_DAMAGE = {
    "foreign kind": (_set("kind", "someone.else"), "unknown kind 'someone.else'"),
    "newer version": (_set("version", 2), "newer vel_jupyter (format 2"),
    "no version": (_drop("version"), "no valid 'version'"),
    "no head": (_drop("head"), "lacks 'head'"),
    "no messages": (_drop("messages"), "lacks 'messages'"),
    "no session id": (_drop("session_id"), "lacks 'session_id'"),
    "bad session id": (_set("session_id", "a\nb"), "invalid session id"),
    "a list": (lambda p: [p], "holds a list, not an object"),
    "a number": (lambda p: 7, "holds a int, not an object"),
    "not JSON": (lambda p: "{not json", "not JSON"),
    "empty messages": (_set("messages", []), "non-empty list"),
    "message not an object": (_set("messages", ["hello"]), "message 0 is a str"),
    "message without id": (_message(0, "id", drop=True), "message 0 has no id"),
    "message with a numeric id": (_message(0, "id", 5), "message 0 has no id"),
    "message without role": (_message(1, "role", drop=True), "role: Field required"),
    "broken chain": (_message(1, "parent_id", "nowhere"), "parent links are broken"),
    "head elsewhere": (_set("head", "nowhere"), "head 'nowhere' is not the turn's last message"),
    "branch out of range": (_set("branch", 5), "'branch' 5"),
    "another writer": (_message(0, "session_id", "y"), "written by session 'y'"),
}


@pytest.mark.parametrize("name", list(TURN_DAMAGE))
def test_damaged_turn_payloads_name_the_cell(name: str) -> None:
    damage, expected = TURN_DAMAGE[name]
    with pytest.raises(SessionDataError) as info:
        read_sessions(damaged_notebook(damage))
    assert "cell 3 (id 'damaged'), output 0" in str(info.value)
    assert expected in str(info.value)


def test_a_turn_continuing_a_message_no_output_holds_is_skipped_with_its_cell_named() -> None:
    notebook = damaged_notebook(_message(0, "parent_id", "nowhere"))
    with pytest.warns(UserWarning, match="skipped this turn") as warned:
        records = read_sessions(notebook)
    (line,) = [str(w.message) for w in warned]
    assert line.startswith("cell 3 (id 'damaged'), output 0: session 'x': skipped this turn: it continues message ")
    assert "'nowhere'" in line and "re-run the cell" in line and "\n" not in line
    first = notebook.cells[1].outputs[0].data[EXPORT_MIME]
    x = records["x"]
    assert x["messages"] == first["messages"], "the first cell's turn is restored"
    assert (x["head"], x["heads"], x["current"]) == (first["head"], [first["head"]], 0)


def test_two_different_messages_with_one_id_name_both_cells() -> None:
    notebook = damaged_notebook(lambda p: None)
    answer = notebook.cells[1].outputs[0].data[EXPORT_MIME]["messages"][1]
    second = notebook.cells[2].outputs[0].data[EXPORT_MIME]["messages"]
    second.insert(0, {**answer, "content": "edited"})  # turn 2 carries an edited copy of turn 1's answer
    with pytest.raises(SessionDataError) as info:
        read_sessions(notebook)
    assert "cell 3 (id 'damaged'), output 0: message" in str(info.value)
    assert "differs from the message with the same id in cell 2 (id 'fine-1')" in str(info.value)
    second[0]["content"] = answer["content"]  # the same message twice is fine
    second[0]["meta"] = None
    assert read_sessions(notebook)["x"]["messages"][1] == answer


EXPORT_DAMAGE = {
    "newer version": (_set("version", 99), "newer vel_jupyter (format 99"),
    "no heads": (_drop("heads"), "lacks 'heads'"),
    "messages not a list": (_set("messages", {"a": 1}), "'messages' must be a list"),
    "message without id": (_message(1, "id", drop=True), "message 1 has no id"),
    "broken parent link": (_message(1, "parent_id", "nowhere"), "names parent 'nowhere', which is missing"),
    "head elsewhere": (_set("head", "nowhere"), "head 'nowhere' is not one of its messages"),
    "bad current": (_set("current", 9), "current branch 9 is out of range"),
}


@pytest.mark.parametrize("name", list(EXPORT_DAMAGE))
def test_damaged_exports_name_the_cell(name: str) -> None:
    damage, expected = EXPORT_DAMAGE[name]
    with pytest.raises(SessionDataError) as info:
        read_sessions(damaged_notebook(damage, export=True))
    assert "cell 3 (id 'damaged'), output 0" in str(info.value)
    assert expected in str(info.value)


def test_damaged_metadata_names_where_it_is() -> None:
    _, x, _ = family()
    notebook = write_session(nbformat.v4.new_notebook(), x)
    bad = copy.deepcopy(notebook)
    bad.metadata["vel_jupyter"]["sessions"]["x"]["messages"][2]["parent_id"] = "nowhere"
    with pytest.raises(SessionDataError, match=r"notebook metadata vel_jupyter.sessions\['x'\].*'nowhere'"):
        read_sessions(bad)
    bad = copy.deepcopy(notebook)
    bad.metadata["vel_jupyter"]["sessions"]["other"] = bad.metadata["vel_jupyter"]["sessions"].pop("x")
    with pytest.raises(SessionDataError, match=r"sessions\['other'\]: holds session 'x'"):
        read_sessions(bad)
    bad.metadata["vel_jupyter"] = ["x"]
    with pytest.raises(SessionDataError, match="notebook metadata 'vel_jupyter'"):
        read_sessions(bad)
    with pytest.raises(SessionDataError, match="is a list, not an object"):
        write_session(bad, x)


def test_a_file_that_is_not_a_notebook(tmp_path: Path) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json")
    with pytest.raises(SessionDataError, match="not a readable notebook"):
        read_sessions(path)
    assert read_sessions(nbformat.v4.new_notebook()) == {}


# -- secrets ---------------------------------------------------------------------------------------------


def test_no_api_key_in_exports_or_written_notebooks(server: OpenAIServer, tmp_path: Path) -> None:
    server.enqueue(Reply.text("Hello from the loopback server"))
    agent = Agent(provider="openai", model="gpt-4o", base_url=server.base_url, api_key=TEST_KEY, max_retries=0)
    session = agent.session("keyed")
    response = session.run("hi")
    assert server.requests  # the turn really went over HTTP, with the key
    bundle = export_bundle(session)
    assert TEST_KEY not in json.dumps(bundle)
    assert TEST_KEY not in json.dumps(turn_payload(session, response))
    path = tmp_path / "keyed.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    write_session(path, session)
    text = path.read_text()
    assert TEST_KEY not in text and "sk-test" not in text
    assert read_sessions(path)["keyed"] == session.to_dict()


# -- the magics, in-process ------------------------------------------------------------------------------


@pytest.fixture
def ip() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    set_registry(Registry(provider="echo"))
    shell.extension_manager.load_extension("vel_jupyter")
    yield shell
    shell.extension_manager.unload_extension("vel_jupyter")


def test_chat_export_and_restore_commands(
    ip: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_cell_magic("chat", "x", "hello")
    ip.run_cell_magic("chat", "x", "again")
    original = registry().get("x").to_dict()
    target = tmp_path / "x.json"
    ip.run_line_magic("chat", f"export x --file {shlex.quote(str(target))}")
    assert f"exported session 'x' to {target}" in capsys.readouterr().out
    assert json.loads(target.read_text()) == original
    ip.run_line_magic("chat", "export x")  # no frontend: the plain-text summary is printed
    assert "vel_jupyter session 'x': 4 messages, 1 branches" in capsys.readouterr().out

    notebook_path = tmp_path / "saved.ipynb"
    write_session(nbformat.v4.new_notebook(), original, path_out=notebook_path)
    set_registry(Registry(provider="echo"))  # a new kernel
    ip.run_line_magic("chat", f"restore --notebook {shlex.quote(str(notebook_path))}")
    assert "restored 1 session and 2 turns from " in capsys.readouterr().out
    assert registry().get("x").to_dict() == original

    for line, expected in [
        ("export", "usage: %chat export ID [--file PATH]"),
        ("export x --file", "usage: %chat export ID [--file PATH]"),
        ("export nope", "no session 'nope'"),
        (f"export x --file {tmp_path / 'missing' / 'x.json'}", "cannot write"),
        ("restore --notebook", "usage: %chat restore [--notebook PATH] [--replace]"),
        ("restore extra", "unrecognized arguments: extra; usage: %chat restore [--notebook PATH] [--replace]"),
        (f"restore --notebook {tmp_path / 'missing.ipynb'}", "cannot restore from"),
        (f"restore --notebook {shlex.quote(str(target))}", "not a readable notebook"),
        (f"restore --notebook {shlex.quote(str(notebook_path))}", "already exist"),
    ]:
        with pytest.raises(UsageError) as info:
            ip.run_line_magic("chat", line)
        assert expected in str(info.value), line
        assert "\n" not in str(info.value)
    ip.run_line_magic("chat", f"restore --notebook {shlex.quote(str(notebook_path))} --replace")
    assert registry().get("x").to_dict() == original
    assert os.path.exists(notebook_path)


def test_a_live_frame_saved_mid_stream_is_not_read_as_a_turn() -> None:
    """A notebook saved while a turn streamed (or after its kernel died) keeps a live frame:
    it has no ids and no usage, and must neither break reading nor add messages."""
    from vel_jupyter.jupyter.display import LiveView

    agent = Agent(provider="echo")
    s = agent.session("s")
    notebook = turns_notebook([(s, lambda x: x.run("first"))])
    view = LiveView(rich=True, session_id="s")
    frames: list[dict[str, Any]] = []
    view._handle = type("Handle", (), {"update": lambda self, bundle, raw: frames.append(bundle)})()
    for event in s.stream("second, never finished"):
        if event.type == "text_delta":
            view.feed(event)
            view.draw()
            break  # the kernel died here
    cell = nbformat.v4.new_code_cell("%%chat s\nsecond, never finished")
    cell.outputs = [nbformat.v4.new_output("display_data", data=frames[-1])]
    notebook.cells.append(cell)
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    record = read_sessions(notebook)["s"]
    assert [m["content"] for m in record["messages"]] == ["first", s.messages[1].content]


def test_chat_restore_says_what_it_restored_and_skipped(
    ip: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = Agent(provider="echo")
    a, b = agent.session("a"), agent.session("b")
    notebook = turns_notebook(
        [
            (a, lambda s: s.run("one")),
            (a, lambda s: s.regenerate("one, again")),  # cell 2: its output holds cell 1's answer too
            (b, lambda s: s.run("b's one")),
            (b, lambda s: s.run("b's two")),
        ]
    )
    del notebook.cells[2]  # b's first turn is gone: b's second cannot be placed
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, path)
    ip.run_line_magic("chat", f"restore --notebook {shlex.quote(str(path))}")
    said = capsys.readouterr().out.splitlines()
    assert said[0] == f"restored 1 session, 1 turn and 1 alternative answer from {path}: a"
    assert said[1].startswith("cell 3 (id 'cell-3'), output 0: session 'b': skipped this turn: it continues message ")
    assert said[1].endswith("re-run the cell to ask it again")
    assert said[2].split() == ["session", "server"]
    assert registry().get("a").to_dict()["messages"] == a.to_dict()["messages"]

    only_skipped = copy.deepcopy(notebook)
    del only_skipped.cells[:2]
    nbformat.write(only_skipped, path)
    set_registry(Registry(provider="echo"))
    ip.run_line_magic("chat", f"restore --notebook {shlex.quote(str(path))}")
    said = capsys.readouterr().out.splitlines()
    assert said[0] == f"no session of {path} could be restored" and "skipped this turn" in said[1]
    assert registry().ids() == []
