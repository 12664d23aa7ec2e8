"""The OpenAI wire basics the loopback server shares: compact JSON, error objects, reason
phrases, and a request as the server received it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

Json = dict[str, Any]


def dumps(obj: object) -> str:
    # Compact separators match OpenAI's payloads and keep 5,000-chunk bodies small.
    return json.dumps(obj, separators=(",", ":"))


def reason(status: int) -> str:
    return BaseHTTPRequestHandler.responses.get(status, ("Unknown",))[0]


def error_object(message: str, type_: str, code: str | None) -> str:
    return dumps({"message": message, "type": type_, "param": None, "code": code})


def text_of(content: object) -> str:
    """Text of a message ``content``: a string or a list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: Json | None

    @property
    def messages(self) -> list[Json]:
        messages = (self.body or {}).get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def stream(self) -> bool:
        return bool((self.body or {}).get("stream"))
