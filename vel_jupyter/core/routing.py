"""Routing: which provider, model and server a session's settings mean, and the providers made for them.

An ``Agent`` has one ``Routing``. Sessions without settings of their own use the agent's
provider; a session's own ``provider``/``base_url`` get a provider of their own (cached by
both). Keys are bound to servers: an ``api_key=`` goes only to the server it was given with,
``OPENAI_API_KEY`` only to ``OPENAI_BASE_URL``'s (``core.secrets``), and a URL that came with
saved data is not contacted until the user names it (``UnconfirmedServerError``).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, UnconfirmedServerError
from .ports import adapters
from .secrets import KEYRING, MASK, MissingKeyError, Secret, default_server, origin

if TYPE_CHECKING:
    from .ports import Provider


class Routing:
    """The agent's provider settings and the providers made from them (see the module)."""

    def __init__(
        self,
        provider: str | Provider | None,
        model: str | None,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float | None,
        max_retries: int | None,
    ) -> None:
        self._lock = threading.RLock()
        options: dict[str, Any] = {}
        if base_url is not None:
            options["base_url"] = _url_secret(base_url)
        if api_key is not None:
            KEYRING.keep_value(api_key)
            options["api_key"] = Secret(api_key)
        # An api_key= belongs to the server it was given with (the default one when none was):
        # it is sent there and nowhere else, whatever URL a session later names.
        self._key_origin = origin(options["base_url"].get() if "base_url" in options else default_server())
        if timeout is not None:
            options["timeout"] = timeout
        if max_retries is not None:
            options["max_retries"] = max_retries
        self._provider_options = options
        self._provider: Provider | None = None
        self._providers: dict[tuple[str, str | None], Provider] = {}  # per-session overrides
        # What was asked for ("openai if configured, else echo" for None): reconfigure() resolves it again.
        self._provider_request = provider if isinstance(provider, str) else None
        self._own_provider = provider is not None and not isinstance(provider, str)  # an instance: never replaced
        if provider is None or isinstance(provider, str):
            self.provider_name = adapters().resolve_provider_name(provider, base_url=base_url, api_key=api_key)
        else:
            self._provider = provider
            self.provider_name = getattr(provider, "name", type(provider).__name__)
        self._model = model

    @property
    def model(self) -> str:
        """The model name: as given, else ``VEL_MODEL`` for openai, else the provider's default."""
        if self._model:
            return self._model
        if self.provider_name == "openai" and os.environ.get("VEL_MODEL"):
            return os.environ["VEL_MODEL"]
        return str(getattr(self.provider, "default_model", "") or "default")

    @model.setter
    def model(self, name: str) -> None:
        self._model = name

    def source_of(self, name: str) -> str:
        """Where the agent's ``model``, ``provider`` or ``base_url`` comes from: ``"agent"`` (given
        to it), ``"environment"`` (``VEL_MODEL``, ``OPENAI_BASE_URL``) or ``"default"``."""
        if name == "model":
            if self._model:
                return "agent"
            return "environment" if self.provider_name == "openai" and os.environ.get("VEL_MODEL") else "default"
        if name == "provider":
            return "agent" if self._provider_request or self._own_provider else "default"
        if name == "base_url":
            if "base_url" in self._provider_options:
                return "agent"
            return "environment" if self.provider_name == "openai" and os.environ.get("OPENAI_BASE_URL") else "default"
        raise ConfigurationError(f"source_of() takes model, provider or base_url, not {name!r}")

    def reconfigure(self, **changes: Any) -> None:
        """Change the defaults of sessions with no setting of their own: ``provider``,
        ``model``, ``base_url`` (``None`` removes one). ``%config ChatMagics.base_url = ...``
        does this, so a server configured after the agent was made is the one used."""
        unknown = set(changes) - {"provider", "model", "base_url"}
        if unknown:
            raise ConfigurationError(f"reconfigure() takes provider, model or base_url, not {sorted(unknown)}")
        with self._lock:
            if "model" in changes:
                self._model = changes["model"]
            if "base_url" in changes:
                if changes["base_url"] is None:
                    self._provider_options.pop("base_url", None)
                else:
                    self._provider_options["base_url"] = _url_secret(changes["base_url"])
            if "provider" in changes:
                self._provider_request = changes["provider"]
            if ("provider" in changes or "base_url" in changes) and not self._own_provider:
                url = self._provider_options.get("base_url")
                key = self._provider_options.get("api_key")
                self.provider_name = adapters().resolve_provider_name(
                    self._provider_request, base_url=url and url.get(), api_key=key and key.get()
                )
                self._provider = None
                self._providers.clear()

    def provider_name_for(self, name: str | None, base_url: str | None) -> str:
        """Which provider a session with these settings uses (same fallback rules as the agent)."""
        if name is None and base_url is None:
            return self.provider_name
        if name in (None, "echo") and base_url is not None:
            # A session's own server URL is what it asked for, whatever the agent's default (and
            # echo, which has no server, cannot be what a URL was given for).
            return "openai"
        api_key = self._provider_options.get("api_key")
        return adapters().resolve_provider_name(name, base_url=base_url, api_key=api_key and "set")

    def announce_fallback(self, name: str | None, base_url: str | None) -> None:
        """Before a turn with these settings: when they mean the offline echo only because no
        server or key is configured, the provider registry says so (``resolve_provider_name``)."""
        if self.provider_name_for(name, base_url) != "echo":
            return
        if name is None and base_url is None:
            if self._own_provider:
                return
            name = self._provider_request
        adapters().resolve_provider_name(name, base_url=None, api_key=None, turn=True)

    def provider_for(self, name: str | None, base_url: str | None, *, session_id: str | None = None) -> Provider:
        """The provider for a session's own ``provider``/``base_url`` settings (cached).

        ``base_url`` is the stored (redacted) form; the whole URL comes from this process's
        key ring, and when it is not there (a new process) the error says what to supply.
        """
        if name is None and base_url is None:
            return self.provider
        if base_url is not None and not KEYRING.accepted(base_url):
            raise _unconfirmed(base_url, session_id)
        resolved = self.provider_name_for(name, base_url)
        key = (resolved, base_url)
        with self._lock:
            provider = self._providers.get(key)
            if provider is None:
                options = self._options_for(_revealed(base_url, session_id) if base_url is not None else None)
                if resolved != "openai":
                    options = {}
                provider = self._providers[key] = adapters().create_provider(resolved, **options)
            return provider

    @property
    def provider(self) -> Provider:
        """The provider instance, created on first use (so importing is cheap)."""
        if self._provider is None:
            with self._lock:
                if self._provider is None:
                    options = self._options_for(None)
                    if self.provider_name != "openai":
                        options = {
                            k: v
                            for k, v in options.items()
                            if k not in ("base_url", "api_key", "timeout", "max_retries")
                        }
                    self._provider = adapters().create_provider(self.provider_name, **options)
        return self._provider

    def _options_for(self, url: str | None) -> dict[str, Any]:
        """Provider options for talking to ``url`` (None: the agent's own server): the api_key
        only when ``url`` is the server it was given for."""
        options = {k: (v.get() if isinstance(v, Secret) else v) for k, v in self._provider_options.items()}
        if url is not None:
            options["base_url"] = url
        target = options.get("base_url") or default_server()
        if "api_key" in options and origin(target) != self._key_origin:
            del options["api_key"]
        return options


def _url_secret(url: str) -> Secret:
    """A server URL as a Secret (a key in it, user:KEY@ or ?api-key=KEY, is one); a URL given
    in its stored form (with ``***``) is looked up in this process's key ring."""
    full = _revealed(url, None)
    return Secret(full, KEYRING.keep(full))


def _unconfirmed(base_url: str, session_id: str | None) -> UnconfirmedServerError:
    """One line for a session whose server came with saved data: what to name to use it."""
    who = f"session {session_id!r}" if session_id else "this session"
    if MASK in base_url:  # a key was in the URL: the whole URL is needed again anyway
        what = f"give the whole URL again (session.configure(base_url=...), %chat config {session_id or 'ID'} --base-url URL"
    else:
        what = f"name it (session.configure(base_url='{base_url}'), %chat config {session_id or 'ID'} --base-url {base_url}"
    return UnconfirmedServerError(
        f"{who} talks to {base_url}, a server that came with saved data (a notebook or a store) and was not named "
        f"in this process, so nothing was sent; to use it, {what}, or OPENAI_BASE_URL)",
        session_id=session_id,
        url=base_url,
    )


def _revealed(base_url: str, session_id: str | None) -> str:
    """The whole URL behind a stored one, or one line that says what to supply."""
    try:
        return KEYRING.reveal(base_url)
    except MissingKeyError:
        who = f"session {session_id!r}" if session_id else "this session"
        flag = f"%%chat {session_id} --base-url '<the whole URL>'" if session_id else "session.configure(base_url=...)"
        raise ConfigurationError(
            f"{who} talks to {base_url}, whose key is never stored and is not in this process: "
            f"give the whole URL again ({flag}, or set OPENAI_BASE_URL to it)"
        ) from None
