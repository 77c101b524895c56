"""``gridx meters enroll|rotate|update|revoke|unrevoke --rpc-url``: the registry program changes
first and the PostgreSQL mirror follows; a refusal on chain is a named error and leaves the
mirror as it was. ``gridx edge enrol-proof`` makes the meter key's proof of possession where
the key lives. Real PostgreSQL, the SBF programs in the in-process LiteSVM node over JSON-RPC."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from typer.testing import CliRunner

from edge.keys import ensure_key
from gridx.chain import (
    METER_ACTIVE,
    METER_REVOKED,
    LocalNode,
    NodeConfig,
    airdrop,
    fetch_decoded,
    meter_pda,
    run_on_chain,
    save_keypair,
)
from gridx.cli import app
from gridx.registry import fetch_chain_meters, sync_mirror
from tests.helpers.gateway import scalar, setup_db
from tests.helpers.mint import ChainSetup, bootstrap_chain

EDGE = "edge-ops"


@pytest.fixture
def chain(pg_dsn: str, tmp_path: Path) -> Iterator[ChainSetup]:
    node = LocalNode.start(NodeConfig())
    try:
        setup_db(pg_dsn)
        yield bootstrap_chain(node.url, tmp_path / "keys", pg_dsn, node)
    finally:
        node.stop()


def _gridx(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _meters(chain: ChainSetup, *args: str) -> Any:
    auth = str(chain.keys / "registry_authority.json")
    return _gridx("meters", *args, "--dsn", chain.dsn, "--rpc-url", chain.url, "--authority-keypair", auth)


def _proof(keys: Path, meter_id: str, owner: Pubkey) -> dict[str, str]:
    """What the edge prints for the operator (the key stays on the edge)."""
    res = _gridx(
        "edge", "enrol-proof", "--edge-id", EDGE, "--meter-id", meter_id, "--owner", str(owner), "--keys-dir", str(keys)
    )
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _on_chain(chain: ChainSetup, pubkey_hex: str) -> Any:
    key = Pubkey.from_bytes(bytes.fromhex(pubkey_hex))
    return run_on_chain(chain.url, lambda c: fetch_decoded(c, "registry", meter_pda(key)))


def _row(chain: ChainSetup, meter_id: str) -> tuple[Any, ...]:
    with psycopg.connect(chain.dsn) as c:
        row = c.execute(
            "SELECT pubkey, status, rated_power_w, interval_s, edge_id FROM meters WHERE meter_id = %s", (meter_id,)
        ).fetchone()
    assert row is not None
    return tuple(row)


def _mirror_agrees(chain: ChainSetup) -> bool:
    """A registry mirror pass finds nothing to change: the commands left chain and mirror equal."""

    async def go(client: Any) -> int:
        with psycopg.connect(chain.dsn) as conn:
            return sync_mirror(conn, await fetch_chain_meters(client))

    return run_on_chain(chain.url, go) == 0


@pytest.fixture
def enrolled(chain: ChainSetup, tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """One meter enrolled through the CLI with the proof the edge made; returns (edge keys dir,
    owner keypair file, the edge's output)."""
    keys, owner = tmp_path / "edge-keys", Keypair()
    save_keypair(tmp_path / "owner.json", owner)
    run_on_chain(chain.url, lambda c: airdrop(c, owner.pubkey(), 10**9))
    ensure_key(keys, "op-1")
    out = _proof(keys, "op-1", owner.pubkey())
    res = _meters(
        chain, "enroll", "--meter-id", "op-1", "--pubkey", out["pubkey"], "--edge", EDGE, "--rated-power-w", "5000",
        "--interval-s", "900", "--owner-keypair", str(tmp_path / "owner.json"), "--proof", out["proof"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return keys, tmp_path / "owner.json", out


def test_the_edge_proof_enrols_and_a_proof_for_another_owner_does_not(chain: ChainSetup, enrolled: Any) -> None:
    keys, owner_file, out = enrolled
    acct = _on_chain(chain, out["pubkey"])
    assert acct.status == METER_ACTIVE and str(acct.owner) == out["owner"]
    assert _row(chain, "op-1")[:2] == (out["pubkey"], "active") and _mirror_agrees(chain)
    # a proof made for someone else's wallet does not enrol the key for this owner
    ensure_key(keys, "op-2")
    stolen = _proof(keys, "op-2", Keypair().pubkey())
    res = _meters(
        chain, "enroll", "--meter-id", "op-2", "--pubkey", stolen["pubkey"], "--edge", EDGE, "--rated-power-w",
        "5000", "--owner-keypair", str(owner_file), "--proof", stolen["proof"],
    )  # fmt: skip
    # the Ed25519 program checks the signature over the enrolment bytes for *this* owner
    assert res.exit_code == 1 and "refused on chain: InvalidSignature" in res.output, res.output
    assert _on_chain(chain, stolen["pubkey"]) is None
    assert scalar(chain.dsn, "SELECT count(*) FROM meters WHERE meter_id = 'op-2'") == 0


def test_rotate_revokes_the_old_key_and_enrols_the_new_one_on_chain_then_mirrors(
    chain: ChainSetup, enrolled: Any
) -> None:
    keys, owner_file, old = enrolled
    (keys / "op-1.key").unlink()  # the replacement device: a new key for the same meter id
    ensure_key(keys, "op-1")
    new = _proof(keys, "op-1", Pubkey.from_string(old["owner"]))
    assert new["pubkey"] != old["pubkey"]
    # the new key's proof for another owner is refused on chain by name; nothing changes
    wrong = _proof(keys, "op-1", Keypair().pubkey())
    args = ["rotate", "--meter-id", "op-1", "--pubkey", new["pubkey"], "--owner-keypair", str(owner_file)]
    res = _meters(chain, *args, "--proof", wrong["proof"])
    assert res.exit_code == 1 and "refused on chain: InvalidSignature" in res.output, res.output
    assert _on_chain(chain, old["pubkey"]).status == METER_ACTIVE and _on_chain(chain, new["pubkey"]) is None
    assert _row(chain, "op-1")[0] == old["pubkey"]

    res = _meters(chain, *args, "--proof", new["proof"])
    assert res.exit_code == 0, res.output
    assert _on_chain(chain, old["pubkey"]).status == METER_REVOKED
    acct = _on_chain(chain, new["pubkey"])
    assert (acct.status, str(acct.owner), acct.rated_power_w, acct.interval_s) == (
        METER_ACTIVE,
        old["owner"],
        5000,
        900,
    )
    assert _row(chain, "op-1") == (new["pubkey"], "active", 5000, 900, EDGE)
    assert scalar(chain.dsn, "SELECT action FROM meter_events ORDER BY id DESC LIMIT 1") == "rebaseline"
    assert scalar(chain.dsn, "SELECT count(*) FROM meter_events WHERE action = 'rotate_key'") == 1
    assert _mirror_agrees(chain)


def test_update_revoke_unrevoke_on_chain_then_mirror(chain: ChainSetup, enrolled: Any) -> None:
    _, _, out = enrolled
    res = _meters(chain, "update", "--meter-id", "op-1", "--rated-power-w", "7000", "--interval-s", "1800")
    assert res.exit_code == 0, res.output
    acct = _on_chain(chain, out["pubkey"])
    assert (acct.rated_power_w, acct.interval_s) == (7000, 1800)
    assert _row(chain, "op-1")[2:4] == (7000, 1800) and _mirror_agrees(chain)
    # the program's bound on rated power (10 MW): refused by name, the mirror unchanged
    res = _meters(chain, "update", "--meter-id", "op-1", "--rated-power-w", str(10_000_001))
    assert res.exit_code == 1 and "InvalidRatedPower" in res.output, res.output
    assert _row(chain, "op-1")[2] == 7000 and _on_chain(chain, out["pubkey"]).rated_power_w == 7000

    assert _meters(chain, "revoke", "--meter-id", "op-1").exit_code == 0
    assert _on_chain(chain, out["pubkey"]).status == METER_REVOKED and _row(chain, "op-1")[1] == "revoked"
    res = _meters(chain, "unrevoke", "--meter-id", "op-1")
    assert res.exit_code == 0, res.output
    assert _on_chain(chain, out["pubkey"]).status == METER_ACTIVE and _row(chain, "op-1")[1] == "active"
    assert scalar(chain.dsn, "SELECT count(*) FROM meter_events WHERE action = 'unrevoke'") == 1
    res = _meters(chain, "unrevoke", "--meter-id", "op-1")
    assert res.exit_code == 1 and "not revoked" in res.output
    assert _mirror_agrees(chain)
    # a database-only change of a chain-enrolled meter is refused: the mirror would undo it
    res = _gridx("meters", "set-interval", "--meter-id", "op-1", "--interval-s", "3600", "--dsn", chain.dsn)
    assert res.exit_code == 1 and "on chain" in res.output, res.output
