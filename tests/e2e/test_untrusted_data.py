"""Data from outside is untrusted (issue 19): a mailed notebook, a planted store row or a
``from_dict`` record cannot aim the user's key, history or prompt at another server; keys go
only to the origin they were given for. Over real HTTP, with loopback servers that count
every request they get (the "attacker" and the user's own server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from nbformat.sign import NotebookNotary

from vel_jupyter import Agent, Session
from vel_jupyter.errors import UnconfirmedServerError
from vel_jupyter.export.notebook import export_bundle
from vel_jupyter.jupyter.registry import Registry, registry, set_registry
from vel_jupyter.stores import SQLiteStore
from vel_jupyter.testing import OpenAIServer

USER_KEY = "sk-user-secret-0123456789"


@pytest.fixture
def attacker() -> Iterator[OpenAIServer]:
    """A server the data names; a fresh port (origin) each test, so nothing accepted it before."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def own() -> Iterator[OpenAIServer]:
    """The user's own server."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[InteractiveShell]:
    """A shell whose user has an OpenAI key in the environment (for api.openai.com)."""
    monkeypatch.setenv("OPENAI_API_KEY", USER_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))  # this user's notebook signatures
    shell = InteractiveShell.instance()
    shell.config.pop("ChatMagics", None)  # (%config writes the shell's config: no test sees another's)
    set_registry(Registry())
    shell.extension_manager.load_extension("vel_jupyter")
    yield shell
    shell.extension_manager.unload_extension("vel_jupyter")
    shell.config.pop("ChatMagics", None)


def mailed_notebook(path: Path, base_url: str, *, sign: bool = False) -> Path:
    """A notebook whose `%chat export analysis` output says the session talks to ``base_url``."""
    session = Agent(provider="echo").session(session_id="analysis")
    session.run("Our Q3 numbers are confidential.")
    bundle = export_bundle(session)
    record = bundle["application/vnd.vel.session+json"]
    record["settings"] = {"base_url": base_url}
    output = nbformat.v4.new_output("display_data", data=bundle)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%chat export analysis", outputs=[output])])
    if sign:
        NotebookNotary().sign(notebook)
    nbformat.write(notebook, path)
    return path


class TestAMailedNotebook:
    def test_restores_but_sends_nothing_to_its_server_until_the_user_names_it(
        self, ip: InteractiveShell, attacker: OpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = mailed_notebook(tmp_path / "mailed.ipynb", attacker.base_url)
        ip.run_line_magic("chat", f"restore --notebook {path}")
        said = capsys.readouterr().out
        assert "analysis" in said and f"{attacker.base_url}: not contacted until you name it" in said
        with pytest.raises(UsageError) as caught:
            ip.run_cell_magic("chat", "analysis", "and the Q4 numbers?")
        message = str(caught.value)
        assert attacker.base_url in message and f"%chat config analysis --base-url {attacker.base_url}" in message
        assert "\n" not in message
        assert attacker.requests == [], "no key, no history, no prompt reached the notebook's server"
        assert len(registry().get("analysis").messages) == 2, "the failed turn changed nothing"

    def test_naming_the_server_sends_the_turn_there_without_the_users_openai_key(
        self, ip: InteractiveShell, attacker: OpenAIServer, tmp_path: Path
    ) -> None:
        ip.run_line_magic("chat", f"restore --notebook {mailed_notebook(tmp_path / 'm.ipynb', attacker.base_url)}")
        ip.run_line_magic("chat", f"config analysis --base-url {attacker.base_url}")
        ip.run_cell_magic("chat", "analysis", "hello")
        assert len(attacker.requests) == 1
        headers = attacker.requests[0].headers
        assert USER_KEY not in repr(headers), "OPENAI_API_KEY belongs to api.openai.com, not to this server"

    def test_a_notebook_jupyter_trusts_keeps_its_servers(
        self, ip: InteractiveShell, own: OpenAIServer, tmp_path: Path
    ) -> None:
        path = mailed_notebook(tmp_path / "mine.ipynb", own.base_url, sign=True)
        ip.run_line_magic("chat", f"restore --notebook {path}")
        ip.run_cell_magic("chat", "analysis", "continue")
        assert len(own.requests) == 1, "a notebook this user signed (jupyter trust) names servers the user chose"

    def test_a_self_parented_message_is_one_line_not_a_hang(self, ip: InteractiveShell, tmp_path: Path) -> None:
        session = Agent(provider="echo").session(session_id="loop")
        session.run("hi")
        bundle = export_bundle(session)
        record = bundle["application/vnd.vel.session+json"]
        record["messages"][0]["parent_id"] = record["messages"][0]["id"]
        output = nbformat.v4.new_output("display_data", data=bundle)
        path = tmp_path / "loop.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[output])]), path)
        with pytest.raises(UsageError, match="its parent links loop"):
            ip.run_line_magic("chat", f"restore --notebook {path}")


class TestStoredData:
    def test_a_planted_store_header_does_not_redirect_a_session(self, attacker: OpenAIServer, tmp_path: Path) -> None:
        store = SQLiteStore(tmp_path / "shared.db")
        writer = Agent(provider="echo", session_storage=store).session(session_id="team")
        writer.run("shared history")
        data = writer.to_dict()
        data["settings"] = {"base_url": attacker.base_url}
        store.save("team", data)  # what anyone who can write the shared store can do

        reader = Agent(api_key=USER_KEY, session_storage=SQLiteStore(tmp_path / "shared.db")).session(session_id="team")
        with pytest.raises(UnconfirmedServerError) as caught:
            reader.run("what next?")
        assert caught.value.session_id == "team" and caught.value.url == attacker.base_url
        assert attacker.requests == []
        assert len(reader.messages) == 2

    def test_a_from_dict_record_is_data_too(self, attacker: OpenAIServer) -> None:
        source = Agent(provider="echo").session(session_id="rec")
        source.run("hi")
        data: dict[str, Any] = source.to_dict()
        data["settings"] = {"base_url": attacker.base_url}
        restored = Session.from_dict(data, Agent(api_key=USER_KEY))
        with pytest.raises(UnconfirmedServerError):
            restored.run("again")
        assert attacker.requests == []
        restored.configure(base_url=attacker.base_url)  # the user names it: from now on it is theirs
        restored.run("again")
        assert len(attacker.requests) == 1
        assert USER_KEY not in repr(attacker.requests[0].headers), "an api_key= belongs to the server it came with"

    def test_request_headers_are_never_read_from_data(self) -> None:
        from vel_jupyter.errors import SessionDataError

        source = Agent(provider="echo").session(session_id="hdr")
        data = source.to_dict()
        data["settings"] = {"params": {"extra_headers": {"Authorization": "Bearer attacker-key"}}}
        with pytest.raises(SessionDataError, match=r"settings\.params\.extra_headers"):
            Session.from_dict(data, Agent(provider="echo"))


class TestKeysGoOnlyWhereTheyWereGiven:
    def test_openai_api_key_goes_to_openai_base_url_and_nowhere_else(
        self, own: OpenAIServer, attacker: OpenAIServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OPENAI_API_KEY", USER_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", own.base_url)
        Agent().session().run("to my server")
        assert own.requests[-1].headers["authorization"] == f"Bearer {USER_KEY}"
        Agent(base_url=attacker.base_url).session().run("to another server")
        assert USER_KEY not in repr(attacker.requests[-1].headers)

    def test_an_api_key_goes_only_to_the_url_it_was_given_with(self, own: OpenAIServer, attacker: OpenAIServer) -> None:
        agent = Agent(base_url=own.base_url, api_key="k-for-own-server")
        session = agent.session(session_id="s")
        session.run("one")
        assert own.requests[-1].headers["authorization"] == "Bearer k-for-own-server"
        session.configure(base_url=attacker.base_url)
        session.run("two")
        assert "k-for-own-server" not in repr(attacker.requests[-1].headers)
        agent.reconfigure(base_url=attacker.base_url)
        agent.session().run("three")
        assert "k-for-own-server" not in repr(attacker.requests[-1].headers)

    def test_a_rejected_request_without_a_key_says_where_keys_go(
        self, attacker: OpenAIServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from vel_jupyter.errors import AuthenticationError
        from vel_jupyter.testing import Reply

        monkeypatch.setenv("OPENAI_API_KEY", USER_KEY)
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        attacker.enqueue(Reply.http_error(401, "missing key"))
        with pytest.raises(AuthenticationError, match="OPENAI_API_KEY goes only to OPENAI_BASE_URL's server"):
            Agent(base_url=attacker.base_url, max_retries=0).session().run("hi")


class TestTextEveryStoreKeeps:
    def test_nul_and_lone_surrogates_in_an_interpolated_prompt_become_replacement_characters(
        self, ip: InteractiveShell, own: OpenAIServer
    ) -> None:
        from vel_jupyter.testing import Reply

        own.enqueue(Reply.text("model says \x00 and \ud800 too"))
        ip.user_ns["vel_bad"] = "a\x00b\ud800c"
        ip.run_line_magic("config", f"ChatMagics.base_url = '{own.base_url}'")
        ip.run_cell_magic("chat", "text", "look: {vel_bad}")
        question, answer = registry().get("text").messages
        assert question.content == "look: a\ufffdb\ufffdc"
        assert answer.content == "model says \ufffd and \ufffd too", "streamed text follows the same rule"
        assert own.requests[-1].body["messages"][-1]["content"] == "look: a\ufffdb\ufffdc"


class TestStorePasswords:
    def test_config_shows_the_store_url_without_its_password(
        self, ip: InteractiveShell, postgres_dsn: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        keyed = postgres_dsn.replace("postgres@", "postgres:kSTOREpw42@")  # (the test server trusts loopback)
        ip.run_line_magic("config", f"ChatMagics.store = '{keyed}'")
        ip.run_cell_magic("chat", "stored -p echo", "hello")
        ip.run_line_magic("config", "ChatMagics")
        ip.run_line_magic("chat", "store")
        print(repr(registry()), vars(registry()))
        shown = capsys.readouterr().out
        assert "postgres:***@" in shown or "***:***@" in shown
        assert "kSTOREpw42" not in shown
        assert registry().agent.store is not None and registry().get("stored").messages

    def test_a_store_that_fails_to_open_leaves_no_password_in_config(
        self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
    ) -> None:
        # (%config logs the error instead of raising it)
        ip.run_line_magic("config", "ChatMagics.store = 'redis://:kREDISpw77@127.0.0.1:9/0'")
        assert "cannot open Redis store at redis://:***@127.0.0.1:9/0" in caplog.text
        ip.run_line_magic("config", "ChatMagics")
        assert "kREDISpw77" not in caplog.text + capsys.readouterr().out
        assert registry().agent.store is None, "the kernel keeps the store it had"

    def test_a_key_interpolated_into_a_prompt_is_masked_before_it_goes_anywhere(self, ip: InteractiveShell) -> None:
        import os

        ip.user_ns["os"] = os  # a mailed notebook's cell: %%chat s / Summarize {os.environ}
        ip.run_cell_magic("chat", "leak -p echo", "Summarize {os.environ}")
        sent = registry().get("leak").messages[0].content
        assert "OPENAI_API_KEY" in sent and USER_KEY not in sent


def test_list_shows_a_damaged_stored_session_beside_the_others(
    ip: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another process wrote ``settings.model = ["x"]`` into a shared store: %chat list used to
    fail for everyone; now that session is listed with what is wrong, the others as before."""
    import sqlite3

    db = tmp_path / "shared.db"
    ip.run_line_magic("config", f"ChatMagics.store = 'sqlite:///{db}'")
    ip.run_cell_magic("chat", "good -p echo", "hello")
    ip.run_cell_magic("chat", "bad -p echo", "hello")
    with sqlite3.connect(db) as connection:  # the foreign writer, with the driver itself
        connection.execute(
            """UPDATE vel_sessions SET context = json_set(context, '$.settings.model', json('["x"]')),
               summary = NULL WHERE id = 'bad'"""  # (a foreign writer that knows no listing line)
        )
    set_registry(Registry(store=f"sqlite:///{db}"))  # another kernel sharing the store
    capsys.readouterr()
    ip.run_line_magic("chat", "list")
    shown = capsys.readouterr().out
    assert "good" in shown and "bad  damaged: see below" in shown.replace("   ", "  ")
    assert "bad: session 'bad': settings.model: Input should be a valid string" in shown


@pytest.mark.slow
def test_a_mailed_notebook_in_a_real_kernel_sends_nothing(attacker: OpenAIServer, tmp_path: Path) -> None:
    """The attack as it happened: a real kernel whose user has an OpenAI key restores a mailed
    notebook and runs the next cell. The attacker's server counts every request: none."""
    import os

    from ..support.kernel import Kernel

    path = mailed_notebook(tmp_path / "mailed.ipynb", attacker.base_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "VEL_"))}
    kernel = Kernel({**env, "OPENAI_API_KEY": USER_KEY, "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data")})
    try:
        kernel.run("%load_ext vel_jupyter")
        restored = kernel.run(f"%chat restore --notebook {path}")
        said = "".join(m["content"].get("text", "") for m in restored if m["msg_type"] == "stream")
        assert "not contacted until you name it" in said
        turn = kernel.run("%%chat analysis\nand the Q4 numbers?")
        errors = "".join(m["content"].get("text", "") for m in turn if m["msg_type"] == "stream")
        assert "UsageError: session 'analysis' talks to" in errors and len(errors.strip().splitlines()) == 1
        assert not [m for m in turn if m["msg_type"] in ("display_data", "update_display_data")]
    finally:
        kernel.close()
    assert attacker.requests == [], "no key, no history, no prompt left the kernel"
