"""``TradingClient``: httpx, Sign-In-With-Solana, prepare → sign locally → submit."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from solders.keypair import Keypair

from gridx.chain import load_keypair, sign_prepared_tx
from gridx.errors import GridxError

__all__ = ["ApiProblem", "TradingClient"]


class ApiProblem(GridxError):
    """The API refused: ``code`` is its stable problem code, ``status`` the HTTP status."""

    def __init__(self, status: int, code: str, detail: str, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail, self.body = status, code, detail, body


class TradingClient:
    def __init__(self, base_url: str, keypair: Keypair | Path, timeout_s: float = 60.0) -> None:
        self.keypair = keypair if isinstance(keypair, Keypair) else load_keypair(keypair)
        self.http = httpx.Client(base_url=base_url, timeout=timeout_s)
        self.token: str | None = None
        self.refresh_token: str | None = None

    @property
    def wallet(self) -> str:
        return str(self.keypair.pubkey())

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TradingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}) or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        r = self.http.request(method, path, headers=headers, **kw)
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = {"code": "unreadable", "detail": r.text[:200]}
            raise ApiProblem(r.status_code, str(body.get("code")), str(body.get("detail")), body)
        return r.json()

    # ---------------------------------------------------------------- session
    def login(self) -> str:
        ch = self.request("GET", "/auth/challenge", params={"address": self.wallet})
        sig = self.keypair.sign_message(ch["message"].encode())
        out = self.request("POST", "/auth/login", json={"message": ch["message"], "signature": str(sig)})
        self.token, self.refresh_token = str(out["token"]), out.get("refresh_token")
        return self.token

    def refresh(self) -> str:
        """A new session from the (single-use) refresh token, without signing again."""
        out = self.request("POST", "/auth/refresh", json={"refresh_token": self.refresh_token})
        self.token, self.refresh_token = str(out["token"]), out.get("refresh_token")
        return self.token

    def sign_and_submit(self, prepared: dict[str, Any]) -> dict[str, Any]:
        signed = sign_prepared_tx(base64.b64decode(prepared["transaction"]), [self.keypair])
        body = {"transaction": base64.b64encode(signed).decode()}
        out: dict[str, Any] = self.request("POST", f"/transactions/{prepared['tx_id']}", json=body)
        return out

    # ---------------------------------------------------------------- account
    def register(self, user_type: str) -> dict[str, Any]:
        return self.sign_and_submit(self.request("POST", "/users", json={"user_type": user_type}))

    def me(self) -> dict[str, Any]:
        out: dict[str, Any] = self.request("GET", "/me")
        return out

    def balances(self) -> dict[str, Any]:
        out: dict[str, Any] = self.request("GET", "/me/balances")
        return out

    # ---------------------------------------------------------------- meters
    def prepare_enrolment(self, proof: dict[str, Any], rated_power_w: int, interval_s: int = 900) -> dict[str, Any]:
        """``proof``: what ``gridx edge enrol-proof --owner <this wallet>`` prints (meter_id,
        pubkey, edge_id, proof; its owner must be this wallet)."""
        if proof.get("owner", self.wallet) != self.wallet:
            raise GridxError(f"the proof names owner {proof['owner']}, not this wallet {self.wallet}")
        body = {k: proof.get(k) for k in ("meter_id", "pubkey", "edge_id", "proof")}
        out: dict[str, Any] = self.request(
            "POST", "/meters", json={**body, "rated_power_w": rated_power_w, "interval_s": interval_s}
        )
        return out

    def enrol_meter(self, proof: dict[str, Any], rated_power_w: int, interval_s: int = 900) -> dict[str, Any]:
        """Prepare, sign (the owner's slot; the API adds the registry authority's) and submit."""
        return self.sign_and_submit(self.prepare_enrolment(proof, rated_power_w, interval_s))

    def meters(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.request("GET", "/meters")
        return out

    def faucet(self, amount: int) -> dict[str, Any]:
        out: dict[str, Any] = self.request("POST", "/faucet", json={"amount": amount})
        return out

    # ---------------------------------------------------------------- market
    def markets(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.request("GET", "/markets")
        return out

    def market_id(self) -> str:
        return str(self.markets()[0]["id"])

    def prepare_order(self, side: str, amount: int, price: int, key: str | None = None, **kw: Any) -> dict[str, Any]:
        body = {
            "market": kw.pop("market", None) or self.market_id(),
            "side": side,
            "amount": amount,
            "price": price,
            **kw,
        }
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        out: dict[str, Any] = self.request("POST", "/orders", json=body, headers=headers)
        return out

    def order(self, side: str, amount: int, price: int, **kw: Any) -> dict[str, Any]:
        """Prepare, sign and submit; returns the submit result with ``order_id``."""
        return self.sign_and_submit(self.prepare_order(side, amount, price, **kw))

    def sell(self, amount: int, price: int, **kw: Any) -> dict[str, Any]:
        return self.order("sell", amount, price, **kw)

    def buy(self, amount: int, price: int, **kw: Any) -> dict[str, Any]:
        return self.order("buy", amount, price, **kw)

    def cancel(self, order_id: int) -> dict[str, Any]:
        return self.sign_and_submit(self.request("POST", f"/orders/{order_id}/cancel"))

    def get_order(self, order_id: int) -> dict[str, Any]:
        out: dict[str, Any] = self.request("GET", f"/orders/{order_id}")
        return out

    def orders(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.request("GET", "/orders")
        return out

    def book(self, market: str | None = None, depth: int = 20) -> dict[str, Any]:
        out: dict[str, Any] = self.request(
            "GET", f"/markets/{market or self.market_id()}/book", params={"depth": depth}
        )
        return out

    def trades(self, market: str | None = None, mine: bool = False) -> list[dict[str, Any]]:
        path = "/trades/mine" if mine else f"/markets/{market or self.market_id()}/trades"
        out: list[dict[str, Any]] = self.request("GET", path)
        return out

    # ---------------------------------------------------------------- EVM link (SIWE)
    def evm_link(self) -> str | None:
        """The EVM address linked to this wallet, or None."""
        out: dict[str, Any] = self.request("GET", "/payments/evm-links")
        return None if out["evm_address"] is None else str(out["evm_address"])

    def link_evm(self, address: str, sign: Callable[[str], str]) -> str:
        """Link ``address`` by Sign-In-With-Ethereum: the API issues the exact message, ``sign``
        (the EVM wallet's personal_sign, returning 0x-hex) signs it where the EVM key lives;
        returns the linked address."""
        ch = self.request("POST", "/payments/evm-links/challenge", json={"address": address})
        body = {"nonce": ch["nonce"], "message": ch["message"], "signature": sign(ch["message"])}
        out: dict[str, Any] = self.request("POST", "/payments/evm-links", json=body)
        return str(out["evm_address"])

    # ---------------------------------------------------------------- THB payments
    def thb_quote(self, order_id: int, amount: int | None = None) -> dict[str, Any]:
        params: dict[str, int] = {"order_id": order_id} | ({} if amount is None else {"amount": amount})
        out: dict[str, Any] = self.request("GET", "/payments/thb/quote", params=params)
        return out

    def open_thb_swap(self, order_id: int, hashlock: bytes, thbc: int, amount: int | None = None) -> dict[str, Any]:
        """Open a swap under ``hashlock`` (SHA-256 of the buyer's secret, which stays here) at the
        accepted quote ``thbc``; returns ``swap_id``, the quote and the unsigned EVM transactions
        (approve, lock) for the buyer's EVM wallet."""
        body: dict[str, Any] = {"order_id": order_id, "hashlock": "0x" + hashlock.hex(), "thbc": thbc}
        if amount is not None:
            body["amount"] = amount
        out: dict[str, Any] = self.request("POST", "/payments/thb/swaps", json=body)
        return out

    def thb_swap(self, swap_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.request("GET", f"/payments/thb/swaps/{swap_id}")
        return out

    def thb_swaps(self, limit: int = 100) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.request("GET", "/payments/thb/swaps", params={"limit": limit})
        return out

    def claim_thb_swap(self, swap_id: str, secret: bytes) -> dict[str, Any]:
        """The buyer hands the relayer its secret once the seller's lock is there."""
        out: dict[str, Any] = self.request(
            "POST", f"/payments/thb/swaps/{swap_id}/claim", json={"secret": "0x" + secret.hex()}
        )
        return out

    def seller_lock(self, swap_id: str) -> dict[str, Any]:
        """The seller's Solana lock: prepared by the API, signed here, submitted; returns the
        submit result (``status``, ``kind`` 'swap_lock')."""
        return self.sign_and_submit(self.request("POST", f"/payments/thb/swaps/{swap_id}/lock"))

    def seller_close(self, swap_id: str) -> dict[str, Any]:
        """Once the swap is final, close the seller's hash lock (its rent comes back)."""
        return self.sign_and_submit(self.request("POST", f"/payments/thb/swaps/{swap_id}/close"))
