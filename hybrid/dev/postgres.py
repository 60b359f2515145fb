"""A throwaway Postgres for tests and benchmarks: Debian's server, run from `initdb` in a temporary
folder, listening on a loopback port, gone when stopped.

`make test` installs the server (`apt-get install postgresql`); `start_postgres` finds its programs on
the PATH or in `/usr/lib/postgresql/<version>/bin`. Postgres refuses to run as root: when the tests run
as root, the folder is handed to the `postgres` user the Debian package creates, and the server runs
as that user. Clients connect over TCP with a password (`url`), as an app would.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hybrid.dev.servers import free_port

USER = "hybrid"
PASSWORD = "hybrid-test-password"
FAST = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
"""Settings for tests: a crash of the machine may lose the database, which tests never keep."""


@dataclass
class PostgresServer:
    """A Postgres cluster in `folder`, served on `port` while started."""

    port: int
    folder: Path
    bin: Path
    settings: tuple[str, ...]
    process: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        """The plain URL of `database`, as users write `HYBRID_DATABASE_URL`."""
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one SQL statement with `psql` as the superuser; its output."""
        result = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", statement],
            env={**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": USER,
                 "PGPASSWORD": PASSWORD, "PGDATABASE": database},
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if result.returncode:
            raise RuntimeError(f"psql failed on {statement!r}: {result.stderr.strip()}")
        return result.stdout.strip()

    def create_database(self, name: str, *, template: str = "template1") -> str:
        """A new database (a copy of `template`); its URL."""
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def start(self) -> None:
        """Serve the cluster (again, after `halt`) and wait until it accepts connections."""
        argv = [
            str(self.bin / "postgres"), "-D", str(self.folder / "data"), "-p", str(self.port),
            "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", *self.settings,
        ]  # fmt: skip
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder, **_as(_unprivileged())
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{self.log()}")
            ready = [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
            if subprocess.run(ready, check=False).returncode == 0:
                return
            time.sleep(0.05)
        self.halt()
        raise RuntimeError(f"postgres did not start:\n{self.log()}")

    def halt(self) -> None:
        """Stop serving (a fast shutdown: clients are disconnected); the cluster stays for `start`."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Postgres' fast shutdown
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stop(self) -> None:
        """Stop serving and delete the cluster."""
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        return (self.folder / "server.log").read_text(errors="replace")


def postgres_bin() -> Path:
    """The folder of Postgres' programs: the PATH's `pg_ctl`, else Debian's newest installed version."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda path: int(path.parent.parent.name)
    )
    if not versions:
        raise RuntimeError("Postgres is missing: `make test` installs it (apt-get install postgresql)")
    return versions[-1].parent


def start_postgres(*, durable: bool = False) -> PostgresServer:
    """Create a cluster in a new temporary folder and start it on a free loopback port; wait until it
    accepts connections. `durable`: Postgres' default settings (each commit reaches the disk), for
    benchmarks; otherwise the tests' fast ones (`FAST`)."""
    bin = postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="hybrid-postgres-"))
    user = _unprivileged()
    (folder / "password").write_text(PASSWORD + "\n")
    if user is not None:
        for path in (folder, folder / "password"):
            os.chown(path, user.pw_uid, user.pw_gid)
    initdb = [
        str(bin / "initdb"), "-D", str(folder / "data"), "-U", USER, f"--pwfile={folder / 'password'}",
        "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync",
    ]  # fmt: skip
    done = subprocess.run(initdb, capture_output=True, text=True, check=False, cwd=folder, **_as(user))
    if done.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
    server = PostgresServer(port=free_port(), folder=folder, bin=bin, settings=() if durable else FAST)
    server.start()
    return server


def _as(user: pwd.struct_passwd | None) -> dict[str, int]:
    """`subprocess` arguments that run a program as `user` (None: as we are)."""
    return {"user": user.pw_uid, "group": user.pw_gid} if user else {}


def _unprivileged() -> pwd.struct_passwd | None:
    """The user to run Postgres as when we are root (it refuses to run as root); None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "running as root, Postgres needs the `postgres` user its package creates"
        ) from None
