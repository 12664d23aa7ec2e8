"""vel_jupyter: multi-turn LLM sessions for Python scripts and Jupyter notebooks.

Importing this package is cheap: openai, pydantic and the Jupyter side are imported
when first used.
"""

from __future__ import annotations

from .core.agent import Agent
from .core.context import ContextManager, StatelessContextManager
from .core.message import Message, MessageMeta, ToolCall, Usage
from .core.response import Answer, Response, StreamEvent
from .core.session import AsyncTurnStream, Session, TurnStream
from .core.tools import Tool, tool
from .core.tree import Branch, Node
from .errors import AgentError

__version__ = "0.1.0"

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
    "StatelessContextManager",
    "StreamEvent",
    "Tool",
    "ToolCall",
    "TurnStream",
    "Usage",
    "__version__",
    "tool",
]
