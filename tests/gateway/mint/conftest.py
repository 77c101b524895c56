"""The mint-path tests' chain: a local node (in this process) bootstrapped with the three
programs, meters enrolled on chain and mirrored in the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gridx.chain import LocalNode, NodeConfig
from tests.helpers.gateway import setup_db
from tests.helpers.mint import ChainSetup, bootstrap_chain


@pytest.fixture
def node() -> Iterator[LocalNode]:
    n = LocalNode.start(NodeConfig())
    yield n
    n.stop()


@pytest.fixture
def chain(node: LocalNode, pg_dsn: str, tmp_path: Path) -> ChainSetup:
    setup_db(pg_dsn)
    return bootstrap_chain(node.url, tmp_path / "keys", pg_dsn, node)
