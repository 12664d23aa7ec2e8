"""Streaming display: what a ``%%chat`` cell sends to the notebook, against the raw client.

Run it with ``python benchmarks/bench_display.py`` (or ``make bench``); it takes about ten
minutes and prints a Markdown table. ``--sizes 100k,1M`` and ``--runs 1`` shorten it;
``--chunk 256`` streams 256-character chunks instead of one chunk per word; ``--timeout``
bounds a cell (one that does not finish ends the run, with what was measured).

What it measures
----------------
Answers of 100 kB, 1 MB and 5 MB of Markdown (headings, prose with inline marks, lists,
fenced Python: what a model writes) are streamed by a ``vel_jupyter._loopback`` server in
its own process, one chunk per word, to two real kernels (ipykernel, started by
``jupyter_client`` as a notebook server starts them):

- **ours**: a ``%%chat`` cell (``--base-url`` the server): the live view while it streams,
  then the one final output (sanitized HTML, the text, our JSON);
- **raw**: a cell that streams the same answer with the official ``openai`` client and
  ``print(delta, end="")``s every delta (ipykernel batches stdout into ``stream`` messages).

Everything is counted on the client side of the kernel's IOPub socket, as a frontend
receives it: the output messages answering the cell (``display_data``,
``update_display_data``, ``stream``, ``clear_output``), their bytes on the wire (every ZMQ
frame), of which the last output (ours: the final output), and the wall time from the
``execute_request`` to the kernel's ``idle``. "kernel peak RSS" is the kernel's
``ru_maxrss`` once a size is done (sizes run in increasing order, each kernel keeps the
sessions and outputs it made, as a notebook's kernel does). Runs of ours and raw alternate,
in an order that rotates; every figure is a median. The answer each side got is checked
against the one served. Below the table, ours' IOPub bytes from one size to the next must
grow like the answer (the old live view, which re-sent the whole answer every frame, grew
with its square). Targets are reported, never enforced: the exit status does not depend on
them.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from _report import command, environment, mark, table

SIZES = "100k,1M,5M"
RUNS = {100_000: 5}  # else 3
OUTPUT_TYPES = ("display_data", "update_display_data", "stream", "clear_output")
CELL_TIMEOUT = 900.0
SERVER_START_TIMEOUT = 60.0
# Ours, from one size to the next: how much more IOPub for how much more answer (linear: 1).
GROWTH_TARGET = 1.2
OURS, RAW = "ours", "raw"


def answer(size: int) -> str:
    """``size`` characters of the Markdown a model writes, the same on every call."""
    parts: list[str] = []
    length = index = 0
    while length < size:
        part = (
            f"## Section {index}\n\n"
            f"This paragraph explains **point {index}** with `code_{index}` and a "
            f"[link](https://example.com/{index}); it goes on for a while, so that the section "
            "reads like prose from a model, one token at a time.\n\n"
            f"- first item of list {index}\n- second item, with *emphasis*\n\n"
            f"```python\ndef step_{index}(frame):\n    return frame.groupby('key').sum() * {index}\n```\n\n"
        )
        parts.append(part)
        length += len(part)
        index += 1
    return "".join(parts)[:size].rstrip() + "\n"


def _serve(size: int, chunk: int) -> None:
    """``--serve SIZE``: the loopback server answering every request with ``answer(SIZE)``,
    one chunk per word or (``chunk``) in chunks of that many characters."""
    from vel_jupyter._loopback import OpenAIServer, Reply

    text = answer(size)
    reply = Reply.text(text, chunks=-(-len(text) // chunk) if chunk else None)
    server = OpenAIServer(default=reply).start()
    print(f"READY {server.base_url}", flush=True)
    try:
        sys.stdin.read()  # until the benchmark closes our stdin
    finally:
        server.stop()


@contextmanager
def loopback_server(size: int, chunk: int) -> Iterator[str]:
    argv = [sys.executable, __file__, "--serve", str(size), "--chunk", str(chunk)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the loopback server did not start (exit status {process.poll()}, said {line!r})")
        yield line.split()[1]
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@dataclass(frozen=True)
class Run:
    messages: int
    bytes: int
    last_bytes: int  # the last output message (ours: the final output)
    wall_s: float
    text: str  # the answer as shown: ours the final text/plain, raw what was printed

    @property
    def live_bytes(self) -> int:
        """Every output message but the last (ours: the live frames)."""
        return self.bytes - self.last_bytes


class Kernel:
    """A real kernel; each cell's IOPub messages are read off the socket, bytes and all."""

    def __init__(self, env: dict[str, str]) -> None:
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(kernel_name="python3", env=env)
        self.socket = self.kc.iopub_channel.socket

    def run(self, code: str, timeout: float = CELL_TIMEOUT) -> Run:
        content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
        request = self.kc.session.msg("execute_request", content)
        started = time.perf_counter()
        self.kc.shell_channel.send(request)
        messages = size = last = 0
        shown: list[str] = []
        deadline = started + timeout
        while True:
            if not self.socket.poll(max(1, int((deadline - time.perf_counter()) * 1000))):
                raise TimeoutError(f"no idle within {timeout:.0f} s: {code[:60]!r}")
            frames = self.socket.recv_multipart()
            _, parts = self.kc.session.feed_identities(frames)
            message = self.kc.session.deserialize(parts)
            if message["parent_header"].get("msg_id") != request["header"]["msg_id"]:
                continue
            kind = message["msg_type"]
            if kind == "error":
                raise RuntimeError("\n".join(message["content"]["traceback"]))
            if kind in OUTPUT_TYPES:
                messages += 1
                last = sum(len(frame) for frame in frames)
                size += last
                if kind == "stream" and message["content"]["name"] == "stdout":
                    shown.append(message["content"]["text"])
                elif kind != "stream" and kind != "clear_output":
                    shown = [message["content"]["data"].get("text/plain", "")]
            if kind == "status" and message["content"]["execution_state"] == "idle":
                wall = time.perf_counter() - started
                break
        self.kc.get_shell_msg(timeout=timeout)  # the execute_reply
        return Run(messages, size, last, wall, "".join(shown))

    def peak_rss_mb(self) -> float:
        text = self.run("import resource as _r; print(_r.getrusage(_r.RUSAGE_SELF).ru_maxrss)").text
        return int(text.split()[-1]) / 1024

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def ours_cell(url: str, sid: str) -> str:
    return f"%%chat {sid} --base-url {url} --model gpt-4o\nGo."


def raw_cell(url: str) -> str:
    return (
        f"_stream = _client.with_options(base_url={url!r}).chat.completions.create(\n"
        "    model='gpt-4o', messages=[{'role': 'user', 'content': 'Go.'}], stream=True)\n"
        "for _chunk in _stream:\n"
        "    if _chunk.choices and _chunk.choices[0].delta.content:\n"
        "        print(_chunk.choices[0].delta.content, end='')\n"
    )


@dataclass(frozen=True)
class Row:
    size: int
    variant: str
    runs: list[Run]
    rss_mb: float

    def median(self, field: str) -> float:
        return statistics.median(getattr(run, field) for run in self.runs)

    def cells(self) -> list[str]:
        return [
            _size(self.size),
            self.variant,
            str(len(self.runs)),
            f"{self.median('messages'):,.0f}",
            f"{self.median('bytes') / 1e6:,.2f}",
            f"{self.median('last_bytes') / 1e6:,.2f}",
            f"{self.median('bytes') / self.size:.2f}",
            f"{self.median('wall_s'):.2f}",
            f"{self.rss_mb:,.0f}",
        ]


def _parse_size(text: str) -> int:
    """``100k``, ``1M``, ``2.5M``: characters of answer."""
    scale = {"k": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def _size(size: int) -> str:
    return f"{size / 1e6:g} MB" if size >= 1_000_000 else f"{size / 1e3:g} kB"


def bench(sizes: list[int], runs: int | None, chunk: int, timeout: float) -> tuple[list[Row], list[str]]:
    """The rows measured, and notes: a cell that does not finish in ``timeout`` ends the benchmark."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "VEL_"))}
    env["OPENAI_API_KEY"] = "k"
    rows: list[Row] = []
    notes: list[str] = []
    with ExitStack() as stack:
        kernels = {OURS: Kernel(env), RAW: Kernel(env)}
        for kernel in kernels.values():
            stack.callback(kernel.close)
        kernels[OURS].run("%load_ext vel_jupyter")
        kernels[RAW].run("import openai\n_client = openai.OpenAI(api_key='k', max_retries=0, timeout=600)")
        for size in sizes:
            expected = answer(size)
            count = runs or RUNS.get(size, 3)
            samples: dict[str, list[Run]] = {OURS: [], RAW: []}
            with loopback_server(size, chunk) as url:
                for iteration in range(count):
                    order = [OURS, RAW] if iteration % 2 == 0 else [RAW, OURS]
                    for variant in order:
                        code = ours_cell(url, f"bench-{size}-{iteration}") if variant == OURS else raw_cell(url)
                        try:
                            run = kernels[variant].run(code, timeout)
                        except TimeoutError:
                            notes.append(f"{_size(size)}, {variant}: the cell did not finish in {timeout:g} s")
                            return rows, notes
                        if run.text.rstrip("\n") != expected.rstrip("\n"):
                            raise RuntimeError(
                                f"{variant} showed {len(run.text):,} characters, not the {size:,} served: invalid"
                            )
                        samples[variant].append(run)
                    print(f"- {_size(size)} run {iteration + 1}/{count} done", file=sys.stderr, flush=True)
            for variant in (OURS, RAW):
                rows.append(Row(size, variant, samples[variant], kernels[variant].peak_rss_mb()))
    return rows, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=SIZES, help=f"answer sizes in characters (default: {SIZES})")
    parser.add_argument("--runs", type=int, help="runs per size (default: 5 at 100k, else 3)")
    parser.add_argument("--chunk", type=int, default=0, help="characters per streamed chunk (default: one word)")
    parser.add_argument("--timeout", type=float, default=CELL_TIMEOUT, help="seconds a cell may take")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve, args.chunk)
        return
    sizes = sorted(_parse_size(name) for name in args.sizes.split(","))
    print("## vel_jupyter streaming display benchmark\n")
    print(
        f"- Environment: {environment(('openai', 'openai'), ('ipykernel', 'ipykernel'), ('jupyter_client', 'jupyter_client'))}"
    )
    print(f"- Command: `{command()}`", flush=True)
    started = time.perf_counter()
    rows, notes = bench(sizes, args.runs, args.chunk, args.timeout)
    chunks = f"{args.chunk}-character chunks" if args.chunk else "one chunk per word"
    print(
        f"\n### A streamed answer ({chunks}) in a real kernel: ours (`%%chat`) against the raw client printing it (medians)\n"
    )
    header = [
        "answer",
        "cell",
        "runs",
        "output messages",
        "IOPub MB",
        "of which last output MB",
        "IOPub bytes / answer byte",
        "wall s",
        "kernel peak RSS MB",
    ]
    print(table(header, [row.cells() for row in rows]))
    print()
    for note in notes:
        print(f"> **Note** — {note}\n")
    measured = sorted({row.size for row in rows})
    for size in measured:
        ours, raw = (next(r for r in rows if r.size == size and r.variant == v) for v in (OURS, RAW))
        print(
            f"- {_size(size)}: ours / raw wall {ours.median('wall_s') / raw.median('wall_s'):.2f}; "
            f"ours' live frames (all but the final output) {ours.median('live_bytes') / 1e6:,.2f} MB"
        )
    ours_rows = {row.size: row for row in rows if row.variant == OURS}
    for small, large in itertools.pairwise(measured):
        factor = large / small
        growth = ours_rows[large].median("bytes") / ours_rows[small].median("bytes")
        print(
            f"- ours' IOPub from {_size(small)} to {_size(large)}: {growth:.2f} times as much for {factor:g} times "
            f"the answer (linear: {factor:g}, quadratic: {factor**2:g}; target ≤ {factor * GROWTH_TARGET:g}) "
            f"{mark(growth <= factor * GROWTH_TARGET)}"
        )
    print(f"\n_Measured in {time.perf_counter() - started:.0f} s. Targets are informational; the exit status is 0._")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted; kernels and servers stopped", file=sys.stderr)
        sys.exit(130)
