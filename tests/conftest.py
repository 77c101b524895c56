"""Shared fixtures: real services on loopback, project-local, started by the tests themselves."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gridx.paths import ROOT
from gridx.services import MosquittoBroker, PostgresServer

RUN = Path(os.environ.get("GRIDX_TEST_RUN_DIR", ROOT / ".run" / "pytest"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster per test session (a test that stops it must start it again)."""
    RUN.mkdir(parents=True, exist_ok=True)
    server = PostgresServer(RUN / f"pg-{os.getpid()}").start()
    yield server
    # a new cluster per session (its name has our pid): nothing may stay behind, under /tmp
    # either, where a clone under /root keeps it (~48 MB a session)
    server.stop(discard=True)


@pytest.fixture
def pg_dsn(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = pg_server.dsn.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.dsn.rsplit("/", 1)[0] + f"/{name}"
    if pg_server.proc is not None:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A fresh TLS mosquitto with a ``gateway`` user; add edges with ``broker.add_user``."""
    b = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"))
    b.add_user("gateway")
    b.start()
    yield b
    b.stop()
