"""A streaming answer costs the notebook bytes in proportion to its length (issue 19).

The live view used to re-send the whole answer (HTML, text and JSON) on every frame: a 1 MB
answer cost 29 MB of IOPub, a 10 MB one the kernel. Now a live frame carries at most
``LiveView.window`` characters, cut where a Markdown block starts, and the final output the
whole answer, once. Frames are weighed as IPython publishes them (a recording display
publisher on a real InteractiveShell, the way ipykernel's publisher receives them), and the
stream runs on a fake clock at a fixed rate: no figure here depends on the machine's speed.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

from vel_jupyter.core.message import ToolCall
from vel_jupyter.core.response import StreamEvent
from vel_jupyter.formats.kinds import SESSION_MIME
from vel_jupyter.jupyter.display import LIVE_WINDOW, PARTIAL_NOTE, LiveView
from vel_jupyter.jupyter.live_text import LiveText, elided_note
from vel_jupyter.jupyter.registry import Registry, set_registry
from vel_jupyter.providers import register_provider
from vel_jupyter.render import markdown_to_html
from vel_jupyter.testing import Reply, ScriptedProvider

SCRIPTED = ScriptedProvider()
register_provider("scripted-live-stream", lambda **_: SCRIPTED)
MB = 1_000_000


def answer(size: int) -> str:
    """``size`` characters of what a model writes: headings, prose, lists, fenced code."""
    parts, length, index = [], 0, 0
    while length < size:
        part = (
            f"## Section {index}\n\nThis explains **point {index}** with `code_{index}` and a "
            f"[link](https://example.com/{index}); it reads like prose from a model.\n\n"
            f"- first item of list {index}\n- second item, with *emphasis*\n\n"
            f"```python\ndef step_{index}(frame):\n    return frame.groupby('key').sum() * {index}\n```\n\n"
        )
        parts.append(part)
        length += len(part)
        index += 1
    return "".join(parts)[:size]


class Recorder(DisplayPublisher):
    """Every display message as a kernel would send it, weighed as JSON."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[tuple[bool, dict[str, Any]]] = []
        self.sizes: list[int] = []

    def publish(
        self, data: Any, metadata: Any = None, *args: Any, transient: Any = None, update: bool = False, **kw: Any
    ) -> None:
        self.messages.append((update, data))
        self.sizes.append(
            len(json.dumps({"data": data, "metadata": metadata or {}, "transient": transient or {}}).encode())
        )

    def clear_output(self, wait: bool = False) -> None:
        self.messages.append((False, {}))
        self.sizes.append(0)


class Clock:
    """A stream at ``rate`` characters a second of ``chunk``-character tokens: each read is one token later."""

    def __init__(self, rate: float, chunk: int) -> None:
        self.now, self.step = 0.0, chunk / rate

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class _Kernel:
    """Enough of ipykernel's kernel for ``%%chat`` to draw rich output (it asks for the cell id)."""

    def get_parent(self) -> dict[str, Any]:
        return {}


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    shell = InteractiveShell.instance()
    recorder = Recorder()
    monkeypatch.setattr(shell, "display_pub", recorder)
    return recorder


def stream(text: str, *, rate: float, chunk: int, monkeypatch: pytest.MonkeyPatch, **options: Any) -> LiveView:
    """``text`` through a live view in ``chunk``-character tokens at ``rate`` characters a second."""
    monkeypatch.setattr(LiveView, "clock", staticmethod(Clock(rate, chunk)))
    view = LiveView(rich=True, session_id="s", **options)
    view.start()
    for index in range(0, len(text), chunk):
        view.feed(StreamEvent("text_delta", text=text[index : index + chunk]))
    view.draw()  # the last frame shows the end (the magic would show the final output)
    return view


class TestLiveText:
    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.text(alphabet="ab\n`~# -", max_size=12), max_size=40), st.data())
    def test_appended_chunks_read_back_whole_and_in_slices(self, chunks: list[str], data: st.DataObject) -> None:
        text, whole = LiveText(), "".join(chunks)
        for chunk in chunks:
            text.append(chunk)
            start = data.draw(st.integers(0, len(text)))
            end = data.draw(st.integers(start, len(text)))
            assert text.slice(start, end) == whole[: len(text)][start:end]
        assert len(text) == len(whole) and str(text) == whole and text.slice(0) == whole

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.sampled_from(["text ", "\n", "\n\n", "```py\n", "```\n", "~~~\n", "# h\n", "    x\n", "- i\n"]),
            max_size=60,
        ),
        st.integers(4, 40),
    )
    def test_a_tail_is_at_most_the_limit_and_starts_a_line_or_reopens_its_fence(
        self, pieces: list[str], limit: int
    ) -> None:
        text = LiveText()
        for piece in pieces:
            text.append(piece)
            start, reopen = text.tail(limit)
            whole = str(text)
            if len(whole) <= limit:
                assert (start, reopen) == (0, "")
                continue
            low = len(whole) - limit
            assert low <= start <= len(whole)
            assert whole[start - 1] == "\n" or "\n" not in whole[low : low + limit // 2], "at a line if there is one"
            assert reopen == "" or re.fullmatch(r"(```|~~~)\w*\n", reopen), reopen

    def test_the_tail_of_a_document_renders_as_the_end_of_the_whole(self) -> None:
        doc = (
            answer(20_000)
            + "\n\nSetext heading\n==============\n\n> a quote\n> on two lines\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
        )
        text, checked = LiveText(), 0
        for index in range(0, len(doc), 499):
            text.append(doc[index : index + 499])
            start, reopen = text.tail(3_000)
            if start and not reopen:  # cut where a block starts: the blocks from there render as in the whole
                complete = str(text)[: str(text).rfind("\n\n")]  # (the last block may still grow)
                assert markdown_to_html(complete[start:]) in markdown_to_html(complete)
                checked += 1
        assert checked > 20

    def test_a_tail_inside_a_long_code_block_reopens_its_fence(self) -> None:
        code = "".join(f"    value_{i} = compute({i})  # step {i}\n" for i in range(3_000))
        text = LiveText("Intro.\n\n````python title\n" + code)
        start, reopen = text.tail(4_000)
        assert reopen == "````python title\n"
        rendered = markdown_to_html(reopen + text.slice(start))
        assert rendered.startswith('<pre class="vel-code"') and "value_2999" in rendered and "```" not in rendered
        text.append("````\n\nAfter the code.\n")
        start, reopen = text.tail(30)
        assert (reopen, text.slice(start)) == ("", "After the code.\n")

    def test_fence_rules_of_commonmark(self) -> None:
        text = LiveText(
            "~~~\n```\nnot a close\n~~~\n\n"  # a ``` line does not close a ~~~ fence
            "````\n```\nstill code\n````\n\n"  # nor a shorter run
            "``` a`b\nnot a fence: backtick in the info string\n"
            "#hashtag: a paragraph's line\n# heading\n" + "tail line\n" * 20
        )
        str(text)
        text.tail(10)
        starts = {str(text)[cut:].split("\n", 1)[0] for cut in text._cuts}
        assert starts == {"~~~", "````", "``` a`b", "# heading"}
        assert text._fence_end[-1] is not None and len(text._fence_at) == 2


class TestLiveFrames:
    def test_every_frame_is_bounded_whatever_the_answer_length(
        self, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        text = answer(MB)
        view = stream(text, rate=50_000, chunk=16, monkeypatch=monkeypatch)
        payloads = [data for update, data in recorder.messages if update]
        assert len(payloads) == view.updates > 20
        assert max(recorder.sizes) < 8 * LIVE_WINDOW, "a frame carries at most a window, in three copies"
        last = payloads[-1]
        note, shown = last["text/plain"].split("\n", 1)
        tail = shown.removesuffix(" ▌")
        assert text.endswith(tail) and note == f"[{elided_note(len(text) - len(tail))}]"
        start = len(text) - len(tail)
        assert text[start - 2 : start] == "\n\n" and len(tail) <= LIVE_WINDOW, "cut where a block starts"
        content = last[SESSION_MIME]["messages"][0]["content"]
        assert content.startswith("… ") and "characters above" in content and text.endswith(content.split("\n\n", 1)[1])
        html = last["text/html"]
        assert "characters above" in html and "<h2>Section" in html and "## Section" not in html

    def test_bytes_grow_linearly_with_the_answer(self, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
        sent = {}
        for size in (MB // 2, MB, 2 * MB):
            recorder.sizes.clear()
            stream(answer(size), rate=100_000, chunk=32, monkeypatch=monkeypatch)
            sent[size] = sum(recorder.sizes)
        assert sent[MB] < 2 * MB, sent  # the old view: 29 MB
        assert sent[2 * MB] < 2.3 * sent[MB] and sent[MB] < 2.3 * sent[MB // 2], f"not linear: {sent}"

    def test_frames_are_a_few_a_second_and_pages_are_stable(
        self, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        text = answer(100_000)
        view = stream(text, rate=1_000, chunk=4, monkeypatch=monkeypatch, window=4_000)  # 100 s of streaming
        assert 2 * 100 <= view.updates <= 2 * 100 + 60
        above = [data["text/plain"].split("\n", 1)[0] for update, data in recorder.messages if update]
        moves = sum(a != b for a, b in itertools.pairwise(above))
        assert moves <= len(text) / (4_000 / 2) + 1 and moves < view.updates / 3, "it pages, not scrolls"

    def test_a_slow_frame_does_not_make_every_token_draw_one(self, monkeypatch: pytest.MonkeyPatch) -> None:
        clock = Clock(100_000, 10)
        monkeypatch.setattr(LiveView, "clock", staticmethod(clock))

        class SlowHandle:
            def update(self, bundle: dict[str, Any], raw: bool = False) -> None:
                clock.now += 0.6  # a frame that takes longer than the half second between timed frames

        view = LiveView(rich=True)
        view._handle = SlowHandle()
        text = answer(200_000)  # 2 s of tokens
        for index in range(0, len(text), 10):
            view.feed(StreamEvent("text_delta", text=text[index : index + 10]))
        assert view.updates < 40, view.updates

    def test_a_short_answer_is_shown_whole_as_before(self, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
        text = answer(LIVE_WINDOW - 100)
        stream(text, rate=500, chunk=4, monkeypatch=monkeypatch)
        last = recorder.messages[-1][1]
        assert last["text/plain"] == text + " ▌"
        assert last[SESSION_MIME]["messages"][0]["content"] == text
        assert "characters above" not in last["text/html"]

    def test_tool_results_and_arguments_are_clipped_in_frames(
        self, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(LiveView, "clock", staticmethod(Clock(1_000, 1)))
        view = LiveView(rich=True, session_id="s", window=1_000)
        view.start()
        call = ToolCall(id="c1", name="load", arguments=json.dumps({"rows": "x" * 50_000}))
        view.feed(StreamEvent("tool_call", tool_call=call))
        view.feed(StreamEvent("tool_result", text="y" * 50_000, tool_call=call))
        view.feed(StreamEvent("text_delta", text="done"))
        view.draw()
        messages = recorder.messages[-1][1][SESSION_MIME]["messages"]
        assert [m["role"] for m in messages] == ["assistant", "tool", "assistant"]
        assert len(messages[0]["tool_calls"][0]["arguments"]) == 1_001 and len(messages[1]["content"]) == 1_001
        assert messages[2]["content"] == "done" and max(recorder.sizes) < 10_000

    def test_a_stopped_long_answer_keeps_all_of_it(self, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
        text = answer(200_000)
        view = stream(text, rate=50_000, chunk=64, monkeypatch=monkeypatch)
        view.stop()
        last = recorder.messages[-1][1]
        assert last["text/plain"] == f"{text}\n[{PARTIAL_NOTE}]"
        assert last[SESSION_MIME]["messages"][0]["content"] == text and last[SESSION_MIME]["note"] == PARTIAL_NOTE


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch, recorder: Recorder) -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    set_registry(Registry(provider="echo"))
    shell.extension_manager.load_extension("vel_jupyter")
    monkeypatch.setattr(shell, "kernel", _Kernel(), raising=False)  # a frontend: rich output
    SCRIPTED.calls.clear()
    SCRIPTED.reset()
    yield shell
    shell.extension_manager.unload_extension("vel_jupyter")


@pytest.mark.slow
def test_a_1_mb_answer_through_chat_costs_a_few_mb_and_ends_in_one_whole_output(
    ip: InteractiveShell, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = answer(MB)
    SCRIPTED.enqueue(Reply.text(text, chunks=MB // 16))
    monkeypatch.setattr(LiveView, "clock", staticmethod(Clock(100_000, 16)))
    ip.run_cell_magic("chat", "big --provider scripted-live-stream", "Go.")
    *live, (update, final) = recorder.messages
    *live_sizes, final_size = recorder.sizes
    assert update and final[SESSION_MIME]["kind"] == "vel_jupyter.turn" and "live" not in final[SESSION_MIME]
    assert final["text/plain"] == text, "the final output has the whole answer"
    assert "<h2>Section 0</h2>" in final["text/html"] and final["text/html"].count("<h2>") == text.count("## Section")
    assert final[SESSION_MIME]["messages"][-1]["content"] == text
    assert len(live) < 100, "frames are bounded"
    assert sum(live_sizes) < 2 * MB, f"live frames: {sum(live_sizes):,} bytes"  # the old view: 29 MB
    assert sum(recorder.sizes) < final_size + 2 * MB


class CtrlCAfterALongAnswer(ScriptedProvider):
    """Streams ``text`` in chunks, then Ctrl-C lands inside the provider."""

    text = ""

    def stream(self, request):  # type: ignore[no-untyped-def]
        self.calls.append(request)
        for index in range(0, len(self.text), 64):
            yield StreamEvent("text_delta", text=self.text[index : index + 64])
        raise KeyboardInterrupt


CTRL_C = CtrlCAfterALongAnswer()
register_provider("stopping-live-stream", lambda **_: CTRL_C)


def test_a_stopped_turn_ends_in_one_whole_output_marked_stopped(
    ip: InteractiveShell, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live view is replaced by the final output of the kept turn, as at any turn's end: the
    whole answer so far (not the last window of it), the stopped note, no "not kept"."""
    from vel_jupyter.errors import TurnInterrupted
    from vel_jupyter.jupyter.texts import finish_note

    CTRL_C.text = answer(3 * LIVE_WINDOW)
    monkeypatch.setattr(LiveView, "clock", staticmethod(Clock(50_000, 64)))
    with pytest.raises(TurnInterrupted):
        ip.run_cell_magic("chat", "stopped --provider stopping-live-stream", "Go.")
    *live, (update, final) = recorder.messages
    payload = final[SESSION_MIME]
    note = finish_note("stopped")
    assert update and len(live) > 2 and "live" not in payload
    assert payload["messages"][-1]["content"] == CTRL_C.text == final["text/plain"].split("\n[")[0]
    assert payload["messages"][-1]["meta"]["finish_reason"] == "stopped"
    assert payload["finish_note"] == note and note.startswith("■ stopped") and note in final["text/html"]
    assert PARTIAL_NOTE not in final["text/html"] + final["text/plain"]
