"""The relayer: a thin loop that observes both chains for every open swap, records what it saw
in PostgreSQL, and submits the claims and refunds the swap rules ask for (paying gas and fees
only; no key it holds can move a user's funds). The chains are the truth, so after a crash
(SIGKILL included) it simply starts again from its open rows: a claim or refund that landed is
observed, one that did not is submitted again, one submitted twice is refused by the contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psycopg
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict

from backend.payments._errors import EvmReverted, EvmTimeout, EvmUnreachable
from backend.payments._store import SwapRecord, open_swaps, record_step, save_legs
from backend.payments._swap import Action, Observation, SwapStatus, relayer_actions, swap_status
from gridx.errors import ChainError
from gridx.metrics import metrics_host_field, metrics_port_field, new_registry, serve_metrics

__all__ = ["REGISTRY", "RelayerSettings", "relay_once", "relay_swap", "run_relayer"]

log = logging.getLogger("gridx.payments.relayer")

# every relayer outcome is counted, in the relayer's own registry (gridx.metrics): submitted or
# refused per action, and observed status changes
REGISTRY = new_registry()
SUBMISSIONS = Counter(
    "gridx_swap_submissions_total", "Relayer claims/refunds", ["action", "outcome"], registry=REGISTRY
)
TRANSITIONS = Counter(
    "gridx_swap_transitions_total", "Swap status changes the relayer observed", ["status"], registry=REGISTRY
)
UNREACHABLE = Counter(
    "gridx_swap_chain_unreachable_total", "Relayer rounds skipped: a chain did not answer", registry=REGISTRY
)
SWAP_ERRORS = Counter(
    "gridx_swap_errors_total", "Relayer rounds of a swap ended by an unexpected error", ["error"], registry=REGISTRY
)
DB_LOST = Counter(
    "gridx_swap_db_reconnects_total", "Relayer connections to PostgreSQL lost or refused", registry=REGISTRY
)

# waits between reconnects to PostgreSQL: doubling from the first to the longest, so a restart
# is picked up within a second or two and a long outage costs one attempt every few seconds
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.2, 5.0


class RelayerSettings(BaseModel):
    """Everything the relayer process needs (a JSON file; keys are paths to 0600 files)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    dsn: str
    evm_url: str
    evm_confirmations: int = 0
    thbc: str
    htlc: str
    sol_url: str
    energy_mint: str
    payment_mint: str
    fee_account: str
    relayer_evm_key: Path
    relayer_sol_key: Path
    interval_s: float = 0.2
    metrics_host: str = metrics_host_field()
    metrics_port: int | None = metrics_port_field(None)  # /metrics of REGISTRY; None: off


class Chains(Protocol):
    async def observe(self, s: SwapRecord) -> Observation: ...
    async def submit(self, s: SwapRecord, action: Action, secret: bytes | None) -> str: ...


@dataclass(frozen=True)
class Submitted:
    action: Action
    ok: bool
    detail: str


def _status(s: SwapRecord, obs: Observation) -> SwapStatus:
    st = swap_status(obs.evm.state, obs.sol.state)
    # a quote nobody locked before its own deadline is over
    if st is SwapStatus.QUOTED and s.evm_deadline is not None and obs.now_evm >= s.evm_deadline:
        return SwapStatus.ABANDONED
    return st


async def relay_swap(conn: psycopg.Connection, chains: Chains, s: SwapRecord) -> tuple[SwapRecord, list[Submitted]]:
    obs = await chains.observe(s)
    status = _status(s, obs)
    changes = {
        "evm_leg": obs.evm.state,
        "sol_leg": obs.sol.state,
        "status": status,
        "evm_lock_id": obs.evm_lock_id or s.evm_lock_id,
        "evm_deadline": obs.evm.deadline or s.evm_deadline,
        "sol_deadline": obs.sol.deadline or s.sol_deadline,
        "preimage": obs.sol.preimage or obs.evm.preimage or s.preimage,
    }
    if any(getattr(s, k) != v for k, v in changes.items()):
        if status is not s.status:
            TRANSITIONS.labels(status.value).inc()
        s = save_legs(conn, s, **changes)
    done: list[Submitted] = []
    for action, secret in relayer_actions(obs.evm, obs.sol, obs.now_evm, obs.now_sol, s.buyer_secret):
        try:
            tx = await chains.submit(s, action, secret)
        except (ChainError, EvmReverted, EvmTimeout, EvmUnreachable) as exc:
            # e.g. the party claimed first, or a clock moved: the next observation decides
            record_step(conn, s.swap_id, "refused", {"action": action.value, "error": str(exc)[:500]})
            SUBMISSIONS.labels(action.value, "refused").inc()
            done.append(Submitted(action, False, str(exc)))
            continue
        record_step(conn, s.swap_id, "submitted", {"action": action.value, "tx": tx})
        SUBMISSIONS.labels(action.value, "submitted").inc()
        done.append(Submitted(action, True, tx))
    return s, done


async def relay_once(conn: psycopg.Connection, chains: Chains) -> list[SwapRecord]:
    out = []
    for s in open_swaps(conn):
        try:
            s2, _ = await relay_swap(conn, chains, s)
        except (ChainError, EvmUnreachable) as exc:
            # a chain that does not answer (restart, outage): the swap waits for the next round
            log.warning("swap %s: chain unreachable: %s", s.swap_id, exc)
            UNREACHABLE.inc()
            continue
        except psycopg.Error:
            raise  # the database: run_relayer reconnects and resumes from the records
        except Exception as exc:
            # anything else is this swap's alone (an answer we did not expect from a node or a
            # library): counted by name and tried again next round, never the end of the
            # relayer and of every other swap with it
            log.exception("swap %s: unexpected error, retried next round", s.swap_id)
            SWAP_ERRORS.labels(type(exc).__name__).inc()
            continue
        out.append(s2)
    return out


async def run_relayer(settings: RelayerSettings, stop: asyncio.Event) -> None:
    from eth_account import Account
    from solana.rpc.async_api import AsyncClient
    from solders.pubkey import Pubkey

    import gridx.chain as c
    from backend.payments._chains import LiveChains
    from backend.payments._evm import Evm, EvmSettings
    from backend.payments._evm_htlc import HtlcContracts
    from gridx.db import connect

    evm = Evm(EvmSettings(settings.evm_url, settings.evm_confirmations))
    contracts = HtlcContracts(evm, evm.contract("thbc", settings.thbc), evm.contract("htlc", settings.htlc))
    market = c.MarketKeys(
        *(Pubkey.from_string(k) for k in (settings.energy_mint, settings.payment_mint, settings.fee_account))
    )
    relayer_evm = Account.from_key(settings.relayer_evm_key.read_text().strip())
    relayer_sol = c.load_keypair(settings.relayer_sol_key)
    server = (
        None if settings.metrics_port is None else serve_metrics(REGISTRY, settings.metrics_host, settings.metrics_port)
    )
    try:
        async with AsyncClient(settings.sol_url) as sol:
            chains = LiveChains(contracts, sol, market, relayer_evm, relayer_sol)
            wait_s = RECONNECT_FIRST_S
            while not stop.is_set():
                try:
                    with connect(settings.dsn, autocommit=True, app="gridx-relayer") as conn:
                        wait_s = RECONNECT_FIRST_S
                        await _rounds(conn, chains, settings.interval_s, stop)
                except psycopg.OperationalError as exc:
                    # PostgreSQL restarting or unreachable: nothing is lost, the records are where we
                    # resume (a submission not yet recorded is observed on its chain next round)
                    DB_LOST.inc()
                    log.warning("database unreachable, reconnecting in %.1fs: %s", wait_s, exc)
                    await _pause(stop, wait_s)
                    wait_s = min(wait_s * 2, RECONNECT_MAX_S)
    finally:
        if server is not None:
            server.close()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _rounds(conn: psycopg.Connection, chains: Chains, interval_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await relay_once(conn, chains)
        await _pause(stop, interval_s)
