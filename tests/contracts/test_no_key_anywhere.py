"""No planted key appears in any artifact a session produces (issue 13).

Keys are planted everywhere a user can put one — ``OPENAI_API_KEY``, an ``OPENAI_BASE_URL``
with ``?key=``, a cell's ``--base-url`` with ``user:KEY@`` and ``?api-key=``, ``%config
ChatMagics.base_url`` with ``?token=``, a failing URL with a key, ``Agent(api_key=...)`` — and
then every artifact is searched: each message a real kernel sent (live frames, final outputs,
errors, ``%chat list/show/history/config/export/tree/branches``, reprs, ``%config``), the
SQLite file with its ``-wal`` and ``-shm``, an export file, a DEBUG log of the kernel, and the
rows and values of real PostgreSQL and Redis servers. The loopback server records what it
received, so the test also checks that each key did reach the server that needed it.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vel_jupyter import Agent
from vel_jupyter.testing import OpenAIServer

from ..support.kernel import Kernel

KEYS = {
    "env_key": "kENVsecretA1",  # OPENAI_API_KEY
    "env_url": "kENVURLsecretB2",  # OPENAI_BASE_URL ...?key=
    "user": "kUSERsecretC3",  # --base-url http://user:KEY@...
    "query": "kQUERYsecretD4",  # --base-url ...?api-key=KEY
    "config": "kCONFIGsecretE5",  # %config ChatMagics.base_url ...?token=KEY
    "failing": "kFAILsecretF6",  # a --base-url with a key that cannot be reached
    "argument": "kARGsecretG7",  # Agent(api_key=KEY)
}


@pytest.fixture(scope="module")
def open_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:  # takes any key: the test looks for them
        yield server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def found(text: str | bytes, where: str) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    return [f"{name} in {where}" for name, key in KEYS.items() if key.encode() in data]


@pytest.mark.slow
def test_no_planted_key_in_any_artifact_of_a_notebook(open_server: OpenAIServer, tmp_path: Path) -> None:
    host = open_server.base_url.split("//", 1)[1]  # 127.0.0.1:PORT/v1
    gateway = f"http://user:{KEYS['user']}@{host}?api-key={KEYS['query']}"
    db, log, export = tmp_path / "sessions.db", tmp_path / "kernel.log", tmp_path / "export.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "VEL_"))},
        "OPENAI_API_KEY": KEYS["env_key"],
        "OPENAI_BASE_URL": f"http://{host}?key={KEYS['env_url']}",
        "VEL_STORE": f"sqlite:///{db}",
    }
    cells = [
        f"import logging; logging.basicConfig(filename={str(log)!r}, level=logging.DEBUG, force=True)",
        "%load_ext vel_jupyter",
        "%%chat env\nhello from the environment",
        f"%%chat gw --base-url {gateway}\nhello through the gateway",
        "%%chat gw\nand again",
        f'%config ChatMagics.base_url = "http://{host}?token={KEYS["config"]}"',
        "%%chat cfg\nhello with the configured URL",
        f"%%chat dead --base-url http://u:{KEYS['failing']}@127.0.0.1:{_closed_port()}/v1\nhello?",
        "%chat list",
        "%chat show gw",
        "%chat config gw",
        "%chat config cfg",
        "%chat config dead",
        "%chat history gw",
        "%chat branches gw",
        "%chat export gw",
        f"%chat export gw --file {export}",
        "%chat tree gw",
        "%config ChatMagics",
        "import vel_jupyter\nr = vel_jupyter.registry()\nprint(r, r.agent, vars(r.agent))\nprint(vars(r.get('gw').provider), r.get('gw'))",
        "r.get('gw').to_dict()",
    ]
    messages: list[dict[str, Any]] = []
    kernel = Kernel(env)
    try:
        for code in cells:
            messages += kernel.run(code)
    finally:
        kernel.close()
    # After a restart the store has the sessions, not their keys: one line says what to supply.
    restarted = Kernel({k: v for k, v in env.items() if not k.startswith("OPENAI_")})
    try:
        restarted.run("%load_ext vel_jupyter")
        after = restarted.run("%%chat gw\nafter the restart")
        again = restarted.run(f"%%chat gw --base-url {gateway}\nwith the whole URL again")
    finally:
        restarted.close()
    messages += after + again

    errors = {m["content"]["ename"]: m["content"]["traceback"] for m in messages if m["msg_type"] == "error"}
    assert "ProviderUnavailableError" in errors, "the failing cell failed"
    assert errors["ProviderUnavailableError"][0].startswith(
        "ProviderUnavailableError: cannot reach http://***:***@127.0.0.1:"
    ), errors
    # (a UsageError: IPython prints it as one line on stderr, and the cell fails)
    said = "".join(m["content"].get("text", "") for m in after if m["msg_type"] == "stream")
    assert said.startswith("UsageError: session 'gw' talks to http://***:***@"), said
    assert "--base-url" in said and len(said.strip().splitlines()) == 1
    answer = [m for m in again if m["msg_type"] in ("display_data", "update_display_data")]
    assert answer and not [m for m in again if m["msg_type"] == "error" or m["content"].get("name") == "stderr"]

    # Each key reached the server that needed it, and only that.
    paths = [r.path for r in open_server.requests]
    auth = [r.headers.get("authorization", "") for r in open_server.requests]
    assert any(KEYS["env_url"] in p for p in paths) and f"Bearer {KEYS['env_key']}" in auth
    assert any(KEYS["query"] in p for p in paths) and any(KEYS["config"] in p for p in paths)
    assert "Basic " + base64.b64encode(f"user:{KEYS['user']}".encode()).decode() in auth

    leaks = []
    for index, message in enumerate(messages):
        if message["msg_type"] == "execute_input":
            continue  # the cell's own source: a key typed into a cell is in the notebook (README says so)
        leaks += found(json.dumps(message["content"]), f"kernel message {index} ({message['msg_type']})")
    for path in sorted(tmp_path.iterdir()):  # sessions.db, -wal, -shm, the export, the log
        leaks += found(path.read_bytes(), path.name)
    assert {p.name for p in tmp_path.iterdir()} >= {"sessions.db", "kernel.log", "export.json"}
    assert "HTTP Request: POST http://***:***@" in log.read_text(), "the log has the requests, redacted"
    kinds = {m["msg_type"] for m in messages}
    assert {"display_data", "update_display_data", "execute_result", "stream", "error"} <= kinds
    assert leaks == []


def _scan_stores(agent: Agent, gateway: str) -> None:
    session = agent.session(session_id="stored")
    session.configure(base_url=gateway)
    session.run("hello")
    fork = session.fork("stored-fork")
    fork.run("forked")


def test_no_planted_key_in_postgres_rows(open_server: OpenAIServer, postgres_dsn: str) -> None:
    import psycopg

    host = open_server.base_url.split("//", 1)[1]
    gateway = f"http://user:{KEYS['user']}@{host}?api-key={KEYS['query']}"
    _scan_stores(Agent(base_url=gateway, api_key=KEYS["argument"], session_storage=postgres_dsn), gateway)
    with psycopg.connect(postgres_dsn) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        rows = [
            json.dumps(row[0]) for table in tables for row in conn.execute(f'SELECT row_to_json(t) FROM "{table}" t')
        ]
    assert "vel_sessions" in tables and len(rows) >= 5
    assert [leak for row in rows for leak in found(row, "a PostgreSQL row")] == []


def test_no_planted_key_in_redis_values(open_server: OpenAIServer, redis_url: str) -> None:
    import redis

    host = open_server.base_url.split("//", 1)[1]
    gateway = f"http://user:{KEYS['user']}@{host}?api-key={KEYS['query']}"
    _scan_stores(Agent(base_url=gateway, api_key=KEYS["argument"], session_storage=redis_url), gateway)
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter("*"))
    values = [client.dump(key) or b"" for key in keys]
    assert len(keys) >= 3
    assert [leak for value in [*keys, *values] for leak in found(value, "a Redis value")] == []
