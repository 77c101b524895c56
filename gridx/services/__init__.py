"""Launchers for project-local services (mosquitto, PostgreSQL, anvil) on loopback."""

from gridx.services.anvil import AnvilNode
from gridx.services.mosquitto import MosquittoBroker, ensure_pki
from gridx.services.postgres import PostgresServer

__all__ = ["AnvilNode", "MosquittoBroker", "PostgresServer", "ensure_pki"]
