"""Fixtures for the THB payment leg: a real anvil on loopback, our contracts deployed on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from backend.payments import Evm, EvmSettings, HtlcContracts, deploy_contracts
from gridx.services import AnvilNode

ETH = 10**18


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    node = AnvilNode(tmp_path_factory.mktemp("anvil")).start()
    yield node
    node.stop()


def funded(node: AnvilNode) -> LocalAccount:
    acct: LocalAccount = Account.create()
    node.fund(acct.address, 10 * ETH)
    return acct


@pytest.fixture(scope="module")
def issuer(anvil: AnvilNode) -> LocalAccount:
    return funded(anvil)


@pytest.fixture(scope="module")
def contracts(anvil: AnvilNode, issuer: LocalAccount) -> HtlcContracts:
    return deploy_contracts(Evm(EvmSettings(anvil.url)), issuer, min_duration_s=60, max_duration_s=86_400)
