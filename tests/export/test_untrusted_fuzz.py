"""Fuzzing the one validator (formats/): every malformed or hostile record, notebook or turn
payload either loads or raises one ``SessionDataError`` line — never another exception, never
a hang, never a session that breaks a later command."""

from __future__ import annotations

import copy
import math
import signal
from collections.abc import Callable, Iterator
from typing import Any

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vel_jupyter import Agent, Session
from vel_jupyter.errors import SessionDataError
from vel_jupyter.export.notebook import export_bundle, read_sessions
from vel_jupyter.jupyter.display import turn_payload

MIME = "application/vnd.vel.session+json"


def _sample_session() -> Session:
    """Two branches and a fork: every field a record can have is filled."""
    agent = Agent(provider="echo")
    session = agent.session(session_id="s", system="Be brief.")
    session.configure(model="m", params={"temperature": 0.5})
    session.run("one")
    session.run("two")
    session.regenerate()
    session.fork(session_id="f").run("three")
    return session


SESSION = _sample_session()
RECORD = SESSION.to_dict()
TURN = turn_payload(SESSION, SESSION.run("four"))
RERUN = turn_payload(SESSION, SESSION.regenerate())  # carries the earlier answer under "alternatives"

hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([30_000_000, 10**12, -1, 0, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["\x00", "\ud800", "a\udfffb", "", " ", "x" * 300, "2026-13-45T99:00:00", "http://evil/v1"]),
)
json_values = st.recursive(
    hostile_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def mutated(draw: st.DrawFn, original: dict[str, Any]) -> dict[str, Any]:
    """``original`` with one to three places replaced by hostile values (or a parent loop)."""
    data = copy.deepcopy(original)
    paths = [p for p in _paths(data) if p]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        target = data
        try:
            for key in path[:-1]:
                target = target[key]
            kind = draw(st.sampled_from(["json", "deep", "loop", "drop"]))
            if kind == "json":
                target[path[-1]] = draw(json_values)
            elif kind == "deep":
                target[path[-1]] = _deep(draw(st.sampled_from([40, 500])))
            elif kind == "loop" and data.get("messages"):
                messages = data["messages"]
                i, j = draw(st.integers(0, len(messages) - 1)), draw(st.integers(0, len(messages) - 1))
                if isinstance(messages[i], dict) and isinstance(messages[j], dict):
                    messages[i]["parent_id"] = messages[j].get("id")
            elif kind == "drop" and isinstance(target, dict):
                target.pop(path[-1], None)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation changed the shape under this path
    return data


class _Hang(Exception):
    pass


def loads_or_one_line(load: Callable[[], Any], size_hint: int) -> Any:
    """``load()`` returns, or raises a one-line SessionDataError; a hang is a failure.

    The alarm is a hang detector, generous and proportional to the input, not a benchmark.
    """

    def alarm(*_: Any) -> None:
        raise _Hang

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(10 + size_hint // 10_000)
    refused: SessionDataError | None = None
    try:
        return load()
    except SessionDataError as exc:
        refused = exc
    except _Hang:
        pytest.fail("loading did not finish: a loop in the data?")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert "\n" not in str(refused), str(refused)
    return None


def use(session: Session) -> None:
    """What later commands do with a loaded session: none of it may fail."""
    assert isinstance(session.messages, list)
    for branch in session.branches:
        assert branch.number >= 1
    repr(session)
    session.to_dict()
    session.settings  # noqa: B018
    str(session.model)
    Agent(provider="echo").session_summaries()


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated(RECORD))
def test_a_hostile_record_loads_or_is_one_line(data: dict[str, Any]) -> None:
    session = loads_or_one_line(lambda: Session.from_dict(data, Agent(provider="echo")), len(str(data)))
    if session is not None:
        use(session)


def _notebook(*payloads: Any) -> Any:
    outputs = [nbformat.v4.new_output("display_data", data={MIME: p}) for p in payloads]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[o]) for o in outputs])


@FUZZ
@given(mutated(TURN))
def test_a_hostile_turn_payload_reads_or_is_one_line(payload: dict[str, Any]) -> None:
    export = export_bundle(SESSION)[MIME]
    records = loads_or_one_line(lambda: read_sessions(_notebook(export, payload)), len(str(payload)))
    for record in (records or {}).values():
        use(Session.from_dict(record, Agent(provider="echo")))


@FUZZ
@given(mutated(RERUN))
def test_a_hostile_rerun_payload_with_alternatives_reads_or_is_one_line(payload: dict[str, Any]) -> None:
    assert len(RERUN["alternatives"]) >= 2
    export = export_bundle(SESSION)[MIME]
    records = loads_or_one_line(lambda: read_sessions(_notebook(payload, export)), len(str(payload)))
    for record in (records or {}).values():
        use(Session.from_dict(record, Agent(provider="echo")))


@FUZZ
@given(st.one_of(json_values, st.just("[" * 100_000 + "]" * 100_000), st.just('{"kind": ' * 5000)))
def test_anything_at_all_under_our_mimetype_reads_or_is_one_line(value: Any) -> None:
    loads_or_one_line(lambda: read_sessions(_notebook(value)), 0)


@pytest.mark.parametrize("branches", [30_000_000, 10**12, 1e12, math.inf])
def test_an_absurd_branch_count_allocates_nothing(branches: Any) -> None:
    payload = {**copy.deepcopy(TURN), "branches": branches}
    with pytest.raises(SessionDataError, match="branches"):
        read_sessions(_notebook(payload))


def test_a_long_parent_chain_is_linear_not_recursive() -> None:
    """100,000 messages in one chain: checked without recursion (no RecursionError)."""
    data = copy.deepcopy(RECORD)
    template = data["messages"][1]
    chain, parent = [], None
    for index in range(100_000):
        chain.append({**template, "id": f"m{index}", "parent_id": parent, "session_id": "s"})
        parent = f"m{index}"
    data.update(messages=chain, head=parent, heads=[parent], current=0, forked_from=None, lineage=[])
    session = loads_or_one_line(lambda: Session.from_dict(data, Agent(provider="echo")), 10**7)
    assert session is not None and len(session.messages) == 100_000
