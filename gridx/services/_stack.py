"""One local stack for the demo, the benchmarks and the tests: PostgreSQL, the broker and the
chain node on loopback in one work directory, and every other part started as its own
``gridx`` process with ``spawn()``.

Parts are configured the way an operator configures them, through their settings model's
environment variables; ``settings_env`` renders a validated settings object into that
environment, so a misspelt option fails before a process starts instead of being ignored.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from gridx.errors import ServiceError
from gridx.paths import ROOT
from gridx.services._proc import free_port, gridx_command, stop_process, wait_for_port
from gridx.services.anvil import AnvilNode
from gridx.services.mosquitto import MosquittoBroker
from gridx.services.postgres import PostgresServer

__all__ = ["LocalStack", "settings_env"]


def _env_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def settings_env(settings: BaseSettings) -> dict[str, str]:
    """The environment that makes a part load exactly ``settings`` (its ``env_prefix`` plus the
    field name); fields left at their defaults and ``None`` values are not written."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    env: dict[str, str] = {}
    for name in sorted(settings.model_fields_set):
        value = getattr(settings, name)
        if value is not None:
            env[f"{prefix}{name}".upper()] = _env_value(value)
    return env


@dataclass
class LocalStack:
    """Services in ``workdir``; children are stopped in reverse start order (producers first).

    ``pg_conf`` adds server settings; ``broker_users`` are created before the broker starts
    (their passwords in ``passwords``); ``chain`` starts the in-memory chain node."""

    workdir: Path
    postgres: bool = True
    broker: bool = True
    chain: bool = False
    pg_conf: dict[str, str] = field(default_factory=dict)
    broker_users: tuple[str, ...] = ("gateway",)
    pg_port: int | None = None  # None: a free port
    mqtt_port: int | None = None
    pg: PostgresServer | None = None
    mqtt: MosquittoBroker | None = None
    chain_url: str | None = None
    api_url: str | None = None
    anvil: AnvilNode | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    @property
    def dsn(self) -> str:
        if self.pg is None:
            raise ServiceError("this stack has no PostgreSQL")
        return self.pg.dsn

    def start(self) -> LocalStack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            if self.postgres:
                self.pg = PostgresServer(
                    self.workdir / "pg", port=self.pg_port or free_port(), extra_conf=self.pg_conf
                ).start()
            if self.broker:
                self.mqtt = MosquittoBroker(self.workdir / "mosquitto", port=self.mqtt_port or free_port())
                self.passwords = {u: self.mqtt.add_user(u) for u in self.broker_users}
                self.mqtt.start()
            if self.chain:
                port = free_port()
                node = self.spawn("chain-node", "chain", "node", "--memory", "--port", str(port))
                wait_for_port(port, node, 60, self.workdir / "chain-node.log")
                self.chain_url = f"http://127.0.0.1:{port}"
        except BaseException:
            self.stop()
            raise
        return self

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """``gridx ARGS`` as its own process, output in ``<workdir>/<name>.log``."""
        with (self.workdir / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                gridx_command(*args), env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )
        self.children.append((name, proc))
        return proc

    def start_api(self, keys_dir: Path, **env: str) -> str:
        """``gridx api run`` (uvicorn, with its matcher and indexer) on this stack's database and
        chain, with the chain keys a bootstrap wrote to ``keys_dir``; ``env`` adds ``GRIDX_API_*``
        settings. Returns its base URL once it listens."""
        if self.chain_url is None:
            raise ServiceError("the API needs the stack's chain node (chain=True)")
        port = free_port()
        base = {
            "GRIDX_API_DSN": self.dsn,
            "GRIDX_API_RPC_URL": self.chain_url,
            "GRIDX_API_KEYS_DIR": str(keys_dir),
            "GRIDX_API_PORT": str(port),
            "GRIDX_API_DOMAIN": f"127.0.0.1:{port}",
            "GRIDX_API_URI": f"http://127.0.0.1:{port}",
        }
        proc = self.spawn("api", "api", "run", env={**base, **env})
        wait_for_port(port, proc, 60, self.workdir / "api.log")
        self.api_url = f"http://127.0.0.1:{port}"
        return self.api_url

    def start_anvil(self) -> AnvilNode:
        """The EVM node (anvil) in ``<workdir>/anvil``; stopped with the stack."""
        self.anvil = AnvilNode(self.workdir / "anvil").start()
        return self.anvil

    def check_alive(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None:
                raise ServiceError(f"{name} exited with {proc.returncode}; see {self.workdir / (name + '.log')}")

    def stop_children(self, keep: tuple[str, ...] = ()) -> None:
        for name, proc in reversed(self.children):
            if name not in keep:
                stop_process(proc, timeout=20)

    def stop(self) -> None:
        self.stop_children()
        if self.anvil is not None:
            self.anvil.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.pg is not None:
            self.pg.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
