"""Launchers for project-local services (mosquitto, PostgreSQL) on loopback."""

from gridx.services.mosquitto import MosquittoBroker, ensure_pki
from gridx.services.postgres import PostgresServer

__all__ = ["MosquittoBroker", "PostgresServer", "ensure_pki"]
