"""``gridx chain bootstrap``: bring a chain (local node or any validator) to a usable state.

Idempotent: each step checks its account first, and an existing deployment must be ours
(authority, admin, registry id, market authority) or bootstrap fails with ForeignDeployment.
Keys live in .secrets/chain/ (0600):
registry authority, token admin, market authority (also the test payment mint's authority),
the gateway minter and the payment mint keypair. The public result is written to
``deployment.json`` next to them for the gateway and backend to read."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from gridx.errors import ChainError, ConfigError

from ._client import airdrop, fetch_account, fetch_decoded, rpc_call, send_and_confirm
from ._ids import (
    ata_address,
    deployer_keypair,
    grxe_mint_pda,
    minter_pda,
    program_ids,
    registry_config_pda,
    token_config_pda,
)
from ._ix import (
    MarketKeys,
    build_add_minter_ix,
    build_energy_token_initialize_ix,
    build_initialize_market_ix,
    build_registry_initialize_ix,
)
from ._keys import chain_secrets_dir, load_or_create_keypair
from ._spl import MINT_LEN, create_ata_ix, create_mint_ixs

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = ["Deployment", "authorize_edge", "bootstrap", "load_deployment"]

PAYMENT_DECIMALS = 6  # GRX, the market's payment token on Solana (test mint here): 6 decimals like GRXE
MARKET_FEE_BPS = 0  # the seed's Flow 4 market: 15 GRXE at 3 GRX leaves the seller exactly 45 GRX richer
_MIN_LAMPORTS = 2 * 10**9


@dataclass(frozen=True)
class Deployment:
    """Public addresses (base58) of a bootstrapped chain."""

    registry_authority: str
    token_admin: str
    market_authority: str
    gateway_minter: str
    grxe_mint: str
    payment_mint: str
    market: str
    fee_account: str

    def market_keys(self) -> MarketKeys:
        return MarketKeys(
            Pubkey.from_string(self.grxe_mint),
            Pubkey.from_string(self.payment_mint),
            Pubkey.from_string(self.fee_account),
        )


def load_deployment(keys_dir: Path | None = None) -> Deployment:
    path = (keys_dir or chain_secrets_dir()) / "deployment.json"
    try:
        return Deployment(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"no chain deployment at {path} (run `gridx chain bootstrap`): {exc}") from exc


async def _fund(client: AsyncClient, kp: Keypair) -> None:
    if (await rpc_call(client.get_balance(kp.pubkey()))).value < _MIN_LAMPORTS:
        try:
            await airdrop(client, kp.pubkey(), 10 * _MIN_LAMPORTS)
        except Exception as exc:
            raise ChainError(f"cannot fund {kp.pubkey()} (no faucet? fund it by hand): {exc}", "Unfunded") from exc


async def _verify_ours(
    client: AsyncClient, authority: Pubkey, admin: Pubkey, market_auth: Pubkey, market: MarketKeys
) -> None:
    """Only the compiled-in deployer may initialise registry and energy_token, but it may name
    any authority: a chain initialised with other keys is not ours and must not be reported as
    bootstrapped (the market's initialiser is still first-come)."""
    reg = await fetch_decoded(client, "registry", registry_config_pda())
    tok = await fetch_decoded(client, "energy_token", token_config_pda())
    mkt = await fetch_decoded(client, "trading", market.address)
    if reg is None or tok is None or mkt is None:
        raise ChainError("bootstrap accounts missing after initialisation", "Unconfirmed")
    found = {
        "registry authority": (reg.authority, authority),
        "energy_token admin": (tok.admin, admin),
        "energy_token registry_program": (tok.registry_program, program_ids().registry),
        "market authority": (mkt.authority, market_auth),
    }
    wrong = {k: str(got) for k, (got, want) in found.items() if got != want}
    if wrong:
        raise ChainError(f"chain was initialised by someone else: {wrong}", "ForeignDeployment")


async def authorize_edge(client: AsyncClient, edge_id: str, keys_dir: Path | None = None) -> None:
    """Authorise the gateway minter for the meters of ``edge_id`` (idempotent; token admin signs).
    Minters are bound to edges on chain: a minter key of one site mints nothing for another."""
    keys = keys_dir or chain_secrets_dir()
    admin = load_or_create_keypair(keys / "token_admin.json")
    gateway = load_or_create_keypair(keys / "gateway_minter.json")
    pda = minter_pda(gateway.pubkey(), edge_id)
    if await fetch_account(client, pda) is not None:
        return
    try:
        await send_and_confirm(client, [build_add_minter_ix(admin.pubkey(), gateway.pubkey(), edge_id)], [admin])
    except ChainError:
        # two callers both saw no minter account and both sent add_minter: the later one is
        # refused (account already in use) although the edge is authorised. Only a missing
        # account afterwards is a real failure.
        if await fetch_account(client, pda) is None:
            raise


async def bootstrap(client: AsyncClient, keys_dir: Path | None = None, fund: bool = True) -> Deployment:
    keys = keys_dir or chain_secrets_dir()
    deployer = deployer_keypair()
    authority = load_or_create_keypair(keys / "registry_authority.json")
    admin = load_or_create_keypair(keys / "token_admin.json")
    market_auth = load_or_create_keypair(keys / "market_authority.json")
    gateway = load_or_create_keypair(keys / "gateway_minter.json")
    pay_mint = load_or_create_keypair(keys / "payment_mint.json")
    if fund:
        for kp in (deployer, authority, admin, market_auth, gateway):
            await _fund(client, kp)

    if await fetch_account(client, registry_config_pda()) is None:
        ix = build_registry_initialize_ix(deployer.pubkey(), authority.pubkey())
        await send_and_confirm(client, [ix], [deployer])
    if await fetch_account(client, token_config_pda()) is None:
        ix = build_energy_token_initialize_ix(deployer.pubkey(), admin.pubkey())
        await send_and_confirm(client, [ix], [deployer])
    if await fetch_account(client, pay_mint.pubkey()) is None:
        rent = (await rpc_call(client.get_minimum_balance_for_rent_exemption(MINT_LEN))).value
        ixs = create_mint_ixs(market_auth.pubkey(), pay_mint.pubkey(), PAYMENT_DECIMALS, market_auth.pubkey(), rent)
        await send_and_confirm(client, ixs, [market_auth, pay_mint])
    market = MarketKeys(grxe_mint_pda(), pay_mint.pubkey(), ata_address(market_auth.pubkey(), pay_mint.pubkey()))
    if await fetch_account(client, market.fee_account) is None:
        await send_and_confirm(
            client, [create_ata_ix(market_auth.pubkey(), market_auth.pubkey(), pay_mint.pubkey())], [market_auth]
        )
    if await fetch_account(client, market.address) is None:
        ix = build_initialize_market_ix(deployer.pubkey(), market_auth.pubkey(), market, MARKET_FEE_BPS)
        await send_and_confirm(client, [ix], [deployer])

    await _verify_ours(client, authority.pubkey(), admin.pubkey(), market_auth.pubkey(), market)
    dep = Deployment(
        registry_authority=str(authority.pubkey()),
        token_admin=str(admin.pubkey()),
        market_authority=str(market_auth.pubkey()),
        gateway_minter=str(gateway.pubkey()),
        grxe_mint=str(grxe_mint_pda()),
        payment_mint=str(pay_mint.pubkey()),
        market=str(market.address),
        fee_account=str(market.fee_account),
    )
    (keys / "deployment.json").write_text(json.dumps(asdict(dep), indent=2) + "\n")
    return dep
