"""The confirmations setting is honoured: a lock counts only once that many blocks sit on top of
it, for an observer reading it and for a sender waiting on its own transaction."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from backend.payments import Evm, EvmLockState, EvmSettings, HtlcContracts, deploy_contracts
from gridx.services import AnvilNode

from .conftest import funded


def _locked(node: AnvilNode) -> tuple[HtlcContracts, bytes]:
    issuer = funded(node)
    fast = deploy_contracts(Evm(EvmSettings(node.url)), issuer, 60, 86_400)
    buyer, seller = funded(node), funded(node)
    fast.mint(issuer, buyer.address, 10)
    fast.approve(buyer, 10)
    lock_id = fast.lock(buyer, seller.address, 10, hashlib.sha256(os.urandom(32)).digest(), fast.evm.now() + 600)
    return fast, lock_id


def test_observer_sees_a_lock_only_after_confirmations(anvil: AnvilNode) -> None:
    fast, lock_id = _locked(anvil)  # automine: no block comes unless asked
    careful = HtlcContracts(Evm(EvmSettings(anvil.url, confirmations=3)), fast.thbc, fast.htlc)
    assert fast.get_lock(lock_id).state is EvmLockState.LOCKED
    for _ in range(2):
        assert careful.get_lock(lock_id).state is EvmLockState.NONE
        anvil.rpc("evm_mine")
    assert careful.get_lock(lock_id).state is EvmLockState.NONE
    anvil.rpc("evm_mine")
    assert careful.get_lock(lock_id).state is EvmLockState.LOCKED


def test_sender_waits_for_its_confirmations(tmp_path: Path) -> None:
    node = AnvilNode(tmp_path / "a", block_time=1).start()  # blocks keep coming, as on a live chain
    try:
        fast, _ = _locked(node)
        careful = HtlcContracts(Evm(EvmSettings(node.url, confirmations=2)), fast.thbc, fast.htlc)
        receipt = careful.approve(funded(node), 0)
        assert careful.evm.w3.eth.block_number >= receipt["blockNumber"] + 2
    finally:
        node.stop()
