"""A project-local PostgreSQL cluster on loopback, for tests, benchmarks and the demo.

It never touches the system cluster: its data directory lives under ``.run/`` and it listens
on 127.0.0.1 at a port of our choosing. PostgreSQL refuses to run as root, so when we are root
the cluster runs as the ``postgres`` system user that the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gridx.errors import ServiceError
from gridx.services._proc import free_port, stop_process, wait_for_port

__all__ = ["PostgresServer", "pg_bindir"]

DB_USER = "gridx"
DB_NAME = "gridx"


def pg_bindir() -> Path:
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(cand, "postgres").exists():
            return Path(cand)
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise ServiceError("PostgreSQL server binaries not found; run `make setup`")


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class PostgresServer:
    datadir: Path
    port: int = field(default_factory=free_port)
    extra_conf: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    @property
    def log_path(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}.log"

    def init(self) -> None:
        """Create the cluster once; later calls reuse it (idempotent)."""
        if (self.datadir / "PG_VERSION").exists():
            return
        self.datadir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.datadir, "postgres", "postgres")
        self.datadir.chmod(0o700)
        subprocess.run(
            _as_owner(
                [
                    str(pg_bindir() / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    DB_USER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def start(self, timeout: float = 30.0) -> PostgresServer:
        self.init()
        conf = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
            "fsync": "off",  # a test cluster survives process crashes, not power loss
            "max_connections": "200",
            "shared_buffers": "256MB",
            **self.extra_conf,
        }
        args = [str(pg_bindir() / "postgres"), "-D", str(self.datadir), "-p", str(self.port)]
        for k, v in conf.items():
            args += ["-c", f"{k}={v}"]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(_as_owner(args), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, self.proc, timeout, self.log_path)
        self._ensure_db(timeout)
        return self

    def _ensure_db(self, timeout: float) -> None:
        import time

        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(f"postgresql://{DB_USER}@127.0.0.1:{self.port}/postgres", autocommit=True) as c:
                    if c.execute("SELECT 1 FROM pg_database WHERE datname=%s", (DB_NAME,)).fetchone() is None:
                        c.execute(f'CREATE DATABASE "{DB_NAME}"')
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                stop_process(self.proc)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would."""
        if self.proc is not None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
            self.proc = None
