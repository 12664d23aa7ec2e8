"""The fixtures every test folder shares, as plugins; and the ``core`` marker on ``tests/core``."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.support.fixtures",  # scripted providers, the loopback OpenAI server, agents wired to them
    "tests.support.backends",  # the loopback and llama-server, as one `backend` fixture
    "tests.support.server_fixtures",  # real PostgreSQL, Redis and llama.cpp servers
]

TESTS = Path(__file__).parent
CORE = TESTS / "core"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the engine's tests (no server, kernel or network): ``pytest -m core`` runs them alone."""
    for item in items:
        if item.path.is_relative_to(CORE):
            item.add_marker(pytest.mark.core)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``-m core`` alone, leave the other folders unimported: importing them (IPython, pandas,
    nbclient, ...) takes longer than running the core suite."""
    elsewhere = collection_path.parent == TESTS and collection_path != CORE
    if config.option.markexpr == "core" and elsewhere and (collection_path.is_dir() or collection_path.suffix == ".py"):
        return True
    return None
