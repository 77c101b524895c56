"""The processes ``gridx bench api`` drives: PostgreSQL, ``gridx chain node`` and ``gridx api
run`` under one directory, with the CPU each has spent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gridx.chain import run_on_chain

__all__ = ["BenchStack"]


class BenchStack:
    """PostgreSQL, ``gridx chain node`` and ``gridx api run`` as processes under one directory."""

    def __init__(self, base: Path, profile: bool = False, workers: int = 1) -> None:
        from gridx.chain import bootstrap
        from gridx.db import migrate
        from gridx.services import PostgresServer, free_port, gridx_command, wait_for_port

        self.base, self.keys = base, base / "keys"
        self.pg = PostgresServer(base / "pg").start()
        migrate(self.pg.dsn)
        port = free_port()
        self.node = subprocess.Popen(
            gridx_command("chain", "node", "--memory", "--port", str(port)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(port, self.node, 60)
        self.rpc = f"http://127.0.0.1:{port}"
        run_on_chain(self.rpc, lambda c: bootstrap(c, self.keys))
        self.api: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.profile, self.workers = profile, workers
        self.starts = 0

    def start_api(self, matcher: bool) -> None:
        from gridx.services import free_port, gridx_command, stop_process, wait_for_port

        if self.api is not None:
            stop_process(self.api, 120 if self.profile else 10)  # a profiled API writes its profile first
        port = free_port()
        env = {
            **os.environ,
            "GRIDX_API_DSN": self.pg.dsn,
            "GRIDX_API_RPC_URL": self.rpc,
            "GRIDX_API_KEYS_DIR": str(self.keys),
            "GRIDX_API_PORT": str(port),
            "GRIDX_API_DOMAIN": f"127.0.0.1:{port}",
            "GRIDX_API_URI": f"http://127.0.0.1:{port}",
            "GRIDX_API_FAUCET": "true",
            "GRIDX_API_MATCHER": str(matcher).lower(),
            "GRIDX_API_RATE_LIMIT_PER_MINUTE": "1000000",
            "GRIDX_SECRETS_DIR": str(self.base / "secrets"),
        }
        cmd = gridx_command("api", "run", "--workers", str(self.workers))
        if self.profile:  # cProfile of the whole API process: api-<n>.prof, written when it stops
            self.starts += 1
            prof = str(self.base / f"api-{self.starts}.prof")
            # uvicorn re-raises the SIGTERM it caught once it has shut down: as SystemExit here,
            # so cProfile still writes the profile
            # CPU time, not wall time: on a loaded machine wall time is mostly waiting for a core
            code = "\n".join(
                [
                    "import cProfile, signal, sys, time",
                    "from gridx.cli import main",
                    "sys.argv = ['gridx', 'api', 'run']",
                    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))",
                    "prof = cProfile.Profile(time.process_time)",
                    "try:",
                    "    prof.runcall(main)",
                    "except SystemExit:",
                    "    pass",
                    f"prof.dump_stats({prof!r})",
                ]
            )
            cmd = [sys.executable, "-c", code]
        with (self.base / "api.log").open("ab") as fh:
            self.api = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        wait_for_port(port, self.api, 60, self.base / "api.log")
        self.url = f"http://127.0.0.1:{port}"

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: the API processes (supervisor and workers), the engine (matcher,
        settler, indexer: 0 when they run inside a single API process), the chain node and the
        bench's own process."""
        from gridx.services import cpu_seconds

        tree = _descendants(self.api.pid) if self.api else []
        engine = [p for p in tree if b"engine" in _cmdline(p)]
        api = [p for p in tree if p not in engine]
        return {
            "api": cpu_seconds(*api),
            "engine": cpu_seconds(*engine),
            "node": cpu_seconds(self.node.pid),
            "client": time.process_time(),  # this process: the load generator shares the cores
        }

    def stop(self) -> None:
        from gridx.services import stop_process

        for p, wait_s in ((self.api, 120 if self.profile else 10), (self.node, 10)):
            if p is not None:
                stop_process(p, wait_s)
        self.pg.stop()

    def sql(self, query: str) -> Any:
        from gridx.db import connect

        with connect(self.pg.dsn, autocommit=True) as conn:
            return conn.execute(query).fetchone()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (uvicorn's workers, the engine)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out
