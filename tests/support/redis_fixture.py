"""Debian's `redis-server` as a subprocess on a loopback port, for the tests that share state through it."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from hybrid.dev.servers import free_port


@dataclass
class RedisProcess:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return self.url_of(0)

    def url_of(self, db: int) -> str:
        """The URL of database `db`: a test that counts keys or clients uses one of its own."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url_of(db), socket_timeout=5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redis(log: Path, port: int | None = None) -> RedisProcess:
    """Start a redis-server that keeps nothing on disk, and wait until it answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is missing: `make test` installs it (apt-get install redis-server)")
    port = port or free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = RedisProcess(port=port, process=process, log=log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}:\n{log.read_text()}")
        try:
            server.client().ping()
            return server
        except redis.ConnectionError:
            time.sleep(0.02)
    server.stop()
    raise RuntimeError(f"redis-server did not start:\n{log.read_text()}")
