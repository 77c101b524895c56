"""The trading program's market: only the compiled-in deployer creates one (no first caller
wins a (GRXE, payment mint) pair), and its statistics saturate instead of blocking matching.
The real SBF programs in LiteSVM."""

from __future__ import annotations

import json

import pytest
from solders.account import Account
from solders.keypair import Keypair

import gridx.chain as c
from gridx.errors import ChainError
from gridx.paths import ROOT
from tests.helpers.chain import T0, World, build_world

U64_MAX = 2**64 - 1


@pytest.fixture
def w() -> World:
    return build_world()


def _new_pair(w: World) -> c.MarketKeys:
    """A fresh payment mint (and its fee account) beside GRXE: a market nobody created yet."""
    pay = Keypair()
    auth = w.market_auth
    rent = w.svm.chain.svm.minimum_balance_for_rent_exemption(82)
    w.svm.send(c.create_mint_ixs(auth.pubkey(), pay.pubkey(), 6, auth.pubkey(), rent), [auth, pay])
    w.svm.send([c.create_ata_ix(auth.pubkey(), auth.pubkey(), pay.pubkey())], [auth])
    return c.MarketKeys(w.grxe, pay.pubkey(), c.ata_address(auth.pubkey(), pay.pubkey()))


def test_only_the_deployer_initialises_a_market_and_it_names_the_matcher(w: World) -> None:
    market = _new_pair(w)
    squatter = w.svm.funded()
    with pytest.raises(ChainError) as exc:
        w.svm.send([c.build_initialize_market_ix(squatter.pubkey(), squatter.pubkey(), market, 0)], [squatter])
    assert exc.value.code == "NotDeployer"
    for addr in (market.address, market.energy_vault, market.payment_vault):
        assert w.svm.data(addr) is None
    # the deployer creates it for the operational matcher key, which alone may match
    deployer = c.deployer_keypair()
    w.svm.send([c.build_initialize_market_ix(deployer.pubkey(), w.market_auth.pubkey(), market, 0)], [deployer])
    acct = w.svm.decoded("trading", market.address)
    assert str(acct.authority) == str(w.market_auth.pubkey())  # type: ignore[attr-defined]


_SIZES = {"pubkey": 32, "u64": 8, "u16": 2, "u8": 1}


def _field_offset(account: str, name: str) -> int:
    """Where a field of one of the trading program's accounts starts, read from its IDL."""
    idl = json.loads((ROOT / "programs" / "idl" / "trading.json").read_text())
    (typedef,) = (t for t in idl["types"] if t["name"] == account)
    off = 8  # the Anchor discriminator
    for f in typedef["type"]["fields"]:
        if f["name"] == name:
            return off
        off += _SIZES[f["type"]]
    raise KeyError(name)


def _set_market_stats(w: World, trade_count: int, volume: int) -> None:
    """Write the market's counters straight into its account (LiteSVM lets a test set state)."""
    raw = w.svm.chain.account(w.market.address)
    assert raw is not None
    data = bytearray(raw.data)
    for name, value in (("trade_count", trade_count), ("volume", volume)):
        at = _field_offset("Market", name)
        data[at : at + 8] = value.to_bytes(8, "little")
    acct = Account(raw.lamports, bytes(data), raw.owner, raw.executable, raw.rent_epoch)
    w.svm.chain.svm.set_account(w.market.address, acct)
    decoded = w.svm.decoded("trading", w.market.address)
    assert (decoded.trade_count, decoded.volume) == (trade_count, volume)  # type: ignore[attr-defined]


def test_statistics_saturate_instead_of_blocking_a_match(w: World) -> None:
    w.svm.send(w.mint(T0, 1000), [w.gateway])
    w.svm.send([c.build_create_sell_order_ix(w.prosumer.pubkey(), w.market, 1, 1_000_000, 400_000)], [w.prosumer])
    w.svm.send([c.build_create_buy_order_ix(w.consumer.pubkey(), w.market, 2, 1_000_000, 500_000)], [w.consumer])
    _set_market_stats(w, U64_MAX, U64_MAX - 10)
    buyer_grxe = c.ata_address(w.consumer.pubkey(), w.grxe)
    ix = c.build_match_order_ix(
        w.market_auth.pubkey(), w.market, w.prosumer.pubkey(), 1, w.consumer.pubkey(), 2, 1_000_000
    )
    w.svm.send([ix], [w.market_auth])  # settles although both counters are at their limit
    assert w.svm.balance(buyer_grxe) == 1_000_000
    acct = w.svm.decoded("trading", w.market.address)
    assert (acct.trade_count, acct.volume) == (U64_MAX, U64_MAX)  # type: ignore[attr-defined]
