"""Meter enrolment through the API: the owner signs, the API co-signs as registry authority
only the exact message it built, the chain's MeterRegistered event writes the row (submit
path or indexer), and what the program would refuse is refused first with its own code."""

from __future__ import annotations

import base64
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

import gridx.chain as c
from gridx.client import ApiProblem, TradingClient
from gridx.errors import ChainError
from gridx.services import stop_process
from gridx.wire import GENESIS_HASH, UnsignedReading, sign_reading
from tests.backend.api.conftest import Stack, start_api
from tests.helpers.gateway import wait_until
from tests.helpers.mint import ChainSetup, MintThread, store_for_mint

RATED_W = 100_000  # the API's default limit: 27 Wh in a 1-second window


def _edge(stack: Stack) -> str:
    """A fresh edge a minter serves (authorised on chain by the token admin)."""
    edge = f"edge-{uuid.uuid4().hex[:8]}"
    c.run_on_chain(stack.rpc_url, lambda cl: c.authorize_edge(cl, edge, stack.keys))
    return edge


def _proof(key: SigningKey, owner: str, edge: str, meter_id: str | None = None) -> dict[str, Any]:
    """What ``gridx edge enrol-proof`` prints."""
    sig = c.sign_enrolment(key, Pubkey.from_string(owner), edge)
    meter_id = meter_id or f"m-{uuid.uuid4().hex[:10]}"
    pubkey = key.verify_key.encode().hex()
    return {"meter_id": meter_id, "pubkey": pubkey, "edge_id": edge, "owner": owner, "proof": sig.hex()}


def _refused(fn: Any, code: str) -> ApiProblem:
    with pytest.raises(ApiProblem) as exc:
        fn()
    assert exc.value.code == code, exc.value
    assert exc.value.body["type"].endswith(code)
    return exc.value


def _mine(cl: TradingClient, meter_id: str) -> list[dict[str, Any]]:
    return [m for m in cl.meters() if m["meter_id"] == meter_id]


def _mint_one(stack: Stack, key: SigningKey, meter_id: str, edge: str, wh: int) -> None:
    """One meter-signed 1-second window stored as the gateway stores an accepted reading (the
    reading and its outbox row), then the mint worker's usual path to the chain, where the
    program checks the meter's signature against the key the API enrolled."""
    start = int(time.time()) + 1  # after the enrolment by the cluster clock
    u = UnsignedReading(
        meter_id=meter_id,
        seq=1,
        window_start=start,
        window_end=start + 1,
        produced_wh=wh,
        consumed_wh=0,
        produced_total_wh=wh,
        consumed_total_wh=0,
        prev_hash=GENESIS_HASH,
    )
    # the window must have ended by the cluster clock (a block's clock is its wall second)
    wait_until(lambda: time.time() >= u.window_end + 1, 5, "window over")
    store_for_mint(stack.dsn, sign_reading(u, key), edge)
    worker = MintThread(ChainSetup(stack.rpc_url, stack.keys, stack.dsn).settings()).start()
    try:
        done = "SELECT status FROM mint_outbox WHERE meter_id = %s"
        wait_until(lambda: stack.sql(done, meter_id) == [("confirmed",)], 30, "minted by the worker")
    finally:
        worker.stop()


def test_enrolment_through_the_api_then_a_signed_reading_mints(stack: Stack) -> None:
    cl = stack.user("prosumer")
    edge, key = _edge(stack), SigningKey.generate()
    proof = _proof(key, cl.wallet, edge)
    prepared = cl.prepare_enrolment(proof, RATED_W, interval_s=1)
    assert prepared["cosigner"] == c.load_deployment(stack.keys).registry_authority
    assert _mine(cl, proof["meter_id"]) == []  # built, not signed: nothing to show

    out = cl.sign_and_submit(prepared)
    assert out["status"] == "confirmed" and out["kind"] == "enrol"
    [view] = _mine(cl, proof["meter_id"])
    assert view == {
        "meter_id": proof["meter_id"],
        "pubkey": proof["pubkey"],
        "edge_id": edge,
        "rated_power_w": RATED_W,
        "interval_s": 1,
        "status": "active",
        "tx_id": None,
        "tx_signature": None,
        "reason": None,
    }
    meter = Pubkey.from_bytes(key.verify_key.encode())
    acct = c.run_on_chain(stack.rpc_url, lambda ch: c.fetch_decoded(ch, "registry", c.meter_pda(meter)))
    assert str(acct.owner) == cl.wallet and int(acct.rated_power_w) == RATED_W and int(acct.interval_s) == 1
    assert bytes(acct.edge_id).rstrip(b"\0").decode() == edge
    row = stack.sql("SELECT owner_wallet, edge_id, on_chain FROM meters WHERE meter_id = %s", proof["meter_id"])
    assert row == [(cl.wallet, edge, True)]

    _mint_one(stack, key, proof["meter_id"], edge, 27)
    [mint] = [m for m in cl.request("GET", "/me/mints") if m["meter_id"] == proof["meter_id"]]
    assert mint["amount"] == 27_000
    assert stack.chain_balance(cl.wallet, "grxe") == 27_000
    assert stack.reconcile()["drift"] == 0


def test_what_the_program_would_refuse_is_refused_first(stack: Stack) -> None:
    a, b = stack.user("prosumer"), stack.user("consumer")
    edge, key = _edge(stack), SigningKey.generate()
    own = _proof(key, a.wallet, edge)
    _refused(lambda: a.prepare_enrolment({**own, "proof": "ab" * 64}, RATED_W), "enrolment_bad_proof")
    # a proof the meter key made for A, presented by B: bound to A, so refused for B
    _refused(lambda: b.prepare_enrolment({**own, "owner": b.wallet}, RATED_W), "enrolment_bad_proof")
    _refused(lambda: a.prepare_enrolment(_proof(key, a.wallet, "edge-nobody"), RATED_W), "unknown_edge")
    for watts in (0, -1, RATED_W + 1, 10_000_001):  # above the API's limit, above the program's
        _refused(lambda w=watts: a.prepare_enrolment(own, w), "rated_power_out_of_range")  # type: ignore[misc]
    _refused(lambda: a.prepare_enrolment(own, RATED_W, interval_s=7), "meter_interval_invalid")
    stranger = stack.client()
    stranger.login()
    _refused(lambda: stranger.prepare_enrolment(_proof(key, stranger.wallet, edge), RATED_W), "not_registered")

    assert a.enrol_meter(own, RATED_W)["status"] == "confirmed"
    again = _proof(key, a.wallet, edge)  # the same key under a new meter id
    _refused(lambda: a.prepare_enrolment(again, RATED_W), "meter_already_enrolled")
    taken = _proof(SigningKey.generate(), a.wallet, edge, own["meter_id"])  # the same id, a new key
    _refused(lambda: a.prepare_enrolment(taken, RATED_W), "meter_already_enrolled")
    # an id, or a key, held by an enrolment in another pairing that can still land; the same
    # pairing again is a retry
    key2 = SigningKey.generate()
    pending = _proof(key2, a.wallet, edge)
    a.prepare_enrolment(pending, RATED_W)
    rival = _proof(SigningKey.generate(), b.wallet, edge, pending["meter_id"])
    _refused(lambda: b.prepare_enrolment(rival, RATED_W), "meter_already_enrolled")
    _refused(lambda: a.prepare_enrolment(_proof(key2, a.wallet, edge), RATED_W), "meter_already_enrolled")
    assert a.enrol_meter(pending, RATED_W)["status"] == "confirmed"
    assert [m["status"] for m in _mine(a, pending["meter_id"])] == ["active"]


def test_the_chain_refuses_a_proof_for_another_owner_even_with_the_authority(stack: Stack) -> None:
    """The API's proof check is not the only line: the program's own Ed25519 check refuses a
    proof bound to another owner even when the registry authority co-signs."""
    owner = stack.user("prosumer").keypair
    edge, key = _edge(stack), SigningKey.generate()
    authority = c.load_keypair(stack.keys / "registry_authority.json")
    other = Keypair().pubkey()
    proof = c.sign_enrolment(key, other, edge)  # made for someone else
    meter = Pubkey.from_bytes(key.verify_key.encode())
    ixs = c.build_register_meter_ixs(owner.pubkey(), authority.pubkey(), meter, edge.encode(), RATED_W, 900, proof)
    # the proof checked over this owner's message: the Ed25519 precompile refuses it; checked
    # over the message it was made for: the registry refuses a proof naming another owner
    as_made = [c.ed25519_ix(bytes(meter), proof, c.enrolment_message(meter, other, edge)), ixs[1]]
    for attempt, code in ((ixs, "InvalidSignature"), (as_made, "MissingProofOfPossession")):
        with pytest.raises(ChainError) as exc:
            c.run_on_chain(stack.rpc_url, lambda ch, a=attempt: c.send_and_confirm(ch, a, [owner, authority]))  # type: ignore[misc]
        assert exc.value.code == code
    assert c.run_on_chain(stack.rpc_url, lambda ch: c.fetch_account(ch, c.meter_pda(meter))) is None


def test_an_altered_or_unsigned_enrolment_gets_no_approval(stack: Stack) -> None:
    cl = stack.user("prosumer")
    edge = _edge(stack)
    prepared = cl.prepare_enrolment(_proof(SigningKey.generate(), cl.wallet, edge), RATED_W)
    wire = base64.b64decode(prepared["transaction"])
    tx = Transaction.from_bytes(wire)
    raw = bytearray(bytes(tx.message))
    raw[-1] ^= 1  # one byte of the register_meter data (interval) changed
    altered = bytes(Transaction.populate(Message.from_bytes(bytes(raw)), list(tx.signatures)))
    signed = c.sign_prepared_tx(altered, [cl.keypair])
    body = {"transaction": base64.b64encode(signed).decode()}
    _refused(lambda: cl.request("POST", f"/transactions/{prepared['tx_id']}", json=body), "tx_altered")
    # the exact message, without the owner's signature: the API's co-signature alone is refused
    body = {"transaction": prepared["transaction"]}
    _refused(lambda: cl.request("POST", f"/transactions/{prepared['tx_id']}", json=body), "tx_signature_invalid")
    assert _mine(cl, prepared["meter_id"]) == []


def test_an_enrolment_sent_outside_the_api_is_written_by_the_indexer(stack: Stack) -> None:
    """The owner signs and the transaction lands without ``POST /transactions`` (a submit that
    died after sending): "pending" while the chain has it, then the indexer writes the row."""
    cl = stack.user("prosumer")
    edge, key = _edge(stack), SigningKey.generate()
    proof = _proof(key, cl.wallet, edge)
    prepared = cl.prepare_enrolment(proof, RATED_W, interval_s=900)
    authority = c.load_keypair(stack.keys / "registry_authority.json")
    signed = c.sign_prepared_tx(base64.b64decode(prepared["transaction"]), [cl.keypair, authority])
    c.run_on_chain(stack.rpc_url, lambda ch: c.send_tx(ch, Transaction.from_bytes(signed)))
    assert [m["status"] for m in _mine(cl, proof["meter_id"])] in ([], ["pending"], ["active"])
    wait_until(lambda: [m["status"] for m in _mine(cl, proof["meter_id"])] == ["active"], 20, "indexed")
    assert stack.sql("SELECT interval_s, on_chain FROM meters WHERE meter_id = %s", proof["meter_id"]) == [(900, True)]
    events = "SELECT count(*) FROM chain_events WHERE name = 'MeterRegistered' AND data->>'owner' = %s"
    assert stack.sql(events, cl.wallet) == [(1,)]


def test_a_meter_id_taken_meanwhile_is_a_named_apply_error(stack: Stack) -> None:
    """The chain enrols the key, but the id was taken in the mirror meanwhile (a database-only
    enrolment): no row under a made-up id, the event kept with its error."""
    cl = stack.user("prosumer")
    edge, key = _edge(stack), SigningKey.generate()
    proof = _proof(key, cl.wallet, edge)
    prepared = cl.prepare_enrolment(proof, RATED_W)
    stack.sql(
        "INSERT INTO meters (meter_id, pubkey, owner_wallet, edge_id, rated_power_w) VALUES (%s, %s, %s, %s, 1)",
        proof["meter_id"],
        "ab" * 32,
        cl.wallet,
        edge,
    )
    assert cl.sign_and_submit(prepared)["status"] == "confirmed"
    errors = "SELECT apply_error FROM chain_events WHERE name = 'MeterRegistered' AND data->>'owner' = %s"
    [(error,)] = stack.sql(errors, cl.wallet)
    assert str(error).startswith("EnrolmentConflict")
    assert stack.sql("SELECT count(*) FROM meters WHERE pubkey = %s", proof["pubkey"]) == [(0,)]
    [view] = [m for m in cl.meters() if m["pubkey"] == proof["pubkey"]]
    assert view["status"] == "failed" and view["reason"].startswith("EnrolmentConflict")
    assert stack.reconcile()["drift"] == 0


def test_an_edge_served_by_another_gateways_minter_is_known(stack: Stack) -> None:
    """Not only the deployment's gateway: any minter the token admin bound to the edge."""
    cl = stack.user("prosumer")
    admin = c.load_keypair(stack.keys / "token_admin.json")
    edge = f"site-{uuid.uuid4().hex[:8]}"
    proof = _proof(SigningKey.generate(), cl.wallet, edge)
    _refused(lambda: cl.prepare_enrolment(proof, RATED_W), "unknown_edge")
    ix = c.build_add_minter_ix(admin.pubkey(), Keypair().pubkey(), edge)
    c.run_on_chain(stack.rpc_url, lambda ch: c.send_and_confirm(ch, [ix], [admin]))
    assert cl.enrol_meter(proof, RATED_W)["status"] == "confirmed"


def test_without_the_registry_authority_enrolment_is_unavailable(stack: Stack, tmp_path: Path) -> None:
    """An API whose keys dir holds no registry authority approves nothing: both the prepare and
    the submit of an enrolment answer 503 enrolment_unavailable; the rest of the API serves."""
    keys = tmp_path / "chain"
    shutil.copytree(stack.keys, keys, ignore=shutil.ignore_patterns("registry_authority.json"))
    proc, url, _ = start_api(
        stack.dsn, stack.rpc_url, keys, tmp_path, GRIDX_API_MATCHER="false", GRIDX_API_INDEXER="false"
    )
    try:
        cl = stack.user("prosumer")
        proof = _proof(SigningKey.generate(), cl.wallet, _edge(stack))
        prepared = cl.prepare_enrolment(proof, RATED_W)  # by the API that has the key
        other = TradingClient(url, cl.keypair)
        other.login()
        assert other.me()["registration"] == "registered"
        err = _refused(lambda: other.prepare_enrolment(proof, RATED_W), "enrolment_unavailable")
        assert err.status == 503
        _refused(lambda: other.sign_and_submit(prepared), "enrolment_unavailable")
        assert cl.sign_and_submit(prepared)["status"] == "confirmed"  # still intact for the one that has it
    finally:
        stop_process(proc)
