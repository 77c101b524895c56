"""``gridx demo --load``: background trading while the fleet runs, every action through the API
like the users': each round, the prosumer with the most GRXE offers a quarter of it at 3 GRX/kWh
and a load buyer takes it (funded by the dev faucet). A refusal or an outage is counted by its
problem code and the round is skipped; the thread never dies silently."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from gridx.chain import airdrop, load_or_create_keypair, run_on_chain
from gridx.client import ApiProblem, TradingClient

__all__ = ["LoadTrader"]

UNIT, LOT, PRICE = 1_000_000, 1_000, 3_000_000
MIN_OFFER = 100 * LOT  # 0.1 kWh: smaller holdings are left alone


class LoadTrader(threading.Thread):
    def __init__(self, api_url: str, rpc_url: str, wallets: Path, prosumers: list[str], period_s: float = 2.0):
        super().__init__(name="demo-load", daemon=True)
        self.api_url, self.rpc_url, self.wallets, self.prosumers = api_url, rpc_url, wallets, prosumers
        self.period_s = period_s
        self.halt = threading.Event()
        self.trades = 0
        self.grxe = 0
        self.errors: Counter[str] = Counter()
        self.buy_orders: list[int] = []
        self.buyer: TradingClient | None = None

    def _clients(self) -> tuple[TradingClient, list[TradingClient]]:
        key = load_or_create_keypair(self.wallets / "load-buyer.json")
        run_on_chain(self.rpc_url, lambda c: airdrop(c, key.pubkey(), 10**9))  # fees (SOL) on a dev cluster
        buyer = TradingClient(self.api_url, key)
        buyer.login()
        if buyer.me()["registration"] != "registered":
            buyer.register("consumer")
        sellers = [TradingClient(self.api_url, self.wallets / f"{m}.json") for m in self.prosumers]
        for s in sellers:
            s.login()
        return buyer, sellers

    def _round(self, buyer: TradingClient, sellers: list[TradingClient]) -> None:
        held = {s: int(s.balances()["grxe"]) for s in sellers}
        seller = max(sellers, key=lambda s: held[s])
        amount = held[seller] // 4 // LOT * LOT
        if amount < MIN_OFFER:
            return
        buyer.faucet(amount * PRICE // UNIT)
        seller.sell(amount, PRICE)
        self.buy_orders.append(int(buyer.buy(amount, PRICE)["order_id"]))
        self.trades += 1
        self.grxe += amount

    def run(self) -> None:
        try:
            buyer, sellers = self._clients()
            self.buyer = buyer
        except (ApiProblem, httpx.HTTPError) as exc:
            self.errors[getattr(exc, "code", type(exc).__name__)] += 1
            return
        while not self.halt.wait(self.period_s):
            try:
                self._round(buyer, sellers)
            except ApiProblem as exc:  # e.g. token_expired (15 min sessions): sign in again
                self.errors[exc.code] += 1
                if exc.code == "token_expired":
                    for c in (buyer, *sellers):
                        c.login()
            except httpx.HTTPError as exc:
                self.errors[type(exc).__name__] += 1

    def stop(self, settle_timeout_s: float = 120.0) -> dict[str, Any]:
        """Stop, then wait until every load trade is settled on chain (the reconciliation follows)."""
        self.halt.set()
        self.join()
        buyer = self.buyer
        deadline = time.monotonic() + settle_timeout_s
        while buyer is not None and time.monotonic() < deadline:
            mine = [t for t in buyer.trades(mine=True) if t["buy_order"] in self.buy_orders]
            if all(t["status"] in ("confirmed", "failed") for t in mine):
                break
            time.sleep(0.5)
        return {"load_trades": self.trades, "load_grxe": self.grxe, "load_errors": dict(self.errors)}
