"""Launchers for project-local services (mosquitto, PostgreSQL, anvil) on loopback, and the process
helpers that tests, benchmarks and the demo share."""

from gridx.services._proc import (
    cpu_seconds,
    free_port,
    gridx_command,
    run_tool,
    stop_process,
    wait_for_port,
    wait_until,
)
from gridx.services._stack import LocalStack, settings_env
from gridx.services.anvil import AnvilNode
from gridx.services.mosquitto import MosquittoBroker, ensure_pki
from gridx.services.postgres import PostgresServer, pg_flavor, remove_run_tree

__all__ = [
    "AnvilNode",
    "LocalStack",
    "MosquittoBroker",
    "PostgresServer",
    "cpu_seconds",
    "ensure_pki",
    "free_port",
    "gridx_command",
    "pg_flavor",
    "remove_run_tree",
    "run_tool",
    "settings_env",
    "stop_process",
    "wait_for_port",
    "wait_until",
]
