"""The local-stack helper: services up, parts spawned as ``gridx`` processes, a dead part named
with its log, everything stopped in reverse order."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg
import pytest

from gridx.errors import ServiceError
from gridx.services import LocalStack


def test_a_stack_runs_parts_on_the_shared_vocabulary_and_names_a_dead_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDX_") or k == "GRIDX_PG_FLAVOR"}
    stack = LocalStack(tmp_path / "stack", broker_users=("gateway", "edge-1"))
    try:
        _run_stack(stack, env)
    finally:
        datadir = tmp_path / "stack" / "pg"
        if datadir.is_symlink():  # relocated out of pytest's 0700 tmp dir: remove it too
            shutil.rmtree(datadir.resolve(), ignore_errors=True)


def _run_stack(stack: LocalStack, env: dict[str, str]) -> None:
    with stack:
        assert stack.mqtt is not None and set(stack.passwords) == {"gateway", "edge-1"}
        # one vocabulary: a part finds the database through GRIDX_DSN
        migrate = stack.spawn("migrate", "db", "migrate", env={**env, "GRIDX_DSN": stack.dsn})
        assert migrate.wait(120) == 0, (stack.workdir / "migrate.log").read_text()
        with psycopg.connect(stack.dsn) as conn:
            assert conn.execute("SELECT count(*) > 0 FROM schema_migrations").fetchone() == (True,)
        stack.children.clear()
        broken = stack.spawn("broken", "db", "migrate", env={**env, "GRIDX_DSN": "postgresql://127.0.0.1:1/none"})
        broken.wait(120)
        with pytest.raises(ServiceError, match=r"broken exited with 1; see .*broken\.log"):
            stack.check_alive()
    assert stack.pg is not None and stack.pg.proc is None
    assert stack.mqtt.proc is None
