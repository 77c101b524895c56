"""``release_order``: the market authority can free the escrow of an order the engine removed,
but only into the owner's own token account (the program checks the destination), with the
rent to the owner: it cannot redirect either. Each attempt is refused with a named error
and moves nothing."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

import gridx.chain as c
from gridx.errors import ChainError
from tests.backend.api.conftest import SOL, UNIT, Stack, mint_grxe
from tests.helpers.gateway import wait_until


def test_authority_releases_escrow_only_to_the_owner(stack: Stack) -> None:
    a = stack.user("prosumer")
    mint_grxe(stack, a.keypair, [4 * UNIT])
    oid = a.sell(3 * UNIT, 11 * UNIT)["order_id"]
    keys = c.load_deployment(stack.keys).market_keys()
    authority = c.load_keypair(stack.keys / "market_authority.json")
    owner = Pubkey.from_string(a.wallet)
    stranger = Keypair()
    thief = c.ata_address(authority.pubkey(), keys.energy_mint)  # the authority's own GRXE account

    async def prepare(cl: object) -> None:
        await c.airdrop(cl, stranger.pubkey(), SOL)  # type: ignore[arg-type]
        ata = c.create_ata_ix(authority.pubkey(), authority.pubkey(), keys.energy_mint)
        await c.send_and_confirm(cl, [ata], [authority])  # type: ignore[arg-type]

    c.run_on_chain(stack.rpc_url, prepare)

    def release(signer: Keypair, **overrides: Pubkey) -> None:
        ix = c.build_release_order_ix(signer.pubkey(), keys, owner, oid, True, overrides)
        c.run_on_chain(stack.rpc_url, lambda cl: c.send_and_confirm(cl, [ix], [signer]))

    attacks = [
        ("escrow to the authority's account", authority, {"refund_account": thief}, "InvalidTokenAccount"),
        ("rent to the authority", authority, {"owner": authority.pubkey()}, "Unauthorized"),
        ("not the market authority", stranger, {}, "Unauthorized"),
    ]
    for what, signer, overrides, code in attacks:
        with pytest.raises(ChainError) as exc:
            release(signer, **overrides)
        assert exc.value.code == code, (what, exc.value)
    assert stack.chain_balance(a.wallet, "grxe") == 1 * UNIT  # 3 still escrowed
    assert c.run_on_chain(stack.rpc_url, lambda cl: c.token_balance(cl, thief)) == 0
    release(authority)  # the genuine release: back to the owner
    assert stack.chain_balance(a.wallet, "grxe") == 4 * UNIT
    assert c.run_on_chain(stack.rpc_url, lambda cl: c.fetch_account(cl, c.order_pda(owner, oid))) is None
    # the same OrderCancelled event as a cancel: the indexer closes the order, the book drops it
    wait_until(lambda: a.get_order(oid)["status"] == "cancelled", 20, "indexer saw the release")
    wait_until(lambda: all(lv["price"] != 11 * UNIT for lv in a.book()["asks"]), 10, "out of the book")
    assert stack.reconcile()["drift"] == 0
