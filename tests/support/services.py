"""Throwaway PostgreSQL and Redis servers on loopback, for the store tests.

The stores must be tested against the real servers (wire protocol, locking, reconnects), not fakes, so
these helpers start private instances from Debian's binaries: each on a free 127.0.0.1 port with its
files under a temporary directory, so they never touch (or depend on) a system-wide cluster on 5432
or a redis on 6379. Durability is switched off because nothing here has to survive a crash.

Every server can be stopped and started again on the same port and data, which is what the
"server goes away mid-conversation, then comes back" tests need.

Standard library only: the pytest fixtures live in ``server_fixtures.py``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, NamedTuple, TypedDict, TypeVar

__all__ = [
    "PostgresServer",
    "RedisServer",
    "ServerUnavailable",
    "find_postgres_bindir",
    "find_redis_server",
    "start_postgres",
    "start_redis",
]

START_TIMEOUT = 30.0
"""Seconds to wait for a server to accept connections: initdb + first start is ~1 s, slow CI is slower."""

STOP_TIMEOUT = 15.0
"""Seconds a graceful shutdown may take before the process is killed."""

POLL_INTERVAL = 0.02
PG_INSTALL_HINT = "install it with `apt-get install postgresql` (or `make services`)"
REDIS_INSTALL_HINT = "install it with `apt-get install redis-server` (or `make services`)"
PG_BINARIES = ("initdb", "postgres", "createdb")
PG_DATABASE = "vel_test"
PG_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "50",
}
"""Server settings for tests: loopback only, no durability (a crashed test server is simply thrown away)."""


class ServerUnavailable(RuntimeError):
    """The server cannot be started here; the message says what to install or what went wrong.

    A distinct type so that fixtures can turn exactly this into a skip (or a failure in CI) while any
    other exception still surfaces as a bug in the harness.
    """


# --- process plumbing ---------------------------------------------------------------------------------


class _RunAs(NamedTuple):
    """The unprivileged account a server runs under when we are root (PostgreSQL refuses to run as root)."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


_prctl: Callable[..., int] | None
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux/glibc: no parent-death signal, atexit still cleans up
    _prctl = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: signal.Signals) -> None:
    """Ask the kernel to send ``sig`` to the server when the test process dies, even by SIGKILL.

    atexit does not run when pytest is killed (CI timeouts, OOM killer); without this the servers
    would be orphaned and keep their ports. Runs in the child after the uid switch, because changing
    credentials resets the parent-death signal.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(sig))


def _free_port() -> int:
    """A port that is free on 127.0.0.1 right now (the kernel picks it; the small race is acceptable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child_env() -> dict[str, str]:
    """The environment without PG* variables, so a developer's PGHOST/PGPORT cannot redirect our tools."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _log_tail(path: Path, lines: int = 20) -> str:
    """The end of a server log, for error messages that explain why a start failed."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


# --- the common lifecycle -----------------------------------------------------------------------------

_S = TypeVar("_S", bound="_Server")
_LIVE: set[_Server] = set()
_LIVE_LOCK = threading.Lock()


class _Server:
    """A server process we own: started on a fixed port, stopped gracefully, restartable on the same data.

    Subclasses say how to run and probe the server; this class keeps the ``Popen`` (no daemonizing) so
    that stop() can wait for the process and no orphan survives the test run.
    """

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, *, port: int, log_path: Path, run_as: _RunAs | None = None) -> None:
        self.port = port
        self.log_path = log_path
        self._run_as = run_as
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._register()

    def _register(self) -> None:
        """Put the server on the list that the atexit hook stops (again, if it was closed and restarted)."""
        with _LIVE_LOCK:
            _LIVE.add(self)

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def is_running(self) -> bool:
        """Whether the server process is alive (it may still be starting up)."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server (again) on the same port and data; return once it accepts connections."""
        if self.is_running():
            return
        self._register()
        self._spawn()
        self._wait_until_ready()

    def started(self: _S) -> _S:
        """``start()``, closing what was made on failure (a half-started server leaves no files)."""
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def stop(self) -> None:
        """Shut down (gracefully, else kill) and wait for the process: the port is free when this returns."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(self.stop_signal)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # The whole process group (its own session, see _spawn): PostgreSQL's backends too.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start again: same port, same data (for PostgreSQL; Redis keeps nothing)."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop for good and forget the server (also run at exit for servers nobody closed)."""
        self.stop()
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _spawn(self) -> None:
        """Launch the process in its own session, so a Ctrl-C aimed at pytest does not reach it first."""
        self._log = self.log_path.open("ab")
        # Only a main-thread parent: the parent-death signal fires when the *thread* that forked exits, so
        # a restart from e.g. a threading.Timer would otherwise kill the server as soon as the timer ends.
        main_thread = threading.current_thread() is threading.main_thread()
        self._proc = subprocess.Popen(
            self._command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_child_env(),
            start_new_session=True,
            preexec_fn=(lambda: _die_with_parent(self.stop_signal)) if main_thread else None,
            **_credentials(self._run_as),
        )

    def _wait_until_ready(self) -> None:
        """Poll until the server answers, failing fast (with its log) if the process exits meanwhile."""
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready():
            if not self.is_running():
                self.stop()
                raise ServerUnavailable(
                    f"{self.name} exited during startup; log {self.log_path}:\n{_log_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ServerUnavailable(
                    f"{self.name} did not accept connections on 127.0.0.1:{self.port} within {START_TIMEOUT:.0f} s;"
                    f" log {self.log_path}:\n{_log_tail(self.log_path)}"
                )
            time.sleep(POLL_INTERVAL)


class _Credentials(TypedDict, total=False):
    user: int
    group: int
    extra_groups: list[int]


def _credentials(run_as: _RunAs | None) -> _Credentials:
    """Popen keyword arguments that drop root to ``run_as`` (including root's supplementary groups)."""
    if run_as is None:
        return {}
    return {"user": run_as.uid, "group": run_as.gid, "extra_groups": list(run_as.groups)}


@atexit.register
def _close_all() -> None:
    """Stop every server still running when the interpreter exits (a fixture teardown that never ran)."""
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for server in servers:
        with contextlib.suppress(Exception):
            server.close()


# --- PostgreSQL ---------------------------------------------------------------------------------------


class PostgresServer(_Server):
    """A private PostgreSQL cluster with a ``vel_test`` database; ``dsn`` connects as superuser ``postgres``."""

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back open transactions, close clients, exit

    def __init__(
        self, *, bindir: Path, workdir: Path, port: int, log_path: Path, run_as: _RunAs | None, cleanup: Path | None
    ) -> None:
        super().__init__(port=port, log_path=log_path, run_as=run_as)
        self.bindir = bindir
        self.data_dir = workdir / "data"
        self.socket_dir = workdir / "socket"
        self._cleanup = cleanup

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{PG_DATABASE}"

    def _command(self) -> list[str]:
        settings = {**PG_SETTINGS, "port": str(self.port), "unix_socket_directories": str(self.socket_dir)}
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        return [str(self.bindir / "postgres"), "-D", str(self.data_dir), *options]

    def _ready(self) -> bool:
        """Ready when *our* postmaster records "ready" in its lock file (PostgreSQL 10+ keeps a status there).

        Probing the port instead (pg_isready, a connect) could be answered by another server that took
        the port meanwhile, and would hide that ours failed to bind; the lock file names our pid.
        """
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        ours = self._proc is not None and lines[:1] == [str(self._proc.pid)]
        return ours and len(lines) >= 8 and lines[7].strip() == "ready"

    def close(self) -> None:
        """Stop, and remove the data directory if it had to live outside the caller's tmpdir."""
        super().close()
        if self._cleanup is not None:
            shutil.rmtree(self._cleanup, ignore_errors=True)
            self._cleanup = None

    def initdb(self) -> None:
        """Create the cluster (trust auth: loopback test server) and, after the first start, ``vel_test``."""
        command = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "-A", "trust"]
        command += ["-E", "UTF8", "--no-locale", "--no-sync"]
        _run_or_raise(command, "initdb", self._run_as)
        self.socket_dir.mkdir(mode=0o700)
        if self._run_as is not None:
            os.chown(self.socket_dir, self._run_as.uid, self._run_as.gid)
        self.start()
        _run_or_raise([str(self.bindir / "createdb"), *self._client_args(), PG_DATABASE], "createdb", None)

    def _client_args(self) -> list[str]:
        """Connection options for the client tools: TCP on loopback, as the superuser initdb created."""
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]


def _run_or_raise(command: Sequence[str], what: str, run_as: _RunAs | None) -> None:
    """Run a setup tool to completion, turning a failure into ServerUnavailable with its output."""
    result = subprocess.run(
        command, capture_output=True, text=True, env=_child_env(), check=False, **_credentials(run_as)
    )
    if result.returncode != 0:
        raise ServerUnavailable(f"{what} failed (exit {result.returncode}): {result.stdout}{result.stderr}".strip())


def find_postgres_bindir(bindir: Path | None = None) -> Path:
    """The directory with initdb/postgres: ``bindir`` if given, else pg_config's, Debian's newest, or PATH's."""
    candidates = [bindir] if bindir is not None else [*_pg_config_bindir(), *_debian_bindirs(), *_path_bindir()]
    for candidate in candidates:
        if all(os.access(candidate / name, os.X_OK) for name in PG_BINARIES):
            return candidate
    looked = ", ".join(str(path) for path in candidates) or "pg_config, /usr/lib/postgresql/*/bin, PATH"
    raise ServerUnavailable(
        f"PostgreSQL server binaries ({', '.join(PG_BINARIES)}) not found in {looked}: {PG_INSTALL_HINT}"
    )


def _pg_config_bindir() -> list[Path]:
    """pg_config's answer; unreliable on Debian (libpq-dev's pg_config may name a version not installed)."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return []
    result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
    return [Path(result.stdout.strip())] if result.returncode == 0 and result.stdout.strip() else []


def _debian_bindirs() -> list[Path]:
    """Debian's per-version directories, newest first (several major versions can be installed at once)."""

    def version(path: Path) -> tuple[int, ...]:
        parts = path.parent.name.split(".")
        return tuple(int(part) for part in parts) if all(part.isdigit() for part in parts) else (-1,)

    return sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)


def _path_bindir() -> list[Path]:
    """Where PATH's initdb really lives (Debian's /usr/bin has no initdb, but a hand-made symlink may)."""
    initdb = shutil.which("initdb")
    return [Path(initdb).resolve().parent] if initdb else []


def _postgres_account() -> _RunAs | None:
    """Who runs PostgreSQL: ourselves, unless we are root (which initdb and postgres refuse to be)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise ServerUnavailable(
            f"running as root needs the `postgres` system user to run PostgreSQL as; {PG_INSTALL_HINT}"
        ) from None
    return _RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid, tuple(os.getgrouplist(entry.pw_name, entry.pw_gid)))


def _can_traverse(path: Path, account: _RunAs) -> bool:
    """Whether ``account`` can reach into ``path`` (execute permission on it and every ancestor)."""
    for directory in [path, *path.parents]:
        st = directory.stat()
        if st.st_uid == account.uid:
            bit = stat.S_IXUSR
        elif st.st_gid in account.groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def _postgres_workdir(tmpdir: Path, account: _RunAs | None) -> tuple[Path, Path | None]:
    """A directory owned by the server's account, and what to delete at close (None: tmpdir's owner does).

    It lives in ``tmpdir`` when the account can reach it. As root under pytest it usually cannot
    (/tmp/pytest-of-root is 0700), and opening that up would weaken pytest's own protection, so the
    data then goes to a private directory in the system tmp, with a symlink in ``tmpdir`` pointing to it.
    """
    tmpdir = tmpdir.resolve()
    if account is None or _can_traverse(tmpdir, account):
        workdir, cleanup = Path(tempfile.mkdtemp(prefix="postgres-", dir=tmpdir)), None
    else:
        workdir = cleanup = Path(tempfile.mkdtemp(prefix="vel-postgres-"))
        (tmpdir / workdir.name).symlink_to(workdir)
    if account is not None:
        os.chown(workdir, account.uid, account.gid)
    return workdir, cleanup


def start_postgres(tmpdir: Path, *, bindir: Path | None = None) -> PostgresServer:
    """initdb a fresh cluster under ``tmpdir``, start it on a free loopback port and create ``vel_test``.

    Raises ServerUnavailable (saying what to install) when the binaries or the ``postgres`` user are
    missing, or with the server log when it does not come up.
    """
    binaries = find_postgres_bindir(bindir)
    account = _postgres_account()
    workdir, cleanup = _postgres_workdir(Path(tmpdir), account)
    server = PostgresServer(
        bindir=binaries,
        workdir=workdir,
        port=_free_port(),
        log_path=Path(tmpdir) / f"{workdir.name}.log",
        run_as=account,
        cleanup=cleanup,
    )
    try:
        server.initdb()
    except BaseException:
        server.close()
        raise
    return server


# --- Redis --------------------------------------------------------------------------------------------


class RedisServer(_Server):
    """A private redis-server without persistence; ``url`` points at database 0."""

    name = "redis-server"
    stop_signal = signal.SIGTERM  # graceful; with persistence off it saves nothing and exits at once

    def __init__(self, *, binary: Path, data_dir: Path, port: int, log_path: Path) -> None:
        super().__init__(port=port, log_path=log_path)
        self.binary = binary
        self.data_dir = data_dir

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        return [
            str(self.binary),
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir)),
            *("--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""),
        ]

    def _ready(self) -> bool:
        """Ready when the server answering on our port reports *our* process id.

        A bare PING could be answered by another server that took the port meanwhile, and would hide
        that ours failed to bind. Raw RESP keeps this free of client libraries.
        """
        if self._proc is None:
            return False
        try:
            info = _redis_info_server(self.port)
        except (OSError, ValueError):
            return False
        return f"\r\nprocess_id:{self._proc.pid}\r\n".encode() in info


def _redis_info_server(port: int) -> bytes:
    """The raw reply to ``INFO server`` (a RESP bulk string, or an error line such as -LOADING)."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
            header, newline, body = reply.partition(b"\r\n")
            if newline and (not header.startswith(b"$") or len(body) >= int(header[1:]) + 2):
                break
        return reply


def find_redis_server(binary: Path | None = None) -> Path:
    """The redis-server executable: ``binary`` if given, else PATH's, else Debian's (PATH may lack /usr/bin)."""
    candidate = binary or Path(shutil.which("redis-server") or "/usr/bin/redis-server")
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    raise ServerUnavailable(f"redis-server not found (looked for {candidate}): {REDIS_INSTALL_HINT}")


def start_redis(tmpdir: Path, *, binary: Path | None = None) -> RedisServer:
    """Start redis-server on a free loopback port with its files under ``tmpdir``; return once it answers."""
    executable = find_redis_server(binary)
    data_dir = Path(tempfile.mkdtemp(prefix="redis-", dir=tmpdir))
    return RedisServer(
        binary=executable, data_dir=data_dir, port=_free_port(), log_path=data_dir / "redis.log"
    ).started()
