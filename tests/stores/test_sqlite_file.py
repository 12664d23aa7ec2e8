"""A SQLite store is bound to the file it opened: when the path is deleted or another file is
moved there under a running kernel, a turn fails in one line saying what happened, and neither
the session nor any file changes (each thread's connection would otherwise go on writing into
the old, unreachable file)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from vel_jupyter import Agent
from vel_jupyter.errors import StoreError
from vel_jupyter.stores import SQLiteStore


def rows(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT s.id, (SELECT count(*) FROM vel_messages m WHERE m.tree_id = s.tree_id) FROM vel_sessions s"
        ).fetchall()


def replace_file(db: Path, tmp_path: Path, session_id: str | None) -> None:
    """Move another store file to ``db``, as a user restoring a backup does. (The old file's
    ``-wal`` and ``-shm`` go too: SQLite would apply the old log to the new file.)"""
    other = SQLiteStore(tmp_path / "other.db")
    if session_id is not None:
        Agent(provider="echo", session_storage=other).session(session_id=session_id).run("hello")
    other.close()  # the last connection checkpoints its log into the file
    for leftover in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    os.replace(tmp_path / "other.db", db)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "sessions.db"


def one_line(exc: BaseException) -> str:
    assert "\n" not in str(exc), str(exc)
    return str(exc)


class TestTheFileGoesAway:
    def test_a_deleted_file_fails_the_turn_and_creates_nothing(self, db: Path) -> None:
        session = Agent(provider="echo", session_storage=SQLiteStore(db)).session(session_id="demo")
        session.run("one")
        before = session.to_dict()
        for leftover in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            leftover.unlink(missing_ok=True)
        with pytest.raises(StoreError) as caught:
            session.run("two")
        text = one_line(caught.value)
        assert str(db) in text and "was deleted" in text and "nothing was written" in text
        assert session.to_dict() == before
        assert not db.exists(), "no empty file was made at the path"
        with pytest.raises(StoreError, match="was deleted"):  # and the next one too, not a silent success
            session.run("three")

    def test_a_replaced_file_fails_the_turn_and_is_left_as_it_is(self, db: Path, tmp_path: Path) -> None:
        session = Agent(provider="echo", session_storage=SQLiteStore(db)).session(session_id="demo")
        session.run("one")
        before = session.to_dict()
        replace_file(db, tmp_path, "theirs")
        with pytest.raises(StoreError) as caught:
            session.run("two")
        text = one_line(caught.value)
        assert str(db) in text and "was replaced" in text and "open the store again" in text
        assert session.to_dict() == before
        assert rows(db) == [("theirs", 2)], "the file now at the path is untouched"
        fresh = Agent(provider="echo", session_storage=SQLiteStore(db))  # what the message says to do
        assert fresh.list_sessions() == ["theirs"]

    def test_the_async_path_and_other_threads_notice_too(self, db: Path, tmp_path: Path) -> None:
        session = Agent(provider="echo", session_storage=SQLiteStore(db)).session(session_id="demo")
        asyncio.run(session.run_async("one"))  # store I/O in worker threads: their own connections
        before = session.to_dict()
        replace_file(db, tmp_path, None)
        with pytest.raises(StoreError, match="was replaced"):
            asyncio.run(session.run_async("two"))
        assert session.to_dict() == before

    def test_reading_fails_the_same_way(self, db: Path) -> None:
        store = SQLiteStore(db)
        Agent(provider="echo", session_storage=store).session(session_id="demo").run("one")
        db.unlink()
        with pytest.raises(StoreError, match="was deleted"):
            store.list_sessions()
        with pytest.raises(StoreError, match="was deleted"):
            Agent(provider="echo", session_storage=store).get_session("demo")


class TestTextThatIsNotUtf8:
    def test_reads_with_the_replacement_character(self, db: Path) -> None:
        store = SQLiteStore(db)
        session = Agent(provider="echo", session_storage=store).session(session_id="demo")
        session.run("caf\u00e9")
        with sqlite3.connect(db) as conn:  # another program writes Latin-1 bytes into a TEXT column
            conn.execute(
                "UPDATE vel_messages SET content = CAST(replace(content, 'caf\\u00e9', 'caf' || x'e9') AS TEXT) "
                "WHERE id = ?",
                (session.nodes[0].id,),
            )
        again = Agent(provider="echo", session_storage=SQLiteStore(db)).session(session_id="demo")
        assert again.messages[0].text == "caf\ufffd"
