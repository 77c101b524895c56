"""``/meters``: enrol a meter through the chain (non-custodial dual write) and list the wallet's
meters with their enrolment state.

``POST /meters`` checks what the registry program would refuse (rated power, interval, the
meter key's proof of possession, the owner's registration, an edge a minter serves, a key or
meter id already enrolled) and returns the unsigned ``[Ed25519 proof check, register_meter]``
transaction. The owner signs its slot; on ``POST /transactions/{tx_id}`` the API co-signs as
registry authority (the program requires that approval, DESIGN §2) only if the message is
exactly the one it built, then submits. The ``meters`` row comes from the confirmed
MeterRegistered event; until then ``GET /meters`` answers "pending"."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from litestar import Controller, get, post
from pydantic import BaseModel, ConfigDict, Field
from solders.pubkey import Pubkey

from backend._errors import ApiError, Problem
from backend._state import Services
from backend._txflow import PreparedTx, prepare_tx
from gridx.chain import build_register_meter_ixs, meter_pda

from ._checks import check_edge, check_not_enrolled, check_params, check_proof, owner_type

__all__ = ["MeterController"]

_ID = r"^[A-Za-z0-9_.-]{1,32}$"  # meter and edge ids, as the meters table constrains them


class EnrolRequest(BaseModel):
    """The fields ``gridx edge enrol-proof`` prints (meter_id, pubkey, edge_id, proof), plus
    the meter's rated power and window length."""

    model_config = ConfigDict(extra="forbid")
    meter_id: str = Field(pattern=_ID)
    pubkey: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="the meter's ed25519 public key, hex")
    edge_id: str = Field(pattern=_ID, description="the edge that serves the meter (a minter must serve it)")
    proof: str = Field(pattern=r"^[0-9a-fA-F]{128}$", description="the meter key's enrolment signature, hex")
    rated_power_w: int = Field(ge=-(2**63), le=2**63 - 1, description="W, 1 to the API's limit (at most 10 MW)")
    interval_s: int = Field(900, ge=-(2**31), le=2**31 - 1, description="window length; divides 86,400")


class EnrolmentPrepared(PreparedTx):
    meter_id: str
    meter_account: str  # the registry's MeterAccount the transaction creates
    cosigner: str  # the registry authority, whose signature the API adds on submit


class MeterEnrolment(BaseModel):
    meter_id: str
    pubkey: str
    edge_id: str
    rated_power_w: int
    interval_s: int
    status: Literal["active", "revoked", "pending", "failed"]
    tx_id: int | None = None
    tx_signature: str | None = None
    reason: str | None = None


async def _prepare(services: Services, wallet: str, data: EnrolRequest) -> EnrolmentPrepared:
    authority = services.registry_authority
    if authority is None:
        raise ApiError(Problem.ENROLMENT_UNAVAILABLE, "this deployment does not approve enrolments")
    check_params(data.rated_power_w, data.interval_s, services.settings.enrol_max_rated_power_w)
    owner, meter = Pubkey.from_string(wallet), Pubkey.from_bytes(bytes.fromhex(data.pubkey))
    check_proof(meter, owner, data.edge_id, bytes.fromhex(data.proof))
    kind, _ = await asyncio.gather(owner_type(services, owner), check_edge(services, data.edge_id))
    ixs = build_register_meter_ixs(
        owner,
        authority.pubkey(),
        meter,
        data.edge_id.encode(),
        data.rated_power_w,
        data.interval_s,
        bytes.fromhex(data.proof),
    )
    async with services.pool.connection() as conn, conn.transaction():
        # one enrolment of a meter id at a time: the checks below and the insert are one step
        # (the id first, then the key: every enrolment takes them in that order, so no deadlock)
        for lock in (data.meter_id, data.pubkey.lower()):
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('gridx-enrol:' || %s))", (lock,))
        await check_not_enrolled(services, conn, meter, data.meter_id)
        out = await prepare_tx(services, conn, wallet, "enrol", ixs)
        await conn.execute(
            """INSERT INTO meter_enrolments (tx_id, meter_id, pubkey, owner_wallet, owner_type, edge_id,
                                             rated_power_w, interval_s)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                out.tx_id,
                data.meter_id,
                data.pubkey.lower(),
                wallet,
                kind,
                data.edge_id,
                data.rated_power_w,
                data.interval_s,
            ),
        )
    return EnrolmentPrepared(
        **out.model_dump(),
        meter_id=data.meter_id,
        meter_account=str(meter_pda(meter)),
        cosigner=str(authority.pubkey()),
    )


_LIST = """
    SELECT meter_id, pubkey, edge_id, rated_power_w, interval_s, status, NULL::bigint, NULL::text, NULL::text
      FROM meters WHERE owner_wallet = %(w)s
    UNION ALL
    SELECT * FROM (
        SELECT DISTINCT ON (e.pubkey) e.meter_id, e.pubkey, e.edge_id, e.rated_power_w, e.interval_s,
               CASE WHEN ce.apply_error IS NULL THEN p.status ELSE 'failed' END, p.id, p.tx_signature,
               coalesce(p.reason, ce.apply_error)
          FROM meter_enrolments e JOIN prepared_txs p ON p.id = e.tx_id
          -- on chain, but its event could not be mirrored (EnrolmentConflict): failed, with why
          LEFT JOIN chain_events ce ON ce.signature = p.tx_signature AND ce.name = 'MeterRegistered'
                                   AND ce.apply_error IS NOT NULL
         WHERE e.owner_wallet = %(w)s AND NOT EXISTS (SELECT 1 FROM meters m WHERE m.pubkey = e.pubkey)
         ORDER BY e.pubkey, e.tx_id DESC LIMIT 100) AS pending
    ORDER BY 1"""


async def _on_chain(services: Services, rows: list[Any]) -> set[str]:
    """Keys of the unsubmitted enrolments the chain has anyway (signed and sent elsewhere)."""
    keys = [str(r[1]) for r in rows if r[5] == "prepared"]
    found = await asyncio.gather(
        *(services.reads.account(meter_pda(Pubkey.from_bytes(bytes.fromhex(k)))) for k in keys)
    )
    return {k for k, data in zip(keys, found, strict=True) if data is not None}


def _status(row: Any, chain: set[str]) -> str | None:
    status = str(row[5])
    if row[6] is None or status == "failed":
        return status  # a mirrored meter (active or revoked), or the chain refused the enrolment
    if status in ("submitted", "confirmed") or row[1] in chain:
        return "pending"  # on its way, or on chain and not indexed yet
    return None  # prepared and never sent: nothing to show


class MeterController(Controller):
    path = "/meters"
    tags = ["meters"]

    @post("/", operation_id="prepareEnrolment", status_code=201)
    async def enrol(self, services: Services, wallet: str, data: EnrolRequest) -> EnrolmentPrepared:
        """The unsigned enrolment for the owner to sign; the registry authority co-signs on submit."""
        return await _prepare(services, wallet, data)

    @get("/", operation_id="listEnrolments")
    async def meters(self, services: Services, wallet: str) -> list[MeterEnrolment]:
        """The wallet's meters: mirrored (active, revoked) and enrolments in flight (pending, failed)."""
        async with services.pool.connection() as conn:
            rows = await (await conn.execute(_LIST, {"w": wallet})).fetchall()
        chain = await _on_chain(services, rows)
        keys = ("meter_id", "pubkey", "edge_id", "rated_power_w", "interval_s")
        out = []
        for r in rows:
            status = _status(r, chain)
            if status is not None:
                view = dict(zip(keys, r[:5], strict=True))
                out.append(MeterEnrolment(**view, status=status, tx_id=r[6], tx_signature=r[7], reason=r[8]))
        return out
