"""The public surface: __all__ sorted and complete, cheap imports, no Jupyter in the core."""

from __future__ import annotations

import subprocess
import sys
import types

import vel_jupyter
import vel_jupyter.errors
import vel_jupyter.stores
import vel_jupyter.testing


def public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }


def test_all_is_sorted() -> None:
    for module in (vel_jupyter, vel_jupyter.errors, vel_jupyter.stores, vel_jupyter.testing):
        assert module.__all__ == sorted(module.__all__), module.__name__


def test_all_is_complete() -> None:
    assert set(vel_jupyter.__all__) - {"__version__"} == public_names(vel_jupyter)
    assert set(vel_jupyter.errors.__all__) == public_names(vel_jupyter.errors)
    assert set(vel_jupyter.stores.__all__) == public_names(vel_jupyter.stores)
    for name in vel_jupyter.__all__:
        assert hasattr(vel_jupyter, name)


def test_every_error_descends_from_agent_error() -> None:
    for name in vel_jupyter.errors.__all__:
        cls = getattr(vel_jupyter.errors, name)
        assert issubclass(cls, vel_jupyter.errors.AgentError) or issubclass(cls, KeyboardInterrupt), name


def run_isolated(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


BLOCK_JUPYTER = (
    "import sys\n"
    "for name in ('IPython', 'ipywidgets', 'pandas', 'nbformat', 'ipykernel', 'anywidget'):\n"
    "    sys.modules[name] = None\n"
)


def test_the_engine_imports_and_runs_with_jupyter_blocked() -> None:
    out = run_isolated(
        BLOCK_JUPYTER
        + "import vel_jupyter, vel_jupyter.core, vel_jupyter.testing\n"
        + "import vel_jupyter.core.agent, vel_jupyter.core.session, vel_jupyter.core.context\n"
        + "import vel_jupyter.providers.echo, vel_jupyter.providers.openai\n"
        + "s = vel_jupyter.Agent(provider='echo').session()\n"
        + "print(s.run('hi').text)\n"
    )
    assert out == 'You said: "hi" (turn 1).'


def test_importing_the_package_loads_nothing_heavy() -> None:
    out = run_isolated(
        "import sys, vel_jupyter\n"
        "heavy = ['openai', 'pydantic', 'IPython', 'pandas', 'ipywidgets', 'httpx', 'httpx2', 'nbformat']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    assert out == "[]"


def test_missing_store_drivers_name_the_install_command() -> None:
    out = run_isolated(
        "import sys\n"
        "sys.modules['psycopg'] = None\n"
        "sys.modules['redis'] = None\n"
        "from vel_jupyter.stores import PostgresStore, RedisStore\n"
        "from vel_jupyter.errors import ConfigurationError\n"
        "for make in (lambda: PostgresStore('postgresql://x@127.0.0.1/db'), lambda: RedisStore('redis://127.0.0.1')):\n"
        "    try:\n"
        "        make()\n"
        "    except ConfigurationError as e:\n"
        "        print(e)\n"
    )
    lines = out.splitlines()
    assert "pip install 'vel-jupyter[postgres]'" in lines[0]
    assert "pip install 'vel-jupyter[redis]'" in lines[1]


def test_stores_import_no_driver_until_used() -> None:
    out = run_isolated(
        "import sys, vel_jupyter.stores\nprint([m for m in ('psycopg', 'psycopg_pool', 'redis') if m in sys.modules])\n"
    )
    assert out == "[]"


def test_the_notebook_views_of_a_session_are_functions_of_the_package() -> None:
    """``vel_jupyter.history(session)`` / ``vel_jupyter.tree(session)``: the engine's Session has
    no method that would import pandas or widgets (the old ones went before any release)."""
    from vel_jupyter import Agent, Session, history

    session = Agent(provider="echo").session()
    session.run("hi")
    assert list(history(session)["role"]) == ["user", "assistant"]
    assert not hasattr(Session, "to_dataframe") and not hasattr(Session, "tree")
