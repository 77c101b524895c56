"""What the API checks before it builds an enrolment the registry authority will co-sign: each
refusal the program would make (or that would leave a meter nobody can mint for) becomes its
own problem code here, before the owner signs anything."""

from __future__ import annotations

import hashlib
from typing import Literal

import psycopg
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from solders.pubkey import Pubkey

from backend._errors import ApiError, Problem
from backend._state import Services
from gridx.chain import (
    decode_account,
    edge_seed,
    enrolment_message,
    meter_pda,
    minter_pda,
    program_ids,
    rpc_call,
    user_pda,
)

__all__ = ["check_edge", "check_not_enrolled", "check_params", "check_proof", "owner_type"]

_DAY_S = 86_400  # the registry's interval rule (programs/registry/src/lib.rs: check_meter_params)
# a Minter account of the energy-token program: Anchor discriminator, then minter, added_by
# (32 each), minted_total (u64), bump (u8), edge_id ([u8; 32]) — see programs/idl/energy_token.json
_MINTER_DISC = hashlib.sha256(b"account:Minter").digest()[:8]
_MINTER_EDGE_AT = 8 + 32 + 32 + 8 + 1
_USER_TYPES: dict[int, Literal["prosumer", "consumer"]] = {0: "prosumer", 1: "consumer"}


def check_params(rated_power_w: int, interval_s: int, max_rated_power_w: int) -> None:
    """``max_rated_power_w``: what this API approves by itself (GRIDX_API_ENROL_MAX_RATED_POWER_W,
    at most the program's bound): rated power caps what a meter's readings can mint, so a
    larger installation is enrolled by the operator (``gridx meters enroll``) after a check."""
    if not 0 < rated_power_w <= max_rated_power_w:
        raise ApiError(
            Problem.RATED_POWER_OUT_OF_RANGE,
            f"rated power {rated_power_w} W: this API enrols 1 to {max_rated_power_w} W",
            max_rated_power_w=max_rated_power_w,
        )
    if not 0 < interval_s <= _DAY_S or _DAY_S % interval_s:
        raise ApiError(Problem.METER_INTERVAL_INVALID, f"interval {interval_s} s must divide a day (86,400 s)")


def check_proof(meter: Pubkey, owner: Pubkey, edge_id: str, proof: bytes) -> None:
    """The meter key's signature over (tag, meter, owner, edge): the same bytes the program's
    Ed25519 check reads, so a proof made for another owner or edge is refused here already."""
    try:
        VerifyKey(bytes(meter)).verify(enrolment_message(meter, owner, edge_id), proof)
    except (BadSignatureError, ValueError) as exc:
        raise ApiError(
            Problem.ENROLMENT_BAD_PROOF,
            "the proof is not the meter key's signature over this meter, your wallet and this edge "
            "(`gridx edge enrol-proof --owner <your wallet>`)",
        ) from exc


async def check_edge(services: Services, edge_id: str) -> None:
    """An edge is known when a minter is authorised for it on chain (energy_token's Minter
    accounts): a meter behind any other edge could never have a reading minted. The
    deployment's own gateway minter first (one coalesced read), then any other minter."""
    import based58
    from solana.rpc.types import DataSliceOpts, MemcmpOpts

    gateway = Pubkey.from_string(services.deployment.gateway_minter)
    if await services.reads.account(minter_pda(gateway, edge_id)) is not None:
        return
    resp = await rpc_call(
        services.chain.get_program_accounts(
            program_ids().energy_token,
            encoding="base64",
            data_slice=DataSliceOpts(offset=0, length=0),
            filters=[
                MemcmpOpts(offset=0, bytes=based58.b58encode(_MINTER_DISC).decode()),
                MemcmpOpts(offset=_MINTER_EDGE_AT, bytes=based58.b58encode(edge_seed(edge_id)).decode()),
            ],
        )
    )
    if not resp.value:
        raise ApiError(Problem.UNKNOWN_EDGE, f"no minter serves edge {edge_id!r} on chain")


async def owner_type(services: Services, owner: Pubkey) -> Literal["prosumer", "consumer"]:
    """The owner's registration on chain (the program refuses a meter of an unregistered user)."""
    data = await services.reads.account(user_pda(owner))
    if data is None:
        raise ApiError(Problem.NOT_REGISTERED, "register the wallet first (POST /users)")
    return _USER_TYPES.get(int(decode_account("registry", data).user_type), "consumer")


async def check_not_enrolled(services: Services, conn: psycopg.AsyncConnection, meter: Pubkey, meter_id: str) -> None:
    """Neither the key nor the meter id enrolled (on chain or in the mirror), nor held by an
    enrolment of another key or under another id that can still land: so the chain's event for
    a key names one meter id. The caller holds the id's and the key's advisory locks."""
    pubkey = bytes(meter).hex()
    if await services.reads.account(meter_pda(meter)) is not None:
        raise ApiError(Problem.METER_ALREADY_ENROLLED, "this meter key is enrolled on chain")
    row = await (
        await conn.execute("SELECT meter_id FROM meters WHERE meter_id = %s OR pubkey = %s LIMIT 1", (meter_id, pubkey))
    ).fetchone()
    if row is not None:
        raise ApiError(Problem.METER_ALREADY_ENROLLED, f"meter {row[0]!r} or this key is enrolled")
    rivals = await (
        await conn.execute(
            """SELECT p.status, p.last_valid_height FROM meter_enrolments e JOIN prepared_txs p ON p.id = e.tx_id
                WHERE ((e.meter_id = %(id)s AND e.pubkey <> %(key)s) OR (e.pubkey = %(key)s AND e.meter_id <> %(id)s))
                  AND p.status <> 'failed'""",
            {"id": meter_id, "key": pubkey},
        )
    ).fetchall()
    if not rivals:
        return
    height = int((await rpc_call(services.chain.get_block_height())).value)
    if any(s == "confirmed" or int(h) >= height for s, h in rivals):
        raise ApiError(
            Problem.METER_ALREADY_ENROLLED, f"meter id {meter_id!r} or this key is being enrolled in another pairing"
        )
