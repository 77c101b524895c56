"""Process helpers shared by the local service launchers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gridx.errors import ServiceError

__all__ = ["cpu_seconds", "free_port", "gridx_command", "run_tool", "stop_process", "wait_for_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise ServiceError(f"process exited with {proc.returncode} before listening on {port}: {tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def wait_until(cond: Callable[[], object], timeout: float, what: str, every: float = 0.2) -> None:
    """Poll ``cond`` until it holds; a ``TimeoutError`` that names ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def run_tool(cmd: list[str], what: str | None = None, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a setup tool (initdb, openssl, mosquitto_passwd) to completion.

    A failure raises ``ServiceError`` carrying the tool's own stderr: a bare
    ``CalledProcessError`` hides the one line that says what went wrong (a permission, a port).
    """
    name = what or Path(cmd[0]).name
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)
    except OSError as exc:
        raise ServiceError(f"{name} could not run: {exc}") from exc
    if done.returncode != 0:
        err = (done.stderr.strip() or done.stdout.strip())[-2000:]
        raise ServiceError(f"{name} failed with exit code {done.returncode}: {err}")
    return done


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def gridx_command(*args: str) -> list[str]:
    """``gridx ARGS`` from the same environment as the caller (benchmarks, demo, tests)."""
    return [str(Path(sys.executable).parent / "gridx"), *args]


def cpu_seconds(*pids: int) -> float:
    """CPU seconds (user + system) used so far by these processes; gone ones count 0."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total
