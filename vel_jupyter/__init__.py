"""vel_jupyter: multi-turn LLM sessions for Python scripts and Jupyter notebooks.

Importing this package is cheap: openai, pydantic and the Jupyter side are imported
when first used.
"""

from __future__ import annotations

import typing

from .core.agent import Agent
from .core.context import ContextManager, StatelessContextManager
from .core.listing import SessionSummary
from .core.message import Message, MessageMeta, ToolCall, Usage
from .core.response import Answer, Response, StreamEvent
from .core.session import AsyncTurnStream, Session, TurnStream
from .core.tools import Tool, tool
from .core.tree import Branch, Node
from .errors import AgentError

if typing.TYPE_CHECKING:
    import pandas
    from IPython.core.interactiveshell import InteractiveShell

    from .jupyter.registry import Registry
    from .jupyter.tree_widget import TreeWidget

__version__ = "0.1.0"


def _plug_adapters() -> None:
    """The composition root: the engine is written against ``core.ports``; here it gets the
    built-in providers and stores (and, through their registries, third-party ones). Each is
    imported when an agent first needs it, so importing the package stays cheap."""
    from .core.ports import plug

    def create_provider(name: str, **options: typing.Any) -> typing.Any:
        from .providers import create_provider

        return create_provider(name, **options)

    def resolve_provider_name(name: str | None, **where: typing.Any) -> str:
        from .providers import resolve_provider_name

        return resolve_provider_name(name, **where)

    def open_store(spec: typing.Any) -> typing.Any:
        from .stores import open_store

        return open_store(spec)

    plug(create_provider=create_provider, resolve_provider_name=resolve_provider_name, open_store=open_store)


_plug_adapters()


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext vel_jupyter``: register ``%%chat`` and ``%chat`` (imports happen here, lazily)."""
    from .jupyter.magics import ChatMagics

    ipython.register_magics(ChatMagics)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """``%unload_ext vel_jupyter``: remove the magics; the sessions stay in the registry."""
    from .providers import set_fallback_notice

    set_fallback_notice(None)  # the no-model notice is a script's line on stderr again
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        manager.magics[kind].pop("chat", None)
    manager.registry.pop("ChatMagics", None)


def registry() -> Registry:
    """This kernel's session registry (what ``%%chat`` cells use)."""
    from .jupyter.registry import registry as current

    return current()


def history(session: Session, *, branches: bool = False) -> pandas.DataFrame:
    """One row per message of ``session`` (its current path; every branch with ``branches=True``).

    Columns: session_id, branch, turn, message_id, parent_id, role, content, tool_calls,
    tool_call_id, model, prompt_tokens, completion_tokens, latency_ms, ttft_ms,
    finish_reason, cell_id, created_at. pandas is imported here, on first use.
    """
    from .export.dataframe import session_to_dataframe

    return session_to_dataframe(session, branches=branches)


def tree(session: Session) -> TreeWidget:
    """An interactive fork tree of ``session``'s family (an anywidget; needs ``anywidget``)."""
    from .jupyter.tree_widget import TreeWidget

    return TreeWidget(session)


def sessions() -> dict[str, Session]:
    """Every session of this kernel's registry, by id."""
    return registry().sessions()


__all__ = [
    "Agent",
    "AgentError",
    "Answer",
    "AsyncTurnStream",
    "Branch",
    "ContextManager",
    "Message",
    "MessageMeta",
    "Node",
    "Response",
    "Session",
    "SessionSummary",
    "StatelessContextManager",
    "StreamEvent",
    "Tool",
    "ToolCall",
    "TurnStream",
    "Usage",
    "__version__",
    "history",
    "load_ipython_extension",
    "registry",
    "sessions",
    "tool",
    "tree",
    "unload_ipython_extension",
]
