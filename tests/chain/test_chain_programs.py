"""The three SBF programs in LiteSVM (no RPC): every instruction works, and every attack fails
with its named error and leaves every token balance and supply unchanged."""

from __future__ import annotations

import pytest

import gridx.chain as c
from tests.helpers.chain import EDGE, RATED_W, T0, World, assert_refused, build_world

MAX_PER_WINDOW = RATED_W * 900 * 1000 // 3600  # 1,250,000 base units


@pytest.fixture
def w() -> World:
    return build_world()


# ---------------------------------------------------------------- instructions work
def test_registry_accounts(w: World) -> None:
    cfg = w.svm.decoded("registry", c.registry_config_pda())
    assert cfg.authority == w.authority.pubkey() and cfg.user_count == 2 and cfg.meter_count == 1
    m = w.svm.decoded("registry", c.meter_pda(w.meter))
    assert (m.owner, m.rated_power_w, m.status) == (w.prosumer.pubkey(), RATED_W, c.METER_ACTIVE)
    assert bytes(m.edge_id).rstrip(b"\0") == b"edge-1"
    assert w.svm.decoded("registry", c.user_pda(w.consumer.pubkey())).user_type == c.CONSUMER


def test_mint_builder_matches_anchorpy_encoding(w: World) -> None:
    """mint_readings data is packed by hand (hot path): the same bytes as anchorpy's encoder."""
    from gridx.chain._idl import idl_program

    readings = [w.meter_chain.reading(T0, 10), w.meter_chain.reading(T0 + 900, 20)]
    _, ix = w.mint_ixs(readings)
    ref = idl_program("energy_token").coder.instruction.encode(
        "mint_readings", {"readings": [r.canonical for r in readings]}
    )
    assert bytes(ix.data) == ref


def test_several_windows_in_one_transaction(w: World) -> None:
    res = w.svm.send(w.mint_ixs([w.meter_chain.reading(T0 + i * 900, 1_000 + i) for i in range(4)]), [w.gateway])
    (ev,) = c.decode_events(res.logs)
    assert ev.name == "TokensMinted" and (ev.data.window_start, ev.data.windows) == (T0, 4)
    assert ev.data.minter == w.gateway.pubkey() and ev.data.owner == w.prosumer.pubkey()
    assert w.svm.balance(c.ata_address(w.prosumer.pubkey(), w.grxe)) == 4_006_000
    st = w.svm.decoded("energy_token", c.mint_state_pda(w.meter))
    assert (st.minted_total, st.windows_minted, st.last_seq) == (4_006_000, 4, 4)  # type: ignore[attr-defined]
    cfg = w.svm.decoded("energy_token", c.token_config_pda())
    assert cfg.total_minted == 4_006_000


def test_mint_at_the_limit(w: World) -> None:
    w.svm.send(w.mint(T0, MAX_PER_WINDOW // 1000), [w.gateway])
    assert w.svm.balance(c.ata_address(w.prosumer.pubkey(), w.grxe)) == MAX_PER_WINDOW


def test_set_status_and_rotate_authority(w: World) -> None:
    w.svm.send([c.build_set_meter_status_ix(w.authority.pubkey(), w.meter, c.METER_REVOKED)], [w.authority])
    assert w.svm.decoded("registry", c.meter_pda(w.meter)).status == c.METER_REVOKED
    w.svm.send([c.build_set_meter_status_ix(w.authority.pubkey(), w.meter, c.METER_ACTIVE)], [w.authority])
    w.svm.send(w.mint(T0, 1), [w.gateway])
    new = w.svm.funded()
    w.svm.send([c.build_propose_authority_ix(w.authority.pubkey(), new.pubkey())], [w.authority])
    w.svm.send([c.build_accept_authority_ix(new.pubkey())], [new])
    assert w.svm.decoded("registry", c.registry_config_pda()).authority == new.pubkey()
    assert_refused(w, "Unauthorized", [c.build_set_meter_status_ix(w.authority.pubkey(), w.meter, 1)], [w.authority])


def test_trade_cancel_and_fill(w: World) -> None:
    seller, buyer, m = w.prosumer, w.consumer, w.market
    w.svm.send(w.mint_ixs([w.meter_chain.reading(T0 + i * 900, 1_200) for i in range(2)]), [w.gateway])
    w.svm.send([c.build_create_sell_order_ix(seller.pubkey(), m, 1, 2_000_000, 400_000)], [seller])
    assert w.svm.balance(m.energy_vault) == 2_000_000
    w.svm.send([c.build_create_buy_order_ix(buyer.pubkey(), m, 7, 1_500_000, 500_000)], [buyer])
    assert w.svm.balance(m.payment_vault) == 750_000  # ceil(1.5 * 500_000)
    res = w.svm.send(
        [c.build_match_order_ix(w.market_auth.pubkey(), m, seller.pubkey(), 1, buyer.pubkey(), 7, 1_500_000)],
        [w.market_auth],
    )
    (ev,) = c.decode_events(res.logs)
    assert ev.name == "TradeExecuted" and ev.data.payment == 600_000 and ev.data.fee == 1_500  # 25 bps
    assert w.svm.balance(c.ata_address(buyer.pubkey(), w.grxe)) == 1_500_000
    assert w.svm.balance(c.ata_address(seller.pubkey(), m.payment_mint)) == 598_500
    assert w.svm.balance(m.fee_account) == 1_500
    assert w.svm.balance(c.ata_address(buyer.pubkey(), m.payment_mint)) == 1_000_000_000 - 600_000  # leftover refunded
    assert w.svm.data(c.order_pda(buyer.pubkey(), 7)) is None  # filled: closed
    w.svm.send([c.build_cancel_order_ix(seller.pubkey(), m, 1, is_sell=True)], [seller])
    assert w.svm.balance(c.ata_address(seller.pubkey(), w.grxe)) == 2_400_000 - 1_500_000
    assert w.svm.balance(m.energy_vault) == 0


def test_identical_refused_transaction_is_refused_again(w: World) -> None:
    """A preflight rejection leaves no trace: the same signed bytes fail the same way again."""
    w.svm.send(w.mint(T0, 1), [w.gateway])
    blockhash, _ = w.svm.chain.latest_blockhash()
    tx = c.build_tx(w.mint(T0, 2), [w.gateway], blockhash)
    assert w.svm.chain.send(tx).err == {"InstructionError": [1, {"Custom": 6016}]}  # WindowAlreadyMinted
    assert w.svm.chain.send(tx).err == {"InstructionError": [1, {"Custom": 6016}]}


def test_remove_minter(w: World) -> None:
    w.svm.send([c.build_remove_minter_ix(w.admin.pubkey(), w.gateway.pubkey(), EDGE)], [w.admin])
    assert w.svm.data(c.minter_pda(w.gateway.pubkey(), EDGE)) is None
    assert_refused(w, "NotMinter", w.mint(T0, 1), [w.gateway])


def test_buy_order_cancel_refunds_escrow(w: World) -> None:
    m, buyer = w.market, w.consumer
    pay = c.ata_address(buyer.pubkey(), m.payment_mint)
    res = w.svm.send([c.build_create_buy_order_ix(buyer.pubkey(), m, 3, 1_234_567, 333_333)], [buyer])
    (created,) = c.decode_events(res.logs)
    escrow = -(-1_234_567 * 333_333 // 1_000_000)  # ceil
    assert created.name == "OrderCreated" and created.data.escrow == escrow and created.data.side == 1
    order = w.svm.decoded("trading", c.order_pda(buyer.pubkey(), 3))
    assert (order.remaining, order.escrow_remaining, order.owner) == (1_234_567, escrow, buyer.pubkey())
    assert w.svm.balance(pay) == 1_000_000_000 - escrow
    res = w.svm.send([c.build_cancel_order_ix(buyer.pubkey(), m, 3, is_sell=False)], [buyer])
    (cancelled,) = c.decode_events(res.logs)
    assert cancelled.name == "OrderCancelled" and cancelled.data.refunded == escrow
    assert w.svm.balance(pay) == 1_000_000_000 and w.svm.balance(m.payment_vault) == 0
    assert w.svm.data(c.order_pda(buyer.pubkey(), 3)) is None
