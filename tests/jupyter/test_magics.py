"""%%chat and %chat through a real IPython InteractiveShell."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import vel_jupyter
from vel_jupyter import Agent
from vel_jupyter.jupyter.registry import Registry, set_registry
from vel_jupyter.providers import register_provider
from vel_jupyter.testing import Reply, ScriptedProvider

SCRIPTED = ScriptedProvider(default="scripted answer")
register_provider("scripted-magics", lambda **_: SCRIPTED)


@pytest.fixture
def ip() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    set_registry(Registry(provider="echo"))
    shell.extension_manager.load_extension("vel_jupyter")
    SCRIPTED.calls.clear()
    SCRIPTED.reset()
    yield shell
    shell.extension_manager.unload_extension("vel_jupyter")
    for name in [n for n in shell.user_ns if n.startswith("vel_test_")]:
        del shell.user_ns[name]


def chat(ip: InteractiveShell, line: str, body: str) -> Any:
    return ip.run_cell_magic("chat", line, body)


def session(sid: str) -> vel_jupyter.Session:
    return vel_jupyter.registry().get(sid)


class TestLoading:
    def test_load_registers_and_unload_removes(self, ip: InteractiveShell) -> None:
        assert "chat" in ip.magics_manager.magics["cell"]
        assert "chat" in ip.magics_manager.magics["line"]
        ip.extension_manager.reload_extension("vel_jupyter")
        assert "chat" in ip.magics_manager.magics["cell"]
        ip.extension_manager.unload_extension("vel_jupyter")
        assert "chat" not in ip.magics_manager.magics["cell"]
        ip.extension_manager.load_extension("vel_jupyter")

    def test_reload_keeps_the_sessions(self, ip: InteractiveShell) -> None:
        chat(ip, "keep", "hello")
        ip.extension_manager.reload_extension("vel_jupyter")
        assert len(session("keep").messages) == 2

    def test_loading_imports_nothing_heavy(self) -> None:
        code = (
            "import sys\n"
            "from IPython.core.interactiveshell import InteractiveShell\n"
            "ip = InteractiveShell.instance()\n"
            "ip.extension_manager.load_extension('vel_jupyter')\n"
            # The renderer's libraries load on first display (pygments is not listed: IPython itself
            # imports it); vel_jupyter.render itself must not be imported either.
            "heavy = ['openai', 'pandas', 'ipywidgets', 'pydantic', 'anywidget', 'nbformat', 'markdown_it', 'nh3',\n"
            "         'mistune', 'vel_jupyter.render']\n"
            "print([m for m in heavy if m in sys.modules])\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == "[]"


class TestTurns:
    def test_each_cell_is_the_next_turn(self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
        chat(ip, "demo", "My name is Alice")
        chat(ip, "demo", "What is my name?")
        out = capsys.readouterr().out
        assert 'You said: "What is my name?" (turn 2). Earlier you said: "My name is Alice".' in out
        assert [m.role for m in session("demo").messages] == ["user", "assistant"] * 2

    def test_no_id_uses_the_default_session(self, ip: InteractiveShell) -> None:
        chat(ip, "", "hello default")
        assert session("default").messages[0].text == "hello default"
        ip.run_line_magic("config", "ChatMagics.default_session = 'other'")
        chat(ip, "", "hello other")
        assert session("other").messages[0].text == "hello other"

    def test_settings_stick_to_the_session(self, ip: InteractiveShell) -> None:
        chat(ip, "sticky -p scripted-magics -m model-x -s 'Be terse.'", "one")
        chat(ip, "sticky -t 0.2 --max-tokens 50", "two")
        request = SCRIPTED.calls[-1]
        assert request.model == "model-x"
        assert request.messages[0] == {"role": "system", "content": "Be terse."}
        assert request.params == {"temperature": 0.2, "max_tokens": 50}
        assert session("sticky").model == "model-x"

    def test_interpolation(self, ip: InteractiveShell) -> None:
        ip.user_ns["vel_test_name"] = "Alice"
        ip.user_ns["vel_test_cfg"] = {"city": "Lima"}
        body = 'Hi {vel_test_name} from {vel_test_cfg[city]}; {{literal}}; json {"a": [1, {"b": 2}]}; {unknown}'
        chat(ip, "interp -p scripted-magics", body)
        assert SCRIPTED.calls[-1].messages[-1]["content"] == (
            'Hi Alice from Lima; {literal}; json {"a": [1, {"b": 2}]}; {unknown}'
        )
        chat(ip, "interp --raw", "{vel_test_name} {{x}}")
        assert SCRIPTED.calls[-1].messages[-1]["content"] == "{vel_test_name} {{x}}"

    def test_out_assigns_the_response(self, ip: InteractiveShell) -> None:
        chat(ip, "out -o vel_test_r", "hello")
        assert ip.user_ns["vel_test_r"].text.startswith('You said: "hello"')

    def test_code_format_offers_the_next_cell(self, ip: InteractiveShell) -> None:
        SCRIPTED.enqueue("Here:\n```python\nprint('hi')\n```\nDone.")
        chat(ip, "code -p scripted-magics -f code", "write code")
        assert ip.rl_next_input == "print('hi')"

    def test_schema_gives_structured_output(self, ip: InteractiveShell) -> None:
        ip.run_cell(
            "from pydantic import BaseModel\nclass vel_test_City(BaseModel):\n    name: str\n    population: int"
        )
        chat(ip, "schema --schema vel_test_City -o vel_test_r", "Biggest city?")
        output = ip.user_ns["vel_test_r"].output
        assert type(output).__name__ == "vel_test_City"
        with pytest.raises(UsageError, match="BaseModel"):
            chat(ip, "schema --schema vel_test_nothing", "x")

    def test_tools_from_the_namespace(self, ip: InteractiveShell) -> None:
        ip.run_cell("def vel_test_double(n: int) -> int:\n    '''Double a number.'''\n    return 2 * n")
        chat(ip, "tools --tools vel_test_double -o vel_test_r", 'call vel_test_double {"n": 21}')
        assert ip.user_ns["vel_test_r"].text == "Tool results: 42"
        with pytest.raises(UsageError, match="vel_test_missing"):
            chat(ip, "tools --tools vel_test_missing", "x")

    def test_fork_from(self, ip: InteractiveShell) -> None:
        chat(ip, "origin", "Tokyo and Kyoto")
        chat(ip, "branch --fork-from origin", "Osaka instead")
        assert len(session("origin").messages) == 2
        assert [m.text for m in session("branch").messages if m.role == "user"] == ["Tokyo and Kyoto", "Osaka instead"]
        with pytest.raises(UsageError, match="already exists"):
            chat(ip, "branch --fork-from origin", "again")

    def test_rerunning_a_fork_from_cell_regenerates_its_turn_in_the_fork(self, ip: InteractiveShell) -> None:
        chat(ip, "origin", "Tokyo and Kyoto")
        chat(ip, "branch --fork-from origin", "Osaka instead")
        chat(ip, "branch", "and Nara?")
        chat(ip, "branch --fork-from origin", "Osaka instead")  # the same cell, run again
        fork = session("branch")
        assert fork.forked_from is not None and fork.forked_from["session_id"] == "origin"
        assert len(fork.branches) == 2 and fork.branches[1].current, "the first turn again, as a new branch"
        assert [m.text for m in fork.messages if m.role == "user"] == ["Tokyo and Kyoto", "Osaka instead"]
        earlier = [n.message.text for n in fork.path(fork.branches[0].head) if n.message.role == "user"]
        assert earlier == ["Tokyo and Kyoto", "Osaka instead", "and Nara?"], "the fork's later turn is kept"
        assert len(session("origin").messages) == 2
        with pytest.raises(UsageError, match="already exists"):  # a fork of another session: not this cell's
            chat(ip, "branch --fork-from branch", "Osaka instead")


class TestCellTiedTurns:
    def test_rerunning_a_cell_regenerates_its_turn_as_a_branch(self, ip: InteractiveShell) -> None:
        chat(ip, "cells", "first cell")
        chat(ip, "cells", "second cell")
        chat(ip, "cells", "second cell")  # the same cell again
        s = session("cells")
        assert len(s.messages) == 4
        assert len(s.branches) == 2
        assert s.branches[1].current

    def test_rerunning_an_earlier_cell_branches_from_there(self, ip: InteractiveShell) -> None:
        chat(ip, "early", "first cell")
        chat(ip, "early", "second cell")
        chat(ip, "early", "first cell")
        s = session("early")
        assert [m.text for m in s.messages if m.role == "user"] == ["first cell"]
        assert len(s.branches) == 2
        chat(ip, "early", "second cell")  # its old turn is on another branch: it follows the new one
        assert [m.text for m in s.messages if m.role == "user"] == ["first cell", "second cell"]

    def test_append_opts_out(self, ip: InteractiveShell) -> None:
        chat(ip, "appending --append", "same")
        chat(ip, "appending --append", "same")
        assert len(session("appending").messages) == 4


class TestErrors:
    @pytest.mark.parametrize(
        "line",
        ["-t abc", "--bogus", "-f html", "s --max-tokens", "'bad\\nid'", "s --schema", "a b c"],
    )
    def test_bad_lines_are_usage_errors(self, ip: InteractiveShell, line: str) -> None:
        with pytest.raises(UsageError):
            chat(ip, line, "hello")

    def test_invalid_session_id(self, ip: InteractiveShell) -> None:
        with pytest.raises(UsageError, match="invalid session id"):
            chat(ip, "'semi;colon'", "hello")

    def test_empty_cell(self, ip: InteractiveShell) -> None:
        with pytest.raises(UsageError, match="empty"):
            chat(ip, "empty", "   \n")

    def test_a_provider_error_fails_the_cell_in_one_line_and_changes_nothing(self, ip: InteractiveShell) -> None:
        chat(ip, "fails -p scripted-magics", "one")
        before = session("fails").to_dict()
        SCRIPTED.enqueue(Reply.http_error(429, "slow down", retry_after=3))
        with pytest.raises(vel_jupyter.errors.RateLimitError) as info:
            chat(ip, "fails", "two")
        lines = info.value._render_traceback_()  # type: ignore[attr-defined]
        assert len(lines) == 1
        assert lines[0].startswith("RateLimitError: scripted HTTP 429: slow down")
        assert session("fails").to_dict() == before

    def test_run_cell_reports_failure(self, ip: InteractiveShell) -> None:
        SCRIPTED.enqueue(Reply.http_error(500, "down"))
        result = ip.run_cell("%%chat failing -p scripted-magics\nhello")
        assert not result.success


class TestCommands:
    def test_list_show_history_get(self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
        chat(ip, "alpha", "hello")
        capsys.readouterr()
        ip.run_line_magic("chat", "list")
        out = capsys.readouterr().out
        assert out.splitlines()[0].split() == ["id", "model", "messages", "branches", "tokens", "updated"]
        assert "alpha" in out
        df = ip.run_line_magic("chat", "history alpha")
        assert list(df["role"]) == ["user", "assistant"]
        assert ip.run_line_magic("chat", "get alpha") is session("alpha")
        ip.run_line_magic("chat", "show alpha")

    def test_fork_branches_checkout_clear_delete_system(
        self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
    ) -> None:
        chat(ip, "ops", "one")
        chat(ip, "ops", "one")  # regenerate: two branches
        ip.run_line_magic("chat", "fork ops ops-copy")
        assert len(session("ops-copy").messages) == 2
        capsys.readouterr()
        ip.run_line_magic("chat", "branches ops")
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split()[:2] == ["branch", "messages"] and len(lines) == 3
        assert lines[2].startswith("*") and lines[2].split()[1] == "2"  # one numbering: from 1
        ip.run_line_magic("chat", "checkout ops 1")
        assert session("ops").branches[0].current
        assert capsys.readouterr().out.strip() == "'ops' now at branch 1 of 2"
        for wrong in ("0", "3"):
            with pytest.raises(UsageError, match=rf"no branch {wrong}: session .ops. has 2 \(numbered 1 to 2"):
                ip.run_line_magic("chat", f"checkout ops {wrong}")
        ip.run_line_magic("chat", "system ops Be brief now.")
        assert session("ops").system == "Be brief now."
        ip.run_line_magic("chat", "clear ops")
        assert session("ops").messages == []
        ip.run_line_magic("chat", "delete ops-copy")
        assert "ops-copy" not in vel_jupyter.sessions()

    def test_unknown_commands_and_ids_list_what_exists(self, ip: InteractiveShell) -> None:
        chat(ip, "known", "hello")
        with pytest.raises(UsageError, match="use one of: branches"):
            ip.run_line_magic("chat", "frobnicate")
        with pytest.raises(UsageError, match=r"sessions: .*known \(name one of them\)"):
            ip.run_line_magic("chat", "show nope")
        with pytest.raises(UsageError, match=r"no session 'onlyone'; sessions: .*known"):
            ip.run_line_magic("chat", "fork onlyone")
        with pytest.raises(UsageError, match=r"usage: %chat fork SRC \[NEW\]"):
            ip.run_line_magic("chat", "fork")

    def test_store_switch_and_restore(
        self, ip: InteractiveShell, tmp_path: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        chat(ip, "persist", "remember this")
        ip.run_line_magic("chat", f"store sqlite:///{tmp_path}/kernel.db")
        assert "SQLiteStore" in capsys.readouterr().out
        set_registry(Registry(provider="echo", store=f"sqlite:///{tmp_path}/kernel.db"))  # a "restarted kernel"
        ip.run_line_magic("chat", "restore")
        assert "restored 1 session: persist" in capsys.readouterr().out
        assert session("persist").messages[0].text == "remember this"

    def test_python_access_to_the_registry(self, ip: InteractiveShell) -> None:
        chat(ip, "py", "hello")
        assert vel_jupyter.sessions()["py"] is session("py")
        df = vel_jupyter.registry().to_dataframe()
        assert set(df["session_id"]) >= {"py"}


class TestDisplaySafety:
    def test_hostile_output_is_inert_in_every_part_of_the_final_output(self, ip: InteractiveShell) -> None:
        from vel_jupyter.jupyter.display import final_bundle

        from .test_render import assert_bundle

        hostile = "<img src=x onerror=alert(1)> <script>alert(2)</script> [x](javascript:alert(3))"
        SCRIPTED.enqueue(Reply.tool_calls([("vel_test_echo", {"v": hostile})]), hostile)
        ip.run_cell("def vel_test_echo(v: str) -> str:\n    '''Echo.'''\n    return v")
        chat(ip, "hostile -p scripted-magics --tools vel_test_echo -o vel_test_r", "go")
        s = session("hostile")
        bundle = final_bundle(s, ip.user_ns["vel_test_r"])
        assert_bundle(bundle)  # allowlisted HTML only, no text/markdown
        html = bundle["text/html"].lower()
        assert "<img" not in html and "<script" not in html and 'href="javascript:' not in html


def test_vel_store_selects_the_store(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from vel_jupyter.stores import SQLiteStore

    monkeypatch.setenv("VEL_STORE", f"sqlite:///{tmp_path}/env.db")
    assert isinstance(Registry(provider="echo").agent.store, SQLiteStore)


def test_tree_command_prints_the_tree_in_a_terminal_and_gives_the_widget_on_request(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    from vel_jupyter.jupyter.tree_widget import TreeWidget

    with pytest.raises(UsageError, match=r"has no session \S+ yet: after a restart, %chat restore --notebook"):
        ip.run_line_magic("chat", "tree")
    chat(ip, "treed", "hello **world**")
    capsys.readouterr()
    assert ip.run_line_magic("chat", "tree treed") is None
    printed = capsys.readouterr().out
    assert printed.startswith("treed: fork tree · 1 turn · 1 session")
    assert "  1  hello world → " in printed and "[current]" in printed, printed  # the words, not the **
    widget = ip.run_line_magic("chat", "tree treed --widget")
    assert isinstance(widget, TreeWidget)
    assert widget.data["focus"] == "treed"
    with pytest.raises(UsageError, match="sessions: "):
        ip.run_line_magic("chat", "tree missing")
    with pytest.raises(UsageError, match=r"usage: %chat tree \[ID\] \[--widget\]"):
        ip.run_line_magic("chat", "tree a b")


def test_the_tree_buttons_commands_steer_the_next_cell_and_reach_the_store(
    ip: InteractiveShell, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the tree's buttons run in the kernel: %chat checkout ID MESSAGE and %chat fork ID [NEW] --at MESSAGE."""
    from vel_jupyter.stores import SQLiteStore

    store = SQLiteStore(tmp_path / "tree.db")
    set_registry(Registry(provider="echo", store=store))
    chat(ip, "steer", "first")
    chat(ip, "steer", "second")
    first_answer = session("steer").nodes[1]

    # "continue from here" on the first turn: the next %%chat cell follows it, not "second".
    ip.run_line_magic("chat", f"checkout steer {first_answer.id}")
    chat(ip, "steer", "third")
    assert [m.content for m in session("steer").messages if m.role == "user"] == ["first", "third"]
    assert session("steer").messages[1] == first_answer.message

    # "fork here" on the same turn: a new session a %%chat cell can continue, in the store too.
    capsys.readouterr()
    ip.run_line_magic("chat", f"fork steer side --at {first_answer.id}")
    assert capsys.readouterr().out.strip() == "forked 'steer' at turn 1 into 'side': %%chat side continues it"
    chat(ip, "side", "side question")
    assert [m.content for m in session("side").messages if m.role == "user"] == ["first", "side question"]
    assert {"steer", "side"} <= set(store.list_sessions())

    # Without a name, one is made from where it starts, and said; a name in use or a message of
    # no session is refused.
    capsys.readouterr()
    ip.run_line_magic("chat", f"fork steer --at {first_answer.id}")
    ip.run_line_magic("chat", f"fork steer --at {first_answer.id}")
    made = [line.split(" into '", 1)[1].split("'")[0] for line in capsys.readouterr().out.splitlines()]
    assert made == ["steer-turn1", "steer-turn1-2"] and set(made) <= set(vel_jupyter.registry().ids())
    with pytest.raises(UsageError, match="session 'side' already exists"):
        ip.run_line_magic("chat", f"fork steer side --at {first_answer.id}")
    with pytest.raises(UsageError, match="cannot fork at 'nope'"):
        ip.run_line_magic("chat", "fork steer other --at nope")
    with pytest.raises(UsageError, match=r"usage: %chat fork SRC \[NEW\] \[--at MESSAGE_ID\]"):
        ip.run_line_magic("chat", "fork steer other --at")


def _closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there now


def _content_of(record: dict[str, Any]) -> dict[str, Any]:
    # The flags are applied, then put back: two header writes (rev, updated_at move; see the
    # CHANGELOG); everything a session holds is as it was.
    return {k: v for k, v in record.items() if k not in ("rev", "updated_at")}


def _content(s: vel_jupyter.Session) -> dict[str, Any]:
    return _content_of(s.to_dict())


class TestSettingsThatFail:
    """A cell-level -m/-p/--base-url that fails on its turn does not stick; %chat config shows and resets."""

    def test_a_failing_base_url_does_not_stick_and_the_error_names_it(
        self, ip: InteractiveShell, server: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from ..support.fixtures import TEST_KEY

        monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)  # the user's environment: a key for their server
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)  # (keys go only to the server they are for)
        set_registry(Registry())  # no provider forced: what a fresh kernel has
        chat(ip, f"good -m gpt-4o --base-url {server.base_url}", "hello")  # works: sticks
        before = session("good").to_dict()
        bad = _closed_port_url()
        with pytest.raises(Exception) as info:
            chat(ip, f"good -m other --base-url {bad}", "again")
        message = info.value._render_traceback_()[0]  # type: ignore[attr-defined]
        assert message.startswith(f"ProviderUnavailableError: cannot reach {bad}")
        assert "The URL is this cell's --base-url" in message
        assert (
            "--model, --base-url did not stick: session 'good' is unchanged and keeps its earlier settings" in message
        )
        assert _content(session("good")) == _content_of(before), "history and settings as they were"
        chat(ip, "good", "third")  # the cell without the flags talks to the server that worked
        assert server.requests[-1].body["messages"][-1]["content"] == "third"
        assert session("good").settings["base_url"] == server.base_url

        # A URL that stuck earlier and then fails is named as the session's setting, with the reset.
        session("good").configure(base_url=bad)
        with pytest.raises(Exception) as info:
            chat(ip, "good", "fourth")
        message = info.value._render_traceback_()[0]  # type: ignore[attr-defined]
        assert "session 'good''s base_url setting" in message and "%chat config good --reset base_url" in message
        capsys.readouterr()
        ip.run_line_magic("chat", "config good")
        shown = capsys.readouterr().out
        row = next(line for line in shown.splitlines() if line.split()[:1] == ["base_url"])
        assert row.split()[1] == bad and "this session" in row
        ip.run_line_magic("chat", "config good --reset base_url")
        out = capsys.readouterr().out
        assert out.startswith("reset base_url of session 'good'")
        assert "base_url" not in session("good").settings and session("good").settings["model"] == "gpt-4o"
        with pytest.raises(UsageError, match="unknown setting 'colour'; a session's settings are model"):
            ip.run_line_magic("chat", "config good --reset colour")

    def test_an_unknown_provider_does_not_stick(self, ip: InteractiveShell) -> None:
        chat(ip, "p", "hello")
        before = session("p").to_dict()
        with pytest.raises(UsageError, match="unknown provider 'nosuch'"):
            chat(ip, "p -p nosuch -s 'New system'", "hi")
        assert _content(session("p")) == _content_of(before)


def test_a_keyed_url_from_the_namespace_is_used_and_shown_without_its_key(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    """README: keep the key out of the cell's source with --base-url {url}."""
    from vel_jupyter.testing import OpenAIServer

    with OpenAIServer() as server:
        host = server.base_url.split("//", 1)[1]
        ip.user_ns["vel_test_url"] = f"http://user:kNSsecret99@{host}?api-key=kNSquery99"
        chat(ip, "nsurl --base-url {vel_test_url}", "hello")
        assert session("nsurl").messages[-1].content == "Echo: hello"
        assert "kNSquery99" in server.requests[-1].path
    capsys.readouterr()
    ip.run_line_magic("chat", "config nsurl")
    shown = capsys.readouterr().out
    assert f"http://***:***@{host}?api-key=***" in shown and "kNS" not in shown
    ip.run_line_magic("config", 'ChatMagics.base_url = "http://u:kCFGsecret99@example.invalid/v1"')
    assert ip.find_magic("chat").__self__.base_url == "http://***:***@example.invalid/v1", "what %config shows"
    ip.run_line_magic("config", "ChatMagics.base_url = None")


class CtrlCInside(ScriptedProvider):
    """Streams two words, then Ctrl-C lands inside the provider (where a real stream waits)."""

    def stream(self, request):  # type: ignore[no-untyped-def]
        from vel_jupyter.core.response import StreamEvent

        self.calls.append(request)
        yield StreamEvent("text_delta", text="so ")
        yield StreamEvent("text_delta", text="far")
        raise KeyboardInterrupt


CTRL_C = CtrlCInside()
register_provider("stopping-magics", lambda **_: CTRL_C)
STOPPED_NOTE = "■ stopped — the answer so far is kept; re-run the cell for a whole one"


class TestStoppingKeepsWhatWasSaid:
    """A stop is a choice, not a failure: the answer so far is kept, marked stopped, shown like
    any answer; the cell still ends interrupted in one line, so a Run All stops there."""

    def test_ctrl_c_while_an_answer_is_drawn_keeps_the_answer_so_far(
        self, ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Found with a real model in a real kernel: the interrupt landed in our drawing code,
        between two events, and escaped as a bare KeyboardInterrupt with a traceback."""
        import io

        from vel_jupyter.errors import TurnInterrupted

        chat(ip, "drawn", "first")

        class CtrlCOnThirdWrite(io.StringIO):
            writes = 0

            def write(self, text: str) -> int:
                self.writes += 1
                if self.writes == 3:
                    raise KeyboardInterrupt  # what SIGINT raises in whatever code is running
                return super().write(text)

        out = CtrlCOnThirdWrite()
        monkeypatch.setattr("sys.stdout", out)
        with pytest.raises(TurnInterrupted) as info:
            chat(ip, "drawn", "a long answer please")
        messages = session("drawn").messages
        assert [m.text for m in messages if m.role == "user"] == ["first", "a long answer please"]
        kept = messages[-1]
        assert kept.meta is not None and kept.meta.finish_reason == "stopped"
        assert info.value.response is not None and info.value.response.text == kept.text
        assert kept.text.startswith("You said") and out.getvalue().startswith(kept.text[: len(kept.text) // 2])
        assert f"[{STOPPED_NOTE}]" in out.getvalue()

    def test_ctrl_c_inside_the_stream_keeps_it_and_says_so_in_one_line(
        self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from vel_jupyter.errors import TurnInterrupted

        chat(ip, "stop", "first")
        with pytest.raises(TurnInterrupted) as info:
            chat(ip, "stop -p stopping-magics -m model-z -o vel_test_kept", "tell me a long story")
        assert info.value._render_traceback_() == [  # type: ignore[attr-defined]
            "TurnInterrupted: stopped; the answer so far is kept in session 'stop' — re-run the cell for a whole answer"
        ]
        assert [(m.role, m.text) for m in session("stop").messages][-2:] == [
            ("user", "tell me a long story"),
            ("assistant", "so far"),
        ]
        assert session("stop").model == "model-z", "a kept turn is a turn: the cell's flags stick"
        assert ip.user_ns["vel_test_kept"].finish_reason == "stopped"
        out = capsys.readouterr().out
        assert out.endswith(f"so far\n[{STOPPED_NOTE}]\n")
        assert "not kept" not in out

    def test_with_keep_stopped_off_a_stop_changes_nothing(
        self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from vel_jupyter.errors import TurnInterrupted

        chat(ip, "off", "first")
        before = session("off").to_dict()
        ip.run_line_magic("config", "ChatMagics.keep_stopped = False")
        try:
            with pytest.raises(TurnInterrupted) as info:
                chat(ip, "off -p stopping-magics", "tell me a long story")
        finally:
            ip.run_line_magic("config", "ChatMagics.keep_stopped = True")
        assert info.value._render_traceback_() == [  # type: ignore[attr-defined]
            "TurnInterrupted: turn interrupted; the session is unchanged. "
            "--provider did not stick: session 'off' is unchanged and keeps its earlier settings."
        ]
        after = session("off").to_dict()
        for changed in ("rev", "updated_at"):  # the cell's --provider was written, then put back
            del before[changed], after[changed]
        assert after == before
        assert capsys.readouterr().out.endswith("so far\n[partial answer, not kept]\n")

    def test_keep_stopped_is_a_documented_setting(self, ip: InteractiveShell) -> None:
        magics = ip.find_magic("chat").__self__
        assert magics.keep_stopped is True
        assert "stop" in type(magics).class_traits()["keep_stopped"].help

    def test_a_stopped_turn_shows_no_token_count(self, ip: InteractiveShell) -> None:
        """The server reports no usage for a cut stream: "0 → 0 tokens" would be wrong."""
        from vel_jupyter.errors import TurnInterrupted
        from vel_jupyter.formats.kinds import SESSION_MIME
        from vel_jupyter.jupyter.display import final_bundle
        from vel_jupyter.jupyter.texts import messages_texts

        with pytest.raises(TurnInterrupted):
            chat(ip, "cut -p stopping-magics -m model-z -o vel_test_kept", "tell me a long story")
        payload = final_bundle(session("cut"), ip.user_ns["vel_test_kept"])[SESSION_MIME]
        assert payload["usage_line"].startswith("model-z") and "tokens" not in payload["usage_line"]
        assert "tokens" not in messages_texts(payload["messages"], None, None)["usage_line"]

    def test_chat_config_shows_what_a_stop_keeps(
        self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
    ) -> None:
        chat(ip, "cfg", "hi")

        def row() -> str:
            ip.run_line_magic("chat", "config cfg")
            return next(line for line in capsys.readouterr().out.splitlines() if line.split()[:1] == ["keep_stopped"])

        assert "True" in row() and "%config ChatMagics.keep_stopped" in row()
        ip.run_line_magic("config", "ChatMagics.keep_stopped = False")
        try:
            assert "False" in row() and "leaves the session as it was" in row()
        finally:
            ip.run_line_magic("config", "ChatMagics.keep_stopped = True")


@pytest.fixture
def no_model(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> InteractiveShell:
    """A kernel with no model configured anywhere: the offline echo answers by default."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "VEL_MODEL", "VEL_STORE"):
        monkeypatch.delenv(name, raising=False)
    set_registry(Registry())
    return ip


class TestTheNoModelNotice:
    """Plain output, once, above the first answer the echo gives because no model is configured;
    never at %load_ext, never for a cell that names a server or asks for the echo."""

    def test_loading_and_making_a_session_say_nothing(
        self, no_model: InteractiveShell, capsys: pytest.CaptureFixture[str]
    ) -> None:
        no_model.extension_manager.reload_extension("vel_jupyter")
        vel_jupyter.registry().get("quiet", create=True)
        assert capsys.readouterr() == ("", "")

    def test_the_first_echo_answer_says_it_once_as_plain_output(
        self, no_model: InteractiveShell, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from vel_jupyter.jupyter.texts import NO_MODEL_NOTICE

        chat(no_model, "offline", "hello")
        chat(no_model, "offline", "again")
        chat(no_model, "another", "hi")
        out, err = capsys.readouterr()
        assert out.count(NO_MODEL_NOTICE) == 1 and out.startswith(NO_MODEL_NOTICE + "\n")
        assert err == ""
        assert "--base-url" in NO_MODEL_NOTICE and "\n" not in NO_MODEL_NOTICE

    def test_a_cell_that_names_a_server_says_nothing(
        self, no_model: InteractiveShell, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from vel_jupyter.jupyter.texts import NO_MODEL_NOTICE
        from vel_jupyter.testing import OpenAIServer

        with OpenAIServer() as server:
            server.enqueue(Reply.text("from a model"), Reply.text("again"))
            chat(no_model, f"real --base-url {server.base_url}", "hi")
            chat(no_model, "real", "and again")  # the session keeps its server
        chat(no_model, "by-name -p echo", "hi")
        assert NO_MODEL_NOTICE not in capsys.readouterr().out
        chat(no_model, "unconfigured", "hi")
        assert NO_MODEL_NOTICE in capsys.readouterr().out


class TestTheDefaultAnswerCap:
    """A runaway model stops as in a chat app: turns that set no --max-tokens get
    %config ChatMagics.max_tokens, shown by %chat config."""

    def test_a_turn_that_sets_none_is_capped_and_config_says_by_what(
        self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from vel_jupyter.testing import OpenAIServer, Reply

        with OpenAIServer() as server:
            server.enqueue(Reply.text("a b c"), Reply.text("d e f"), Reply.text("g h i"))
            chat(ip, f"capped --base-url {server.base_url}", "go on forever")
            assert server.requests[-1].body["max_tokens"] == 2048
            chat(ip, "capped --max-tokens 7", "shorter")
            assert server.requests[-1].body["max_tokens"] == 7, "a cell's --max-tokens wins"
            ip.run_line_magic("config", "ChatMagics.max_tokens = None")
            try:
                chat(ip, "capped", "no cap")
                assert "max_tokens" not in server.requests[-1].body
            finally:
                ip.run_line_magic("config", "ChatMagics.max_tokens = 2048")
        ip.run_line_magic("chat", "config capped")
        row = next(line for line in capsys.readouterr().out.splitlines() if line.split()[:1] == ["max_tokens"])
        assert "2048" in row and "%config ChatMagics.max_tokens" in row

    def test_an_answer_cut_off_by_the_default_cap_says_so(self) -> None:
        from vel_jupyter.jupyter.display import final_bundle

        session = Agent(provider="echo").session()
        response = session.run("say a lot " * 40, max_tokens=3)  # echo honours max_tokens
        assert response.finish_reason == "length"
        bundle = final_bundle(session, response, default_cap=3)
        assert bundle["application/vnd.vel.session+json"]["default_cap"] == 3
        assert "default cap 3" in bundle["text/html"], "the usage line names the cap it ran under"
        assert "cut off at the 3-token default cap" in bundle["text/plain"]
        assert "default cap" not in final_bundle(session, response)["text/html"], "a cell's own limit is not a cap"


def test_chat_help_shows_the_cell_form_and_the_commands(ip: InteractiveShell) -> None:
    """``%chat?`` and ``%%chat?`` share one docstring: it names the cell form as ``%%chat`` and
    lists the line form's commands (it used to show only the cell's options, as ``%chat``)."""
    text = ip.object_inspect_text("%chat")
    assert "%%chat [-s SYSTEM]" in text and "\n  %chat [-s" not in text
    assert "%chat list" in text and "%chat restore [--notebook PATH]" in text


class TestState:
    """``%chat state``: what the extension asks to draw each turn output as the session stands."""

    def test_reports_head_branches_and_which_asked_ids_are_on_the_current_path(
        self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
    ) -> None:
        import json

        chat(ip, "st", "one")
        chat(ip, "st", "two")
        first_two = session("st").head
        chat(ip, "st", "two")  # a re-run: a second branch
        s = session("st")
        capsys.readouterr()
        ip.run_line_magic("chat", f"state st ghost --on {first_two} {s.head}")
        out = capsys.readouterr().out
        assert len(out.strip().splitlines()) == 1
        reply = json.loads(out)["sessions"]
        assert reply["ghost"] == {"known": False}
        assert reply["st"]["head"] == s.head and reply["st"]["branch"] == 1 and len(reply["st"]["heads"]) == 2
        assert reply["st"]["on"] == [s.head]
        assert "content" not in out  # headers and ids only
        ip.run_line_magic("chat", "checkout st 1")
        capsys.readouterr()
        ip.run_line_magic("chat", f"state st --on {first_two},{reply['st']['head']}")
        again = json.loads(capsys.readouterr().out)["sessions"]["st"]
        assert again["on"] == [first_two] and again["branch"] == 0

    def test_without_on_lists_the_current_path(self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
        import json

        chat(ip, "path", "one")
        capsys.readouterr()
        ip.run_line_magic("chat", "state path")
        reply = json.loads(capsys.readouterr().out)["sessions"]["path"]
        assert reply["path"] == [node.id for node in session("path").nodes]

    def test_needs_a_session(self, ip: InteractiveShell) -> None:
        with pytest.raises(UsageError, match="usage: %chat state ID"):
            ip.run_line_magic("chat", "state")


class TestCheckoutFollow:
    """``%chat checkout ID MESSAGE --follow``: choosing an answer brings back the turns after it."""

    def test_follows_the_branch_through_the_answer(
        self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
    ) -> None:
        chat(ip, "fol", "one")
        chat(ip, "fol", "one")  # a re-run of turn 1: branch 2
        ip.run_line_magic("chat", "checkout fol 1")
        answer_1 = session("fol").head
        chat(ip, "fol", "two")  # turn 2 on branch 1
        chat(ip, "fol", "one")  # turn 1 again: branch 3, without turn 2
        s = session("fol")
        assert s.current_branch == 2 and len(s.messages) == 2
        capsys.readouterr()
        ip.run_line_magic("chat", f"checkout fol {answer_1} --follow")
        assert s.current_branch == 0
        assert [m.text for m in s.messages if m.role == "user"] == ["one", "two"]
        assert capsys.readouterr().out.strip() == "'fol' now at branch 1 of 3, which goes on from turn 1 to turn 2"

    def test_without_follow_detaches_at_the_answer(self, ip: InteractiveShell) -> None:
        chat(ip, "det", "one")
        answer = session("det").head
        chat(ip, "det", "two")
        ip.run_line_magic("chat", f"checkout det {answer}")
        assert session("det").current_branch is None and session("det").head == answer

    def test_on_a_branch_head_it_says_where_the_branch_ends(
        self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
    ) -> None:
        chat(ip, "end", "one")
        answer_1 = session("end").head
        chat(ip, "end", "one")  # branch 2
        capsys.readouterr()
        ip.run_line_magic("chat", f"checkout end {answer_1} --follow")
        assert session("end").current_branch == 0
        assert capsys.readouterr().out.strip() == "'end' now at branch 1 of 2, which ends at turn 1"

    def test_a_message_of_no_branch_is_refused_as_without_follow(self, ip: InteractiveShell) -> None:
        chat(ip, "lone", "one")
        with pytest.raises(UsageError, match="nope"):
            ip.run_line_magic("chat", "checkout lone nope --follow")
