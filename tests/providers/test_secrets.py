"""Keys stay in memory (core/secrets.py): redacted URLs, Secret values, the key ring, and the
configured server being the one used — over real HTTP to the loopback server."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vel_jupyter import Agent, Session, history
from vel_jupyter.core.secrets import KEYRING, KeyRing, MissingKeyError, Secret, redact_url, url_secrets
from vel_jupyter.errors import ConfigurationError
from vel_jupyter.jupyter.display import ECHO_NOTE, final_bundle
from vel_jupyter.stores import SQLiteStore
from vel_jupyter.testing import OpenAIServer

K_USER, K_QUERY, K_ARG = "kUSERsecret1", "kQUERYsecret2", "kARGsecret3"


@pytest.fixture(scope="module")
def open_server() -> Iterator[OpenAIServer]:
    """A loopback server that takes any key (the keys here are for the test to find)."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def gateway(open_server: OpenAIServer) -> str:
    """The server's URL as a gateway user writes it: a user's key and an ?api-key= in it."""
    open_server.reset()
    host = open_server.base_url.split("//", 1)[1]
    return f"http://user:{K_USER}@{host}?api-key={K_QUERY}&api-version=2024-10-01"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:KEY@host/v1", "http://***:***@host/v1"),
        ("https://TOKEN@host/v1", "https://***@host/v1"),
        ("postgresql://:PW@host/db", "postgresql://:***@host/db"),
        ("https://h/v1?api-key=K&api-version=2024", "https://h/v1?api-key=***&api-version=2024"),
        (
            "https://h/v1?API_KEY=K&Token=T&access_token=A&key=",
            "https://h/v1?API_KEY=***&Token=***&access_token=***&key=",
        ),
        # an allowlist: names nobody listed as credentials are masked all the same
        (
            "https://h/v1?subscription-key=S&Ocp-Apim-Subscription-Key=O&x-functions-key=F&access_key=A"
            "&private_token=P&session_token=T",
            "https://h/v1?subscription-key=***&Ocp-Apim-Subscription-Key=***&x-functions-key=***&access_key=***"
            "&private_token=***&session_token=***",
        ),
        ("http://u:p%40ss@h:8/v1?sig=a%2Bb#frag", "http://***:***@h:8/v1?sig=***#frag"),
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
        ("https://api.example.com/v1?api-version=2024-10-01", "https://api.example.com/v1?api-version=2024-10-01"),
        ("postgresql://h/db?sslmode=require&password=PW", "postgresql://h/db?sslmode=require&password=***"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_url(shown) == shown, "redacting twice changes nothing"


def test_url_secrets_are_the_values_as_written_and_decoded() -> None:
    basic = base64.b64encode(b"u:p@ss").decode()  # what an HTTP client sends for the userinfo
    assert url_secrets("http://u:p%40ss@h/v1?token=a%2Bb&api-version=x") == [
        "u",
        "p%40ss",
        "p@ss",
        basic,
        "a%2Bb",
        "a+b",
    ]
    assert url_secrets("http://h/v1") == []


def test_a_secret_shows_nothing_of_itself() -> None:
    secret = Secret("sk-live-123456", "***")
    assert "123456" not in repr(secret) + str(secret) + f"{secret}" + json.dumps(str(secret))
    assert secret.get() == "sk-live-123456"
    with pytest.raises(TypeError):
        vars(secret)  # slots: there is no __dict__ to dump


class TestKeyRing:
    def test_keeps_whole_urls_by_their_redacted_form_and_scrubs_their_keys(self) -> None:
        ring = KeyRing()
        shown = ring.keep("http://u:SECRETPW@h/v1?api-key=SECRETQ")
        assert shown == "http://***:***@h/v1?api-key=***"
        assert ring.reveal(shown) == "http://u:SECRETPW@h/v1?api-key=SECRETQ"
        assert ring.reveal("http://plain/v1") == "http://plain/v1"
        ring.keep_value("sk-KEYVALUE")
        assert ring.scrub("x SECRETPW y SECRETQ z sk-KEYVALUE") == "x *** y *** z ***"

    def test_a_new_process_finds_a_key_only_in_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        ring = KeyRing()
        with pytest.raises(MissingKeyError):
            ring.reveal("http://***:***@h/v1")
        monkeypatch.setenv("OPENAI_BASE_URL", "http://u:FROMENV@h/v1")
        assert ring.reveal("http://***:***@h/v1") == "http://u:FROMENV@h/v1"


class TestWhatIsConfiguredIsWhatRuns:
    def test_a_keyed_url_reaches_its_server_with_its_keys_and_nothing_else_keeps_them(
        self, open_server: OpenAIServer, gateway: str
    ) -> None:
        agent = Agent(base_url=gateway, api_key=K_ARG, max_retries=0)
        assert agent.provider_name == "openai"
        session = agent.session(session_id="gw")
        assert session.run("hello").text == "Echo: hello"
        request = open_server.requests[-1]
        assert request.path == f"/v1/chat/completions?api-key={K_QUERY}&api-version=2024-10-01", request.path
        # userinfo is HTTP basic auth (as the raw client sends it), the rest of the key in the query
        assert request.headers["authorization"] == "Basic " + base64.b64encode(f"user:{K_USER}".encode()).decode()
        shown = repr(agent) + repr(vars(agent)) + repr(session) + repr(vars(session.provider)) + repr(session.provider)
        for key in (K_USER, K_QUERY, K_ARG):
            assert key not in shown

    def test_a_session_url_is_stored_redacted_and_used_whole(self, open_server: OpenAIServer, gateway: str) -> None:
        session = Agent(provider="echo").session(session_id="s")
        session.configure(base_url=gateway)
        assert session.settings["base_url"] == redact_url(gateway)
        assert session.provider_name == "openai"
        assert session.run("hi").text == "Echo: hi", "the session's own server answered, not echo"
        assert K_QUERY in open_server.requests[-1].path
        data = json.dumps(session.to_dict())
        assert K_USER not in data and K_QUERY not in data and redact_url(gateway) in data

    def test_errors_name_the_url_without_its_key(self, open_server: OpenAIServer) -> None:
        from vel_jupyter.errors import ProviderUnavailableError

        session = Agent(provider="echo").session(session_id="dead")
        session.configure(base_url="http://u:kDEADsecret@127.0.0.1:9/v1?token=kDEADtoken")
        with pytest.raises(ProviderUnavailableError) as caught:
            session.run("hi")
        assert "http://***:***@127.0.0.1:9/v1?token=***" in str(caught.value)
        assert "kDEAD" not in str(caught.value)

    def test_the_http_stack_logs_no_key(self, gateway: str, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.DEBUG):
            Agent(base_url=gateway, api_key=K_ARG, max_retries=0).session().run("logged")
        lines = "\n".join(r.getMessage() for r in caplog.records)
        assert "HTTP Request: POST http://***:***@" in lines, "the request line is logged, redacted"
        for key in (K_USER, K_QUERY, K_ARG):
            assert key not in lines

    def test_configure_again_after_the_agent_was_made(self, open_server: OpenAIServer, gateway: str) -> None:
        agent = Agent()  # nothing configured here: the offline echo
        if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
            pytest.skip("a configured environment")
        session = agent.session(session_id="later")
        assert session.run("one").text.startswith("You said")
        agent.reconfigure(base_url=gateway)
        assert session.run("two").text == "Echo: two", "configured later, used from the next turn"
        agent.reconfigure(base_url=None)
        assert session.provider_name == "echo"


class TestEcho:
    def test_every_echo_answer_says_so(self) -> None:
        session = Agent(provider="echo").session(session_id="e")
        response = session.run("hi")
        assert response.provider == "echo"
        bundle = final_bundle(session, response)
        assert ECHO_NOTE in bundle["text/html"] and bundle["text/plain"].startswith(f"[{ECHO_NOTE}]")
        assert bundle["application/vnd.vel.session+json"]["provider"] == "echo"
        df = history(session)
        assert df["provider"].tolist()[1] == "echo" and df["provider"].isna().tolist()[0]

    def test_a_model_answer_does_not(self, open_server: OpenAIServer, gateway: str) -> None:
        session = Agent(base_url=gateway, max_retries=0).session()
        response = session.run("hi")
        assert response.provider == "openai"
        assert ECHO_NOTE not in final_bundle(session, response)["text/html"]


def test_after_a_restart_a_keyed_session_says_what_to_supply(tmp_path: Path, gateway: str) -> None:
    """A new process: the store has the session, with *** where its key was; a turn fails in one
    line naming the flag; the environment or the whole URL again brings it back."""
    db = tmp_path / "keys.db"
    session = Agent(provider="echo", session_storage=SQLiteStore(db)).session(session_id="gw")
    session.configure(base_url=gateway)
    session.run("before the restart")
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert K_USER.encode() not in raw and K_QUERY.encode() not in raw

    code = (
        "import sys\n"
        "from vel_jupyter import Agent\n"
        "from vel_jupyter.errors import ConfigurationError\n"
        f"agent = Agent(provider='echo', session_storage='sqlite:///{db}')\n"
        "session = agent.session(session_id='gw')\n"
        "try:\n"
        "    session.run('after')\n"
        "except ConfigurationError as exc:\n"
        "    print('ERROR', exc)\n"
        "else:\n"
        "    print('OK', session.messages[-1].content)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.startswith("ERROR session 'gw' talks to http://***:***@"), out
    assert "--base-url" in out and "OPENAI_BASE_URL" in out and len(out.strip().splitlines()) == 1
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**env, "OPENAI_BASE_URL": gateway},
        check=True,
    ).stdout
    assert out.strip() == "OK Echo: after", out


def test_sessions_loaded_from_an_older_store_are_redacted_in_memory(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "old.db")
    agent = Agent(provider="echo", session_storage=store)
    session = agent.session(session_id="old")
    data = session.to_dict()
    data["settings"] = {"base_url": "http://u:kOLDsecret@127.0.0.1:9/v1"}  # as written before keys were kept out
    restored = Session.from_dict(data, Agent(provider="echo"))
    assert restored.settings["base_url"] == "http://***:***@127.0.0.1:9/v1"
    # a key that came with data is dropped, not kept for use: data does not choose where keys go
    with pytest.raises(MissingKeyError):
        KEYRING.reveal("http://***:***@127.0.0.1:9/v1")
    assert "kOLDsecret" not in json.dumps(restored.to_dict())


def test_an_unknown_masked_url_fails_with_what_to_do() -> None:
    session = Agent(provider="echo").session(session_id="masked")
    with pytest.raises(ConfigurationError, match=r"session 'masked' talks to http://\*\*\*:\*\*\*@never-seen"):
        session.configure(base_url="http://x:***@never-seen.invalid/v1")
        session.provider  # noqa: B018


def test_reconfigure_keeps_a_provider_instance_it_was_given() -> None:
    from vel_jupyter.testing import ScriptedProvider

    scripted = ScriptedProvider(default="scripted")
    agent = Agent(provider=scripted)
    agent.reconfigure(base_url="http://localhost:11434/v1", model="m")
    assert agent.provider is scripted and agent.model == "m"
    with pytest.raises(ConfigurationError, match="reconfigure"):
        agent.reconfigure(temperature=1)
