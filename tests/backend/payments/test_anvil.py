"""The project-local anvil: installed by setup, on loopback, empty of dev accounts, restartable."""

from __future__ import annotations

from eth_account import Account

from backend.payments import Evm, EvmSettings
from gridx.services import AnvilNode
from gridx.services.anvil import LOCAL_CHAIN_ID


def test_anvil_serves_json_rpc_without_public_dev_keys(anvil: AnvilNode) -> None:
    evm = Evm(EvmSettings(anvil.url))
    assert evm.chain_id == LOCAL_CHAIN_ID
    # no funded well-known accounts: the anvil default mnemonic's keys are public
    assert evm.w3.eth.accounts == []


def test_anvil_restart_keeps_the_chain(tmp_path) -> None:
    node = AnvilNode(tmp_path / "a").start()
    try:
        addr = Account.create().address
        node.fund(addr, 12345)
        node.rpc("evm_mine")
        node.restart()
        assert Evm(EvmSettings(node.url)).w3.eth.get_balance(addr) == 12345
    finally:
        node.stop()
