"""Cluster and ledger information of a one-node development cluster: the node is the only
validator and leader, epochs are ``SLOTS_PER_EPOCH`` slots, nothing is staked, nothing is
inflated and no snapshot or vote exists. Where a validator would list things this node does
not have, the answer is the empty-but-valid shape clients accept."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from solders.hash import Hash
from solders.pubkey import Pubkey

from ._ids import program_ids
from ._rpc import RpcError, ctx, opt
from ._svm import SvmChain

__all__ = ["METHODS", "genesis_hash", "identity"]

SLOTS_PER_EPOCH = 8192
_VERSION = "2.1.0"
_LARGEST = 20


@cache
def genesis_hash() -> str:
    """Stable for a deployment (the programs it was made with), so a wallet keeps recognising
    the same local cluster across restarts."""
    ids = program_ids()
    seed = b"gridx-local-genesis" + bytes(ids.registry) + bytes(ids.energy_token) + bytes(ids.trading)
    return str(Hash(hashlib.sha256(seed).digest()))


@cache
def identity() -> str:
    return str(Pubkey(hashlib.sha256(b"gridx-local-identity" + genesis_hash().encode()).digest()))


def _epoch(slot: int) -> tuple[int, int]:
    return divmod(slot, SLOTS_PER_EPOCH)


def get_epoch_info(chain: SvmChain, params: list[Any]) -> Any:
    slot = chain.slot
    epoch, index = _epoch(slot)
    return {
        "absoluteSlot": slot,
        "blockHeight": slot,
        "epoch": epoch,
        "slotIndex": index,
        "slotsInEpoch": SLOTS_PER_EPOCH,
        "transactionCount": chain.tx_count,
    }


def _accounts_lamports(chain: SvmChain) -> list[tuple[int, Pubkey]]:
    with chain.lock:
        return [(chain.svm.get_balance(a) or 0, a) for a in chain.known]


def get_supply(chain: SvmChain, params: list[Any]) -> Any:
    total = sum(n for n, _ in _accounts_lamports(chain))
    return ctx(chain, {"total": total, "circulating": total, "nonCirculating": 0, "nonCirculatingAccounts": []})


def get_largest_accounts(chain: SvmChain, params: list[Any]) -> Any:
    if opt(params, 0).get("filter") == "nonCirculating":
        return ctx(chain, [])
    top = sorted(_accounts_lamports(chain), key=lambda t: (-t[0], str(t[1])))[:_LARGEST]
    return ctx(chain, [{"address": str(a), "lamports": n} for n, a in top])


def get_leader_schedule(chain: SvmChain, params: list[Any]) -> Any:
    slot = params[0] if params and isinstance(params[0], int) else chain.slot
    wanted = opt(params, 1).get("identity") or (params[0] if params and isinstance(params[0], dict) else {}).get(
        "identity"
    )
    if _epoch(slot)[0] > _epoch(chain.slot)[0] + 1:
        return None
    if wanted is not None and wanted != identity():
        return {}
    return {identity(): list(range(SLOTS_PER_EPOCH))}


def get_block_production(chain: SvmChain, params: list[Any]) -> Any:
    first = opt(params, 0).get("range", {}).get("firstSlot", _epoch(chain.slot)[0] * SLOTS_PER_EPOCH)
    last = chain.slot
    n = max(last - int(first) + 1, 0)
    return ctx(chain, {"byIdentity": {identity(): [n, n]}, "range": {"firstSlot": int(first), "lastSlot": last}})


def get_recent_prioritization_fees(chain: SvmChain, params: list[Any]) -> Any:
    if params and (not isinstance(params[0], list) or len(params[0]) > 128):
        raise RpcError(-32602, "Invalid params: at most 128 addresses")
    with chain.lock:
        slots = list(chain.blocks)[-150:]
    return [{"slot": s, "prioritizationFee": 0} for s in slots]


def get_slot_leaders(chain: SvmChain, params: list[Any]) -> Any:
    limit = int(params[1])
    if not 0 <= limit <= 5000:
        raise RpcError(-32602, "Invalid limit; max 5000")
    return [identity()] * limit


def _cluster_nodes(chain: SvmChain, params: list[Any]) -> Any:
    node = {"pubkey": identity(), "gossip": None, "tpu": None, "rpc": None, "version": _VERSION}
    return [{**node, "featureSet": 0, "shredVersion": 0}]


METHODS = {
    "getEpochInfo": get_epoch_info,
    "getEpochSchedule": lambda _c, _p: {
        "slotsPerEpoch": SLOTS_PER_EPOCH,
        "leaderScheduleSlotOffset": SLOTS_PER_EPOCH,
        "warmup": False,
        "firstNormalEpoch": 0,
        "firstNormalSlot": 0,
    },
    "getSupply": get_supply,
    "getLargestAccounts": get_largest_accounts,
    "getGenesisHash": lambda _c, _p: genesis_hash(),
    "getIdentity": lambda _c, _p: {"identity": identity()},
    "getSlotLeader": lambda _c, _p: identity(),
    "getSlotLeaders": get_slot_leaders,
    "getClusterNodes": _cluster_nodes,
    "getVoteAccounts": lambda _c, _p: {"current": [], "delinquent": []},
    "getLeaderSchedule": get_leader_schedule,
    "getBlockProduction": get_block_production,
    "getBlockHeight": lambda chain, _p: chain.slot,
    "getBlockCommitment": lambda _c, _p: {"commitment": None, "totalStake": 0},
    "getInflationReward": lambda _c, p: [None] * len(p[0]),
    "getInflationGovernor": lambda _c, _p: {
        "foundation": 0.0,
        "foundationTerm": 0.0,
        "initial": 0.0,
        "taper": 0.0,
        "terminal": 0.0,
    },
    "getInflationRate": lambda chain, _p: {
        "epoch": _epoch(chain.slot)[0],
        "foundation": 0.0,
        "total": 0.0,
        "validator": 0.0,
    },
    "getStakeMinimumDelegation": lambda chain, _p: ctx(chain, 1),
    "getRecentPrioritizationFees": get_recent_prioritization_fees,
    "getRecentPerformanceSamples": lambda _c, _p: [],
    "getMaxRetransmitSlot": lambda chain, _p: chain.slot,
    "getMaxShredInsertSlot": lambda chain, _p: chain.slot,
    "getHighestSnapshotSlot": lambda _c, _p: {"full": 0, "incremental": None},
}
