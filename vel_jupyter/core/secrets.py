"""API keys stay in memory.

A key reaches us four ways: an ``api_key=`` argument, ``OPENAI_API_KEY``, a server URL's
userinfo (``http://user:KEY@host/v1``) or a parameter of its query (``…/v1?api-key=KEY``,
common for proxies and gateways). So:

* keys are held as ``Secret`` values, whose repr, str and ``vars()`` show no key;
* every URL we store or show — session settings (and so every store and export), notebook
  outputs, ``%chat config``, reprs, error messages — is ``redact_url``'s form,
  ``http://user:***@host/v1?api-key=***``;
* the whole URL lives only in this process's ``KEYRING``, found by its redacted form; a
  session read back from a store after a restart, whose URL needs a key this process never
  saw, fails with one line that says which flag or variable to supply;
* ``scrub`` removes every key we hold from a text (the ``openai``/``httpx`` log records, a
  server's error message).
"""

from __future__ import annotations

import logging
import os
import threading
from urllib.parse import unquote_plus, urlsplit, urlunsplit

MASK = "***"

# Query parameters that carry credentials (compared case-insensitively, after unquoting).
SECRET_PARAMS = frozenset(
    {
        "access-token", "access_token", "api-key", "api_key", "apikey", "auth", "auth-token", "auth_token",
        "authorization", "client_secret", "code", "key", "password", "secret", "sig", "signature", "token",
        "x-api-key",
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
    """``url`` with its password (or a lone username, often a token) and every credential
    query parameter replaced by ``***``; any other URL is returned as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL we can read: show nothing of it that could be a key
        return MASK if "@" in url or "?" in url else url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if has_password else f"{MASK}@{host}"
    query = "&".join(_redact_param(piece) for piece in parts.query.split("&")) if parts.query else parts.query
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_param(piece: str) -> str:
    name, equals, value = piece.partition("=")
    if equals and value and unquote_plus(name).strip().lower() in SECRET_PARAMS:
        return f"{name}={MASK}"
    return piece


def url_secrets(url: str) -> list[str]:
    """The credential values in ``url`` (its password or lone username, credential params)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        user, has_password, password = userinfo.partition(":")
        found.append(password if has_password else user)
        found.append(unquote_plus(password if has_password else user))
    for piece in parts.query.split("&") if parts.query else ():
        name, equals, value = piece.partition("=")
        if equals and value and unquote_plus(name).strip().lower() in SECRET_PARAMS:
            found += [value, unquote_plus(value)]
    return [value for value in dict.fromkeys(found) if value]


class MissingKeyError(Exception):
    """Raised by ``KeyRing.reveal``; the caller turns it into a ConfigurationError that names
    the session (core/agent.py)."""


class KeyRing:
    """Whole URLs by their redacted form, and every key value, for this process only."""

    def __init__(self) -> None:
        self._urls: dict[str, Secret] = {}
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def keep(self, url: str) -> str:
        """Remember ``url`` (when it holds a key) and return the form that may be stored and shown."""
        shown = redact_url(url)
        if shown != url:
            with self._lock:
                self._urls[shown] = Secret(url, shown)
                self._values.update(url_secrets(url))
        return shown

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
        for value in values:
            text = text.replace(value, MASK)
        return text


KEYRING = KeyRing()


class _ScrubFilter(logging.Filter):
    """Takes the keys out of the log records of the libraries that see them (a URL in
    httpx's "HTTP Request: POST http://user:KEY@…" line, openai's request options)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted: leave it to logging
            return True
        clean = KEYRING.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = _ScrubFilter()
# The HTTP stack under the openai client (openai, httpx or httpx2, httpcore or httpcore2).
GUARDED_LOGGERS = ("openai", "httpx", "httpcore")


def guard_logs() -> None:
    """Attach the scrubbing filter to every logger of the HTTP stack that exists (once each).

    A logger's filters apply only to its own records, so each one needs it; httpcore makes
    some loggers at its first request, so the provider calls this again after one.
    """
    manager = logging.Logger.manager
    names = [n for n in list(manager.loggerDict) if n.split(".")[0].startswith(GUARDED_LOGGERS)]
    for name in {*names, *GUARDED_LOGGERS}:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
