"""The demo's EVM side: anvil (``LocalStack.start_anvil``) with THBC and the HTLC escrow deployed
from source by a fresh issuer, and the swap relayer (``gridx payments relay``) as its own
process. Its keys pay gas and fees only; all of them are written 0600 under the demo's secrets."""

from __future__ import annotations

from pathlib import Path

from gridx.chain import airdrop, load_deployment, load_or_create_keypair, run_on_chain
from gridx.paths import ensure_private_dir, write_private
from gridx.services import LocalStack

__all__ = ["start_payments"]

ETH = 10**18


def start_payments(stack: LocalStack, keys: Path) -> dict[str, str]:
    """Start anvil, deploy the contracts and start the relayer; returns the ``GRIDX_API_EVM_*``
    settings that mount the API's /payments/thb routes."""
    from eth_account import Account

    from backend.payments import Evm, EvmSettings, RelayerSettings, deploy_contracts

    assert stack.chain_url is not None
    anvil = stack.start_anvil()
    issuer, relayer_evm = Account.create(), Account.create()  # a fresh chain each run: fresh keys
    for acct in (issuer, relayer_evm):
        anvil.fund(acct.address, 10 * ETH)
    contracts = deploy_contracts(Evm(EvmSettings(anvil.url)), issuer, min_duration_s=60, max_duration_s=86_400)
    evm_dir = ensure_private_dir(keys / "evm")
    write_private(evm_dir / "issuer.key", issuer.key.hex().encode())
    write_private(evm_dir / "relayer_evm.key", relayer_evm.key.hex().encode())
    relayer_sol = load_or_create_keypair(evm_dir / "relayer_sol.json")
    run_on_chain(stack.chain_url, lambda c: airdrop(c, relayer_sol.pubkey(), 10**9))
    market = load_deployment(keys / "chain").market_keys()
    settings = RelayerSettings(
        dsn=stack.dsn,
        evm_url=anvil.url,
        thbc=contracts.thbc.address,
        htlc=contracts.htlc.address,
        sol_url=stack.chain_url,
        energy_mint=str(market.energy_mint),
        payment_mint=str(market.payment_mint),
        fee_account=str(market.fee_account),
        relayer_evm_key=evm_dir / "relayer_evm.key",
        relayer_sol_key=evm_dir / "relayer_sol.json",
    )
    config = stack.workdir / "relayer.json"
    write_private(config, settings.model_dump_json().encode())
    stack.spawn("relayer", "payments", "relay", "--config", str(config))
    return {
        "GRIDX_API_EVM_RPC_URL": anvil.url,
        "GRIDX_API_EVM_THBC": contracts.thbc.address,
        "GRIDX_API_EVM_HTLC": contracts.htlc.address,
    }
