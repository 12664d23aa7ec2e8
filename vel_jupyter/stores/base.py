"""What every store shares: the store contract (guide A's four methods, defined by the engine
in ``core.ports``, with the capabilities built-in stores add), store URLs as secrets, and the
record shapes (``formats.records``, re-exported here for the stores).

Built-in stores keep messages by *conversation tree* (the header's ``tree``), not by session:
a session and its forks share one tree, a session's row is only its header, and a tree's
messages go when its last session goes. Deleting, re-saving, copying or expiring one session
therefore never removes a message another session can reach.

What a store reads back is data from outside — another process, another tool or a person may
have written it — so every header read passes ``formats`` (``stored_header``) and every
listing line is checked (``summary_line``): a damaged row is one ``SessionDataError`` line
naming the session and the field, and a listing shows it with its problem, never a traceback.
Store URLs and DSNs are ``Secret`` values (``secret_dsn``): no repr, error or log line shows
their passwords.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from ..core.ports import ExpiringStore, HeadConflict, SessionStore, TurnStore
from ..core.secrets import KEYRING, Secret, redact_text, redact_url
from ..errors import StoreError
from ..formats.records import (
    HEADER_KEYS,
    damaged,
    header_heads,
    join_record,
    legacy_stats,
    legacy_tree,
    legacy_trees,
    outside_parents,
    place_in_trees,
    split_record,
    stored_header,
    summary_line,
    summary_of,
    summary_pairs,
    tree_of,
)

__all__ = [
    "HEADER_KEYS", "ExpiringStore", "HeadConflict", "SessionStore", "TurnStore", "damaged", "dsn_passwords",
    "expiry", "header_heads", "join_record", "legacy_stats", "legacy_tree", "legacy_trees", "outside_parents",
    "place_in_trees", "secret_dsn", "split_record", "store_error", "stored_header", "summary_line", "summary_of",
    "summary_pairs", "tree_of",
]  # fmt: skip

# -- store URLs and DSNs ----------------------------------------------------------------------

# libpq conninfo (``host=h password=secret``) and URL query parameters that carry a password.
_CONNINFO_PASSWORD = re.compile(r"\b(?:password|passwd|pwd|sslpassword)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]+)", re.I)
_USERINFO_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^@/?#]*?:([^@]*)@")


def dsn_passwords(dsn: str) -> list[str]:
    """The passwords in a store URL or libpq DSN (userinfo, ``password=`` parameters), as written and decoded."""
    found: list[str] = []
    try:
        parts = urlsplit(dsn) if "://" in dsn else None
    except ValueError:
        parts = None
    if parts is not None and parts.password is not None:
        found.append(parts.password)
    match = _USERINFO_PASSWORD.match(dsn)
    if match:
        found.append(match.group(1))
    found += [m.group(1).strip("'") for m in _CONNINFO_PASSWORD.finditer(dsn)]
    return [value for value in dict.fromkeys([*found, *(unquote(v) for v in found)]) if value]


def secret_dsn(dsn: str) -> Secret:
    """A store URL or DSN as a Secret shown with ``***`` for every credential (``redact_url``;
    ``password=`` of a libpq DSN too).

    Its passwords join this process's keyring, so ``redact_text`` — every store error, and the
    log filter on psycopg's and redis' loggers — removes them wherever a driver quotes them
    (libpq quotes a malformed DSN whole in its errors).
    """
    for password in dsn_passwords(dsn):
        KEYRING.keep_value(password)
    return Secret(dsn, redact_url(dsn) if "://" in dsn else redact_text(dsn))


def store_error(text: str) -> StoreError:
    """A StoreError whose text went through ``redact_text`` (it may quote a driver's error)."""
    return StoreError(redact_text(text))


def expiry(now: datetime, header: dict[str, Any], default_ttl: float | None) -> datetime | None:
    """When a session written at ``now`` expires: its own ``ttl`` setting, else the store's."""
    ttl = (header.get("settings") or {}).get("ttl", default_ttl)
    return None if ttl is None else now + timedelta(seconds=float(ttl))
