"""A project-local PostgreSQL cluster on loopback, for tests, benchmarks and the demo.

It never touches the system cluster: its data directory lives under ``.run/`` and it listens
on 127.0.0.1 at a port of our choosing. PostgreSQL refuses to run as root, so when we are root
the cluster runs as the ``postgres`` system user that the Debian package creates. That user
cannot reach a clone under a 0700 directory (``/root``), so then the cluster's data lives in a
directory of its own under the system temp dir (``gridx-pg-<random>``, made by mkdtemp: safe in a
shared sticky /tmp) and ``datadir`` is a symlink to it. A throwaway
cluster (a test session's) is removed with ``stop(discard=True)``: only what that server created.

Flavor (``GRIDX_PG_FLAVOR``): ``timescaledb`` preloads TimescaleDB and fails when it is not
installed (``scripts/setup_timescaledb.sh`` builds it); ``plain`` never loads it; unset loads
it when installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gridx.errors import ServiceError
from gridx.services._proc import free_port, run_tool, stop_process, wait_for_port

__all__ = ["PostgresServer", "pg_bindir", "pg_flavor", "remove_run_tree"]

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


def _timescaledb_installed(bindir: Path) -> bool:
    return (bindir.parent / "lib" / "timescaledb.so").exists()


def pg_flavor() -> str:
    """``timescaledb`` or ``plain``: what a new server will run (see the module doc)."""
    wanted = os.environ.get("GRIDX_PG_FLAVOR", "")
    if wanted not in ("", "plain", "timescaledb"):
        raise ServiceError(f"GRIDX_PG_FLAVOR must be 'plain' or 'timescaledb', not {wanted!r}")
    if wanted == "plain":
        return "plain"
    if _timescaledb_installed(pg_bindir()):
        return "timescaledb"
    if wanted == "timescaledb":
        raise ServiceError("GRIDX_PG_FLAVOR=timescaledb but TimescaleDB is missing (scripts/setup_timescaledb.sh)")
    return "plain"


def _owner_can_reach(directory: Path) -> bool:
    """Whether the ``postgres`` user can traverse to ``directory`` (a 0700 ancestor stops it)."""
    probe = _as_owner(["test", "-x", str(directory)])
    return subprocess.run(probe, capture_output=True, check=False, cwd="/").returncode == 0


def _cluster_dir(datadir: Path) -> tuple[Path, bool]:
    """Where the cluster's files really live (``datadir`` itself when its owner can reach it),
    and whether that directory was made just now."""
    if datadir.is_symlink():
        real = datadir.resolve()
        if not real.exists():  # the temp dir was cleaned (a reboot): start over in a new one
            datadir.unlink()
            return _relocate(datadir), True
        _check_relocated(real)
        return real, False
    if os.geteuid() != 0:
        return datadir, False
    datadir.parent.mkdir(parents=True, exist_ok=True)
    if _owner_can_reach(datadir.parent):
        return datadir, False
    if datadir.exists():
        if any(datadir.iterdir()):
            raise ServiceError(f"{datadir} is not reachable by the postgres user (0700 parent); remove it to relocate")
        datadir.rmdir()
    return _relocate(datadir), True


def _relocate(datadir: Path) -> Path:
    """A new directory under the temp dir for the cluster, ``datadir`` a symlink to it. mkdtemp
    makes it atomically, 0700, ours, under a name nobody can guess: in a shared sticky /tmp no
    other user can have made it first or pointed it elsewhere (we chown it to postgres next)."""
    real = Path(tempfile.mkdtemp(prefix="gridx-pg-"))
    datadir.symlink_to(real, target_is_directory=True)
    return real


def _check_relocated(real: Path) -> None:
    """A relocated cluster is reused only if it is still a directory of root's or postgres'."""
    import pwd

    st = real.stat()
    owners = {0, pwd.getpwnam("postgres").pw_uid} if os.geteuid() == 0 else {os.geteuid()}
    if not real.is_dir() or st.st_uid not in owners:
        raise ServiceError(f"{real} (the cluster's relocated data) is not ours (uid {st.st_uid}); remove the link")


def remove_run_tree(path: Path) -> None:
    """``shutil.rmtree`` for a run directory (a demo's, a bench's) that may hold a relocated
    cluster: its ``gridx-pg-*`` temp directory goes too, where rmtree alone would drop only the
    link and leave ~48 MB behind in the temp dir on every run. Stop the cluster first."""
    if not path.exists():
        return
    tmp = Path(tempfile.gettempdir()).resolve()
    for top, dirs, files in os.walk(path):  # links are listed, never followed
        for name in dirs + files:
            link = Path(top, name)
            if link.is_symlink():
                real = link.resolve()
                if real.parent == tmp and real.name.startswith("gridx-pg-") and real.is_dir():
                    shutil.rmtree(real)
    shutil.rmtree(path)


_TIMESCALEDB_CONF = {
    "shared_preload_libraries": "timescaledb",
    "timescaledb.telemetry_level": "off",
    # one scheduler per database with the extension: the tests create many databases
    "max_worker_processes": "32",
    "timescaledb.max_background_workers": "24",
}


@dataclass
class PostgresServer:
    datadir: Path
    port: int = field(default_factory=free_port)
    extra_conf: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    flavor: str = field(default_factory=pg_flavor)
    # the cluster directory this server created (initdb), and so may remove; never one it reused
    _created: Path | None = field(default=None, init=False, repr=False)

    @property
    def dsn(self) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    @property
    def log_path(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}.log"

    def init(self) -> None:
        """Create the cluster once; later calls reuse it (idempotent)."""
        data, fresh = _cluster_dir(self.datadir)
        if (data / "PG_VERSION").exists():
            return
        if fresh or not data.exists():
            self._created = data
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        data.chmod(0o700)
        initdb = [str(pg_bindir() / "initdb"), "-D", str(data), "-U", DB_USER, "--auth=trust", "-E", "UTF8"]
        # cwd "/": the postgres user may not be allowed into ours (a clone under /root)
        run_tool(_as_owner([*initdb, "--no-instructions"]), what="initdb", cwd="/")

    def start(self, timeout: float = 30.0) -> PostgresServer:
        self.init()
        conf = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
            "fsync": "off",  # a test cluster survives process crashes, not power loss
            "max_connections": "200",
            "shared_buffers": "256MB",
            **(_TIMESCALEDB_CONF if self.flavor == "timescaledb" else {}),
            **self.extra_conf,
        }
        args = [str(pg_bindir() / "postgres"), "-D", str(_cluster_dir(self.datadir)[0]), "-p", str(self.port)]
        for k, v in conf.items():
            args += ["-c", f"{k}={v}"]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            _as_owner(args), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd="/"
        )
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

    def stop(self, *, discard: bool = False) -> None:
        """Stop the server; ``discard`` also removes the cluster's files if this server created
        them (a relocated cluster's temp directory with its symlink), so a throwaway cluster
        leaves nothing behind. A cluster it found already there is never removed."""
        if self.proc is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                stop_process(self.proc)
            self.proc = None
        if discard and self._created is not None:
            shutil.rmtree(self._created)
            if self.datadir.is_symlink() and self.datadir.resolve() == self._created.resolve():
                self.datadir.unlink()
            self._created = None

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would."""
        if self.proc is not None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
            self.proc = None
