"""The one owner of what we read from outside: the shapes of saved sessions and notebook
payloads, their limits, the validator every one of them passes before anything is built
from it (``validate``), and the one rule for text every store keeps alike (``text``).

Imports nothing of ours but ``errors``: the core, the stores and the notebook side all
check data here.
"""

from __future__ import annotations

from .limits import LIMITS
from .text import clean_text
from .validate import (
    check_header,
    check_links,
    check_message,
    check_record,
    check_summary_header,
    check_turn_payload,
    check_version,
    load_json,
)

__all__ = [
    "LIMITS",
    "check_header",
    "check_links",
    "check_message",
    "check_record",
    "check_summary_header",
    "check_turn_payload",
    "check_version",
    "clean_text",
    "load_json",
]
