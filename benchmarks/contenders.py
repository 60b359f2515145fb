"""The contenders: how each is started (pinned to the server core), probed, measured and stopped."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import chat, procstat, tokens
from hybrid._chat.stream import CHAT_STREAM_PATH
from hybrid.dev.servers import free_port

SERVER_CPU = "0"
"""The core every server process runs on; the load generator takes the other one."""
LOADGEN_CPU = "1"

SECRET_KEY = "bench-only-not-a-secret"
"""HYBRID_SECRET_KEY of every contender (the chat scenarios sign tickets with it)."""
NO_LIMITS = {
    "HYBRID_CLIENT_STREAMS": "0",
    "HYBRID_CLIENT_RATE_PER_MINUTE": "0",
    "HYBRID_MAX_STREAMS": "0",
}
"""hybrid's admission limits, all off: from one loopback address every stream is "one client", and a
benchmark measures the server, not its refusals (S7 once ran into the per-client limit of 4)."""
GTHREAD_THREADS = 32
GEVENT_CONNECTIONS = 10_000
LOG_DIR = Path(os.environ.get("BENCH_LOG_DIR", "/tmp/hybrid-bench-logs"))

_PY = sys.executable
_BIN = Path(sys.executable).parent
_UVICORN = [
    _PY,
    "-m",
    "uvicorn",
    "--log-level",
    "warning",
    "--no-access-log",
    "--timeout-graceful-shutdown",
    "1",
]
_GUNICORN = [_PY, "-m", "gunicorn", "--workers", "1", "--log-level", "warning", "--timeout", "120"]


@dataclass(frozen=True)
class Contender:
    """One way to serve the benchmark's Dash app and token stream.

    `commands` are argument lists with `{stream}` and `{dash}` port placeholders; a contender with two
    services has two commands, and both run on the server core.
    """

    name: str
    label: str
    commands: tuple[tuple[str, ...], ...]
    two_services: bool = False
    serves_dash: bool = True
    max_streams: int | None = None
    """Streams it can serve at once by construction (threads), when that is a hard cap."""
    notes: str = ""
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = tokens.ACTIVE_PATH
    upstream: tuple[str, ...] = ()
    """A model server it proxies (on the load generator's core, not counted), `{upstream}` its port."""
    chat_path: str = ""
    """Where it streams a chat answer (S7, S9); empty: it streams the token source at `STREAM_PATH`."""
    tickets: bool = False
    """Its chat route takes signed tickets (hybrid's `/api/stream`) instead of the conversation."""
    resumable: bool = False
    """Its chat requests ask for resumable answers (`Hybrid-Resumable: 1`), as `hybrid.Chat`'s page does."""


def _uvicorn(target: str, *extra: str) -> tuple[str, ...]:
    return (*_UVICORN, *extra, "--host", "127.0.0.1", "--port", "{stream}", target)


def _gthread(target: str, port: str = "{stream}") -> tuple[str, ...]:
    return (*_GUNICORN, "-k", "gthread", "--threads", str(GTHREAD_THREADS), "-b", f"127.0.0.1:{port}", target)


def _gevent(target: str) -> tuple[str, ...]:
    connections = ("--worker-connections", str(GEVENT_CONNECTIONS))
    return (*_GUNICORN, "-k", "gevent", *connections, "-b", "127.0.0.1:{stream}", target)


def _proxy(base: Contender, name: str, label: str, command: tuple[str, ...]) -> Contender:
    """`base` serving `command` instead, streaming the simulator's answer through the openai SDK."""
    return dataclasses.replace(
        base,
        name=name,
        label=label,
        commands=(command,),
        env=chat.UPSTREAM_ENV,
        upstream=chat.SIMULATOR,
        chat_path=tokens.CHAT_PATH,
        notes=f"{base.notes}; the SDK's parsed chunks, one message per delta".lstrip("; "),
    )


def _hybrid_chat(name: str, label: str, target: str, notes: str, **kwargs: object) -> Contender:
    """hybrid's chat route (`POST /api/stream`, signed tickets) served by `target` on uvicorn."""
    return Contender(
        name,
        label,
        (_uvicorn(target, "--loop", "uvloop", "--http", "httptools"),),
        serves_dash=False,
        notes=notes,
        ready_path="/healthz",
        chat_path=CHAT_STREAM_PATH,
        tickets=True,
        **kwargs,  # type: ignore[arg-type]
    )


CONTENDERS: dict[str, Contender] = {
    c.name: c
    for c in (
        Contender(
            "raw", "raw ASGI floor (uvicorn)", (_uvicorn("benchmarks.apps.raw_asgi:app"),), serves_dash=False
        ),
        Contender(
            "hybrid",
            "hybrid (uvicorn, uvloop+httptools)",
            (_uvicorn("benchmarks.apps.hybrid_app:app", "--loop", "uvloop", "--http", "httptools"),),
        ),
        Contender(
            "hybrid-asyncio",
            "hybrid (uvicorn, asyncio+h11)",
            (_uvicorn("benchmarks.apps.hybrid_app:app", "--loop", "asyncio", "--http", "h11"),),
        ),
        Contender(
            "granian",
            "hybrid on granian",
            (
                (
                    str(_BIN / "granian"),
                    "--interface",
                    "asgi",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "{stream}",
                    "--workers",
                    "1",
                    "--backlog",
                    "2048",
                    "--backpressure",
                    str(GEVENT_CONNECTIONS),
                    "--loop",
                    "uvloop",
                    "--log-level",
                    "warning",
                    "benchmarks.apps.hybrid_app:app",
                ),
            ),
            notes=f"backlog 2048 as uvicorn's; backpressure {GEVENT_CONNECTIONS} requests (default 1024)",
        ),
        Contender(
            "werkzeug",
            "Flask, werkzeug threaded",
            ((_PY, "-m", "benchmarks.apps.flask_app", "{stream}"),),
            notes="one thread per connection",
        ),
        Contender(
            "gthread",
            f"Flask, gunicorn gthread-{GTHREAD_THREADS}",
            (_gthread("benchmarks.apps.flask_app:server"),),
            max_streams=GTHREAD_THREADS,
            notes=f"1 worker, {GTHREAD_THREADS} threads",
        ),
        Contender(
            "gevent",
            "Flask, gunicorn gevent",
            (_gevent("benchmarks.apps.flask_app:server"),),
            notes=f"1 worker, worker_connections={GEVENT_CONNECTIONS} (default 1000)",
        ),
        Contender(
            "two-services",
            "Dash on gthread + sse-starlette service",
            (
                _gthread("benchmarks.apps.flask_app:server", "{dash}"),
                _uvicorn("benchmarks.apps.sse_service:app"),
            ),
            two_services=True,
            notes=f"both on the server core; Dash: gthread-{GTHREAD_THREADS}",
        ),
        _hybrid_chat(
            "hybrid-local",
            "hybrid chat, tokens from inside the server",
            "benchmarks.apps.hybrid_chat:app",
            "the chat route and page; a provider yields the simulator's answer at its pace",
        ),
        _hybrid_chat(
            "hybrid-openai",
            "hybrid chat → openai provider → simulator",
            "hybrid.main:app",
            "the openai provider (AsyncOpenAI, raw response + jiter)",
            env=chat.UPSTREAM_ENV,
            upstream=chat.SIMULATOR,
        ),
        _hybrid_chat(
            "hybrid-resumable",
            "hybrid chat → openai provider, resumable (as hybrid.Chat asks)",
            "hybrid.main:app",
            "the openai provider; each answer in its buffer, numbered (the page's path since it resumes)",
            env=chat.UPSTREAM_ENV,
            upstream=chat.SIMULATOR,
            resumable=True,
        ),
        Contender(
            "dash-fastapi",
            'Dash(backend="fastapi") + StreamingResponse',
            (_uvicorn("benchmarks.apps.dash_fastapi:server"),),
        ),
    )
}
CONTENDERS.update(
    (proxy.name, proxy)
    for proxy in (
        _proxy(
            CONTENDERS["gevent"],
            "gevent-sdk",
            "Flask, gunicorn gevent + sync openai SDK",
            _gevent("benchmarks.apps.flask_proxy:server"),
        ),
        _proxy(
            CONTENDERS["gthread"],
            "gthread-sdk",
            f"Flask, gunicorn gthread-{GTHREAD_THREADS} + sync openai SDK",
            _gthread("benchmarks.apps.flask_proxy:server"),
        ),
        _proxy(
            CONTENDERS["dash-fastapi"],
            "dash-fastapi-sdk",
            'Dash(backend="fastapi") + AsyncOpenAI',
            _uvicorn("benchmarks.apps.dash_fastapi_proxy:server"),
        ),
    )
)


class Server:
    """A running contender: its processes (each in its own process group) and ports."""

    def __init__(self, contender: Contender) -> None:
        self.contender = contender
        self.stream_port = free_port()
        self.dash_port = free_port() if contender.two_services else self.stream_port
        self.upstream_port = free_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.upstream: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Server:
        ports = {"stream": self.stream_port, "dash": self.dash_port, "upstream": self.upstream_port}
        # a fixed ticket key: hybrid refuses a random per-process key when it runs several workers (granian)
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "HYBRID_SECRET_KEY": SECRET_KEY,
            "HYBRID_LOG_LEVEL": "warning",
            **NO_LIMITS,
        }
        env.update({k: v.format(**ports) for k, v in self.contender.env.items()})
        env.pop("SCRIPT_NAME", None)
        deadline = time.monotonic() + timeout
        if self.contender.upstream and self.upstream is None:
            self.upstream = _spawn(self.contender.upstream, ports, env, LOADGEN_CPU, "upstream")
            while not _tcp_open(self.upstream_port):
                if time.monotonic() > deadline or self.upstream.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the upstream of {self.contender.name} did not start")
                time.sleep(0.1)
        for index, command in enumerate(self.contender.commands):
            self.procs.append(_spawn(command, ports, env, SERVER_CPU, f"{self.contender.name}-{index}"))
        probes = {self.stream_port: self.contender.ready_path}
        if self.contender.serves_dash:
            probes[self.dash_port] = "/_dash-layout"
        for port, path in probes.items():
            while not _http_ok(port, path):
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                    self.stop()
                    raise RuntimeError(f"{self.contender.name} did not start (see {LOG_DIR})")
                time.sleep(0.1)
        return self

    def restart(self) -> None:
        """Stop and start the server processes (the upstream, if any, keeps running)."""
        self._stop(self.procs)
        self.procs = []
        self.start()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def sample(self) -> procstat.Sample:
        return procstat.sample(self.pids)

    def upstream_sample(self) -> procstat.Sample:
        """The upstream's process tree (it runs on the load generator's core); zero without one."""
        return procstat.sample([self.upstream.pid]) if self.upstream else procstat.Sample(0.0, 0, 0)

    def stream_sample(self) -> procstat.Sample:
        """The process tree that serves streams (the SSE service alone for two services)."""
        return procstat.sample(self.pids[-1:])

    def stop(self) -> None:
        self._stop([*self.procs, *([self.upstream] if self.upstream else [])])
        self.upstream = None

    @staticmethod
    def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            with contextlib.suppress(ProcessLookupError):  # stragglers (gunicorn, granian workers)
                os.killpg(proc.pid, signal.SIGKILL)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


SPAWNED: list[int] = []
"""Process group of every process this run started (each is its own group leader)."""


def _spawn(
    command: tuple[str, ...], ports: dict[str, int], env: dict[str, str], cpu: str, name: str
) -> subprocess.Popen[bytes]:
    """Start one process pinned to `cpu`, in its own process group, logging to `LOG_DIR/name.log`."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    argv = [a.format(**ports) for a in command]
    with open(LOG_DIR / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(
            ["taskset", "-c", cpu, *argv],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    SPAWNED.append(proc.pid)
    return proc


def _tcp_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _http_ok(port: int, path: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            return s.recv(64).startswith(b"HTTP/1.1 200") or False
    except OSError:
        return False
