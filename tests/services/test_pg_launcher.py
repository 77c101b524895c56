"""The PostgreSQL launcher works from any clone location and says why when it cannot."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from gridx.errors import ServiceError
from gridx.services import PostgresServer, run_tool


def test_a_failing_tool_reports_its_own_stderr() -> None:
    with pytest.raises(ServiceError, match=r"sh failed with exit code 3: no such thing here"):
        run_tool(["sh", "-c", "echo 'no such thing here' >&2; exit 3"])


def test_a_missing_tool_is_a_service_error() -> None:
    with pytest.raises(ServiceError, match="could not run"):
        run_tool(["/nonexistent/gridx-tool"])


def test_initdb_failure_carries_initdb_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # run from a 0700 directory, as from a clone under /root: the tool's own error comes
    # through, not a complaint about our working directory
    tmp_path.chmod(0o700)
    monkeypatch.chdir(tmp_path)
    datadir = Path(tempfile.mkdtemp(prefix="gridx-pg-test-"))  # reachable: /tmp is world-searchable
    try:
        (datadir / "stray-file").write_text("not a cluster")
        with pytest.raises(ServiceError, match=r"(?s)initdb failed .*not empty") as caught:
            PostgresServer(datadir).init()
        assert "could not change directory" not in str(caught.value)
    finally:
        shutil.rmtree(datadir)


@pytest.mark.skipif(os.geteuid() != 0, reason="the cluster runs as another user only when we are root")
def test_cluster_starts_when_the_clone_is_under_a_0700_directory(tmp_path: Path) -> None:
    home = tmp_path / "root-like-home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)  # like /root: the postgres user cannot traverse it
    server = PostgresServer(home / "clone" / ".run" / "pg")
    try:
        server.start()
        with psycopg.connect(server.dsn) as conn:
            assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
        assert server.datadir.is_symlink()
        real = server.datadir.resolve()
        assert real.stat().st_uid != 0 and (real / "PG_VERSION").exists()
    finally:
        server.stop()
        if server.datadir.is_symlink():
            shutil.rmtree(server.datadir.resolve(), ignore_errors=True)


def test_discard_removes_the_cluster_it_created_and_keeps_a_reused_one(tmp_path: Path) -> None:
    datadir = tmp_path / "pg"
    first = PostgresServer(datadir).start()
    first.stop()  # a plain stop keeps the cluster: a test may start it again
    assert (datadir / "PG_VERSION").exists()
    reuser = PostgresServer(datadir).start()  # found it there: not its to remove
    reuser.stop(discard=True)
    assert (datadir / "PG_VERSION").exists()
    first.start()
    first.stop(discard=True)
    assert not datadir.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the cluster is relocated only when it runs as another user")
def test_discard_removes_the_relocated_temp_directory_and_its_symlink(tmp_path: Path) -> None:
    home = tmp_path / "root-like-home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)  # like /root: the cluster moves to $TMPDIR/gridx-pg-<hash>
    server = PostgresServer(home / "clone" / ".run" / "pg")
    server.start()
    real = server.datadir.resolve()
    try:
        assert real.parent == Path(tempfile.gettempdir()).resolve() and real.name.startswith("gridx-pg-")
        neighbour = Path(tempfile.mkdtemp(prefix="gridx-pg-", dir=real.parent))  # another session's
        server.stop(discard=True)
        assert not real.exists() and not server.datadir.is_symlink() and not server.datadir.exists()
        assert neighbour.is_dir()
        neighbour.rmdir()
    finally:
        server.stop()
        if real.exists():
            shutil.rmtree(real, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the cluster runs as another user only when we are root")
@pytest.mark.parametrize("clone_mode", [0o755, 0o700], ids=["clone-0755", "clone-0700"])
def test_clone_in_a_sticky_world_writable_directory_like_tmp(clone_mode: int) -> None:
    """A clone under /tmp (1777, sticky): a 0755 clone keeps its cluster in .run, a 0700 one
    (umask 077) has it relocated; either way the cluster starts and discard leaves nothing."""
    shared = Path(tempfile.mkdtemp(prefix="gridx-sticky-"))  # directly under the real temp dir
    shared.chmod(0o1777)
    clone = shared / "ci"
    clone.mkdir()
    clone.chmod(clone_mode)
    server = PostgresServer(clone / ".run" / "pytest" / "pg-1")
    try:
        server.start()
        with psycopg.connect(server.dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert server.datadir.is_symlink() == (clone_mode == 0o700)
        real = server.datadir.resolve()
        server.stop(discard=True)
        assert not real.exists() and not server.datadir.exists() and not server.datadir.is_symlink()
    finally:
        server.stop()
        shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the cluster runs as another user only when we are root")
def test_a_relocated_directory_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    """The link points at a directory another user owns (made or swapped in by them): refused,
    by name, before anything is chowned or started there."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    foreign = Path(tempfile.mkdtemp(prefix="gridx-pg-"))
    os.chown(foreign, 65534, 65534)  # nobody
    datadir = home / ".run" / "pg"
    datadir.parent.mkdir(parents=True)
    datadir.symlink_to(foreign, target_is_directory=True)
    try:
        with pytest.raises(ServiceError, match=r"is not ours \(uid 65534\)"):
            PostgresServer(datadir).init()
        assert foreign.stat().st_uid == 65534 and not any(foreign.iterdir())
    finally:
        shutil.rmtree(foreign)


@pytest.mark.skipif(os.geteuid() != 0, reason="the cluster is relocated only when it runs as another user")
def test_removing_a_run_directory_removes_its_relocated_cluster_only(tmp_path: Path) -> None:
    """What the demo and the benches do before a fresh run: the old relocated cluster goes with
    the run directory (rmtree alone drops only the link); what other links point at stays."""
    from gridx.services import remove_run_tree

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    run = home / "clone" / ".run" / "demo"
    server = PostgresServer(run / "pg").start()
    server.stop()
    real = (run / "pg").resolve()
    keep = Path(tempfile.mkdtemp(prefix="gridx-keep-"))  # a link to something that is not a cluster
    (run / "elsewhere").symlink_to(keep, target_is_directory=True)
    try:
        remove_run_tree(run)
        assert not run.exists() and not real.exists() and keep.is_dir()
        remove_run_tree(run)  # nothing there: nothing to do
    finally:
        shutil.rmtree(real, ignore_errors=True)
        shutil.rmtree(keep)
