"""API keys stay in memory and go only where the user sent them.

A key reaches us four ways: an ``api_key=`` argument, ``OPENAI_API_KEY``, a server URL's
userinfo (``http://user:KEY@host/v1``) or a parameter of its query (``…/v1?api-key=KEY``,
common for proxies and gateways). So:

* keys are held as ``Secret`` values, whose repr, str and ``vars()`` show no key;
* redaction is an allowlist: every userinfo part and every query value of every URL we store,
  show or log is ``***`` except the few parameter names in ``HARMLESS_PARAMS``
  (``redact_url``); ``redact_text`` does the same to URLs, conninfo passwords and
  ``Bearer``/``Basic`` credentials inside a text, and removes every key this process holds.
  One redactor serves base URLs, store DSNs, error messages and every logger of ours and of
  the libraries under us (``guard_logs``);
* the whole URL lives only in this process's ``KEYRING``, found by its redacted form;
* **keys are bound to an origin**, as browsers bind credentials: ``OPENAI_API_KEY`` goes only
  to ``OPENAI_BASE_URL``'s origin (OpenAI's when that is unset), an ``api_key=`` only to the
  URL it was given with (``key_origin``);
* **a server URL is contacted only once the user named it in this process** (an argument,
  a flag, ``%config``, ``OPENAI_BASE_URL``) or it came from a notebook Jupyter trusts. A URL
  read from data — a notebook, a store row, a ``from_dict`` record — is not, until then
  (``KeyRing.accepted``): a mailed notebook cannot aim the user's key or history elsewhere.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

MASK = "***"
DEFAULT_OPENAI_URL = "https://api.openai.com/v1"

# Query parameters whose values may be shown (compared case-insensitively, after unquoting):
# versions and connection options that never carry a credential. Everything else is masked.
HARMLESS_PARAMS = frozenset(
    {
        "api-version", "api_version", "apiversion", "application_name", "connect_timeout", "db",
        "decode_responses", "format", "protocol", "sslmode", "target_session_attrs", "version",
    }
)  # fmt: skip


class Secret:
    """A value no repr, log line or ``vars()`` dump can show: only ``get()`` returns it.

    ``shown`` is what it looks like when printed (``***``, or a redacted URL).
    """

    __slots__ = ("_shown", "_value")

    def __init__(self, value: str, shown: str = MASK) -> None:
        self._value = value
        self._shown = shown

    def get(self) -> str:
        return self._value

    @property
    def shown(self) -> str:
        """What may be printed: ``***``, or the URL with ``***`` where its key was."""
        return self._shown

    def __repr__(self) -> str:
        return f"Secret({self._shown!r})"

    __str__ = __repr__


def redact_url(url: str) -> str:
    """``url`` with every userinfo part and every query value not in ``HARMLESS_PARAMS``
    replaced by ``***``; a URL with neither is returned as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL we can read: show nothing of it that could be a key
        return MASK if "@" in url or "?" in url else url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, password = userinfo.partition(":")
        masked = ":".join(MASK if piece else "" for piece in (user, password)) if colon else (MASK if user else "")
        netloc = f"{masked}@{host}"
    query = "&".join(_redact_param(piece) for piece in parts.query.split("&")) if parts.query else parts.query
    if netloc == parts.netloc and query == parts.query:
        return url
    shown = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    if not netloc and url[len(parts.scheme) + 1 :].startswith("//"):  # unix:///path keeps its //
        shown = f"{parts.scheme}://{shown[len(parts.scheme) + 1 :]}"
    return shown


def _harmless(name: str) -> bool:
    return unquote_plus(name).strip().lower() in HARMLESS_PARAMS


def _redact_param(piece: str) -> str:
    name, equals, value = piece.partition("=")
    if equals and value and value != MASK and not _harmless(name):
        return f"{name}={MASK}"
    return piece


def url_secrets(url: str) -> list[str]:
    """The credential values in ``url``: its userinfo parts, the Basic-auth token an HTTP
    client makes of them, and every query value not in ``HARMLESS_PARAMS`` (as written and decoded)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        user, _, password = userinfo.partition(":")
        found += [user, unquote(user), password, unquote(password)]
        basic = f"{unquote(user)}:{unquote(password)}".encode()
        found.append(base64.b64encode(basic).decode())
    for piece in parts.query.split("&") if parts.query else ():
        name, equals, value = piece.partition("=")
        if equals and value and not _harmless(name):
            found += [value, unquote_plus(value)]
    return [value for value in dict.fromkeys(found) if value and value != MASK]


def origin(url: str | None) -> str:
    """``scheme://host:port`` of ``url`` (lower case, default port filled in); '' if unreadable.

    Keys and trust are bound to origins, as browsers bind credentials: the same server under
    another path is the same party, another host or port is not.
    """
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
        host = (parts.hostname or "").lower()
    except ValueError:
        return ""
    if not host or not parts.scheme:
        return ""
    return f"{parts.scheme.lower()}://{host}:{port}"


def default_server() -> str:
    """Where a client with no base URL goes: ``OPENAI_BASE_URL``, else OpenAI."""
    return os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_URL


def env_key_for(url: str | None) -> str | None:
    """``OPENAI_API_KEY``, when ``url`` (None: the default server) is the origin it belongs to:
    ``OPENAI_BASE_URL``'s, or OpenAI's when that is unset."""
    key = os.environ.get("OPENAI_API_KEY") or None
    if key is None or origin(url or default_server()) != origin(default_server()):
        return None
    return key


class MissingKeyError(Exception):
    """Raised by ``KeyRing.reveal``; the caller turns it into a ConfigurationError that names
    the session (core/agent.py)."""


class KeyRing:
    """For this process only: whole URLs by their redacted form, every key value, and the
    server origins the user named."""

    def __init__(self) -> None:
        self._urls: dict[str, Secret] = {}
        self._values: set[str] = set()
        self._accepted: set[str] = set()
        self._lock = threading.Lock()

    def keep(self, url: str) -> str:
        """The user named ``url`` in this process: remember it (and any key in it), accept its
        server, and return the form that may be stored and shown.

        Only for URLs the user gave (arguments, flags, ``%config``, the environment): a URL
        read from data goes through ``redact_url`` and stays unaccepted.
        """
        shown = redact_url(url)
        with self._lock:
            if shown != url and MASK not in url:  # (a shown form given back is no whole URL)
                self._urls[shown] = Secret(url, shown)
                self._values.update(url_secrets(url))
            if origin(url):
                self._accepted.add(origin(url))
        return shown

    def accept(self, url: str) -> None:
        """Accept the server of a URL that came from trusted data (a notebook Jupyter trusts)."""
        if origin(url):
            with self._lock:
                self._accepted.add(origin(url))

    def accepted(self, url: str) -> bool:
        """Whether requests may go to ``url``'s server: the user named it in this process
        (``OPENAI_BASE_URL`` included) or accepted it."""
        where = origin(url)
        if not where:
            return False
        env = os.environ.get("OPENAI_BASE_URL")
        with self._lock:
            return where in self._accepted or (bool(env) and origin(env) == where)

    def keep_value(self, key: str | None) -> None:
        """Remember an API key given apart from a URL, so ``scrub`` removes it from texts."""
        if key:
            with self._lock:
                self._values.add(key)

    def reveal(self, shown: str) -> str:
        """The whole URL behind ``shown`` (as it is when it holds no key).

        After a restart, a URL whose key was given in the environment is found there again;
        otherwise ``MissingKeyError``.
        """
        if MASK not in shown:
            return shown
        with self._lock:
            secret = self._urls.get(shown)
        if secret is not None:
            return secret.get()
        env = os.environ.get("OPENAI_BASE_URL")
        if env and redact_url(env) == shown:
            self.keep(env)
            return env
        raise MissingKeyError(shown)

    def scrub(self, text: str) -> str:
        """``text`` with every key this process holds replaced by ``***``."""
        with self._lock:
            values = sorted((v for v in self._values if len(v) >= 4), key=len, reverse=True)
        env = os.environ.get("OPENAI_API_KEY")
        if env and len(env) >= 4 and env not in values:
            values.append(env)
        for value in values:
            text = text.replace(value, MASK)
        return text


KEYRING = KeyRing()

# Credentials inside free text: URLs (any scheme, DSNs included), libpq conninfo passwords,
# HTTP auth values and OpenAI-style keys.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")
_CONNINFO_SECRET = re.compile(r"\b(password|passwd|pwd|sslpassword)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)
_AUTH_VALUE = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{4,}")
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{4,}")


def redact_text(text: str) -> str:
    """``text`` (an error message, a log line, a DSN) with every credential in it masked: the
    keys this process holds, userinfo and query values of every URL in it (``redact_url``),
    conninfo passwords, ``Bearer``/``Basic`` values and ``sk-…`` keys."""
    text = KEYRING.scrub(text)
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    text = _CONNINFO_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _KEY_LIKE.sub(MASK, text)


class _RedactFilter(logging.Filter):
    """Takes credentials out of the log records of the libraries that see them (a URL in
    httpx's "HTTP Request: POST http://user:KEY@…" line, psycopg_pool quoting a DSN)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted: leave it to logging
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if redact_text(str(exc)) != str(exc):  # a traceback that would quote a credential
                record.msg = f"{record.msg} ({type(exc).__name__}: {redact_text(str(exc))})"
                record.exc_info, record.exc_text = None, None
        return True


_FILTER = _RedactFilter()
# Every logger of ours and of the libraries under us that may see a key or a DSN: the HTTP
# stack under the openai client (openai, httpx or httpx2, httpcore or httpcore2) and the
# store drivers.
GUARDED_LOGGERS = ("vel_jupyter", "openai", "httpx", "httpcore", "psycopg", "psycopg_pool", "redis")


def guard_logs() -> None:
    """Attach the redacting filter to every logger of ``GUARDED_LOGGERS`` that exists (once each).

    A logger's filters apply only to its own records, so each one needs it; libraries make
    some loggers late (httpcore at its first request), so providers and stores call this
    again after their first connection.
    """
    manager = logging.Logger.manager
    names = [n for n in list(manager.loggerDict) if n.split(".")[0].startswith(GUARDED_LOGGERS)]
    for name in {*names, *GUARDED_LOGGERS}:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
