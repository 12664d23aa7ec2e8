"""A session's settings: system prompt, model, provider, server, request parameters, ttl.

A mixin of ``Session``. Settings live in the session's header (``settings``), so every change
goes through the repository like any other header change (``_update_header``). A setting that
cannot work — an unknown provider, a server named by data rather than by the user — is put back
before its error is raised (``change_settings``, ``try_settings``): it never sticks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..formats.text import clean_text
from .secrets import KEYRING

if TYPE_CHECKING:
    from .agent import Agent
    from .ports import Provider
    from .state import SessionState


class SessionSettings:
    """The settings half of a ``Session`` (see there)."""

    agent: Agent
    session_id: str
    _state: SessionState

    def _update_header(self, **changes: Any) -> None:
        raise NotImplementedError

    @property
    def _settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self._state.header["settings"]
        return settings

    @property
    def system(self) -> str | None:
        system: str | None = self._state.header["system"]
        return system

    @system.setter
    def system(self, text: str | None) -> None:
        self._update_header(system=clean_text(text) if isinstance(text, str) else text)

    @property
    def model(self) -> str:
        """The model this session talks to (its own setting, else the agent's)."""
        return str(self._settings.get("model") or self.agent.model)

    @model.setter
    def model(self, name: str | None) -> None:
        settings = {k: v for k, v in self._settings.items() if k != "model"}
        if name:
            settings["model"] = name
        self._update_header(settings=settings)

    @property
    def provider_name(self) -> str:
        """The provider this session talks to (its own setting, else the agent's)."""
        return self.agent.provider_name_for(self._settings.get("provider"), self._settings.get("base_url"))

    @property
    def provider(self) -> Provider:
        """The provider instance for this session's ``provider``/``base_url`` settings."""
        settings = self._settings
        return self.agent.provider_for(settings.get("provider"), settings.get("base_url"), session_id=self.session_id)

    def configure(self, **settings: Any) -> None:
        """Change settings that stick to this session: ``model``, ``provider``, ``base_url``,
        ``params`` (request parameters), ``ttl``. ``None`` removes a setting.

        A key inside ``base_url`` (``user:KEY@``, ``?api-key=KEY``) stays in this process: the
        setting keeps the URL with ``***`` in its place (see ``core.secrets``).
        """
        unknown = set(settings) - {"model", "provider", "base_url", "params", "ttl"}
        if unknown:
            raise ConfigurationError(
                f"unknown session settings {sorted(unknown)}; use model, provider, base_url, params or ttl"
            )
        if isinstance(settings.get("base_url"), str):
            settings["base_url"] = KEYRING.keep(settings["base_url"])
        merged = {**self._settings, **settings}
        self._update_header(settings={k: v for k, v in merged.items() if v is not None or k == "ttl"})

    def change_settings(self, *, system: str | None = None, **settings: Any) -> dict[str, Any]:
        """Apply the settings (and ``system``) that differ from the session's, checking that a
        provider and server can be made from them; return what they replaced (``{name: previous
        value or None}``), for ``restore_settings``. ``None`` values are left alone.

        Settings that cannot work (an unknown provider, a server named by data and not by the
        user) are put back before the error is raised: they never stick.
        """
        wanted = {k: v for k, v in settings.items() if v is not None}
        # (a stored base_url has *** for its key: compare the forms that are stored)
        shown = {k: KEYRING.keep(v) if k == "base_url" else v for k, v in wanted.items()}
        changed = {k: v for k, v in wanted.items() if self._settings.get(k) != shown[k]}
        replaced: dict[str, Any] = {}
        if system is not None and system != self.system:
            replaced["system"] = self.system
            self.system = system
        if changed:
            replaced.update({k: self._settings.get(k) for k in changed})
            self.configure(**changed)
            try:
                self.provider_name  # noqa: B018 - an unknown provider fails here, before any request
                self.provider  # noqa: B018
            except ConfigurationError:
                self.restore_settings(replaced)
                raise
        return replaced

    def restore_settings(self, replaced: dict[str, Any]) -> None:
        """Put back what ``change_settings`` replaced (a failed first turn's flags do not stick)."""
        settings = dict(replaced)
        if "system" in settings:
            self.system = settings.pop("system")
        if settings:
            self.configure(**settings)

    @property
    def params(self) -> dict[str, Any]:
        """Per-session request parameters (temperature, max_tokens, ...); per-call ones win."""
        return dict(self._settings.get("params") or {})

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self._settings)

    @property
    def ttl(self) -> float | None:
        """Seconds this session lives after its last write in the store (None: forever).

        Unset, the store's ``ttl`` applies; ``del session.ttl`` returns to it.
        """
        if "ttl" in self._settings:
            return self._settings["ttl"]
        return getattr(self.agent.store, "ttl", None)

    @ttl.setter
    def ttl(self, seconds: float | None) -> None:
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
            raise ConfigurationError(f"ttl must be a positive number of seconds or None, got {seconds!r}")
        self._update_header(settings={**self._settings, "ttl": seconds})

    @ttl.deleter
    def ttl(self) -> None:
        self._update_header(settings={k: v for k, v in self._settings.items() if k != "ttl"})

    def setting_sources(self) -> dict[str, str]:
        """Where each setting in effect comes from, by name (``model``, ``provider``, ``base_url``,
        ``params``, ``ttl``): ``"session"`` (its own), ``"agent"``, ``"environment"``, ``"store"``
        (the store's ttl) or ``"default"``; a setting with no value at all is left out."""
        own = self._settings
        routing = self.agent.routing
        sources = {name: "session" if name in own else routing.source_of(name) for name in ("model", "provider")}
        if "base_url" in own:
            sources["base_url"] = "session"
        elif self.provider_name == "openai":
            sources["base_url"] = routing.source_of("base_url")
        if own.get("params"):
            sources["params"] = "session"
        if "ttl" in own:
            sources["ttl"] = "session"
        elif getattr(self.agent.store, "ttl", None) is not None:
            sources["ttl"] = "store"
        return sources

    @contextmanager
    def try_settings(self, *, system: str | None = None, **settings: Any) -> Iterator[dict[str, Any]]:
        """``with session.try_settings(model=...):`` the settings hold for the block and stay when
        it succeeds; when it raises (a first turn that fails, Ctrl-C), they are put back.

        Yields what they replaced (see ``change_settings``). ``None`` values are left alone.
        """
        replaced = self.change_settings(system=system, **settings)
        try:
            yield replaced
        except BaseException:
            self.restore_settings(replaced)
            raise
