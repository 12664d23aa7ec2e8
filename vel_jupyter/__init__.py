"""vel_jupyter: multi-turn LLM sessions for Python scripts and Jupyter notebooks.

Importing this package is cheap: openai, pydantic and the Jupyter side are imported
when first used.
"""

from __future__ import annotations

import typing

from .core.agent import Agent
from .core.context import ContextManager, StatelessContextManager
from .core.message import Message, MessageMeta, ToolCall, Usage
from .core.repository import SessionSummary
from .core.response import Answer, Response, StreamEvent
from .core.session import AsyncTurnStream, Session, TurnStream
from .core.tools import Tool, tool
from .core.tree import Branch, Node
from .errors import AgentError

if typing.TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .jupyter.registry import Registry

__version__ = "0.1.0"


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext vel_jupyter``: register ``%%chat`` and ``%chat`` (imports happen here, lazily)."""
    from .jupyter.magics import ChatMagics

    ipython.register_magics(ChatMagics)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """``%unload_ext vel_jupyter``: remove the magics; the sessions stay in the registry."""
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        manager.magics[kind].pop("chat", None)
    manager.registry.pop("ChatMagics", None)


def registry() -> Registry:
    """This kernel's session registry (what ``%%chat`` cells use)."""
    from .jupyter.registry import registry as current

    return current()


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
    "load_ipython_extension",
    "registry",
    "sessions",
    "tool",
    "unload_ipython_extension",
]
