"""Gateway mint path: readings → broker → gateway → outbox → mint worker → SBF programs in
the local chain. Real mosquitto, real PostgreSQL, real LiteSVM behind JSON-RPC."""

from __future__ import annotations

import os
from pathlib import Path

from gridx.services import MosquittoBroker
from tests.helpers.gateway import GatewayThread, Meter, Publisher, gateway_config, scalar, wait_until
from tests.helpers.mint import EDGE, HOUR, ChainSetup, MintThread, hourly, outbox_counts, reading, store_for_mint


def test_seed_scenarios_mint_exact_amounts(chain: ChainSetup, broker: MosquittoBroker) -> None:
    """15 - 8 kWh mints 7,000,000; 25.5 - 10.2 kWh mints 15,300,000; deficit and balance mint nothing."""
    a, b, c, d = (hourly(f"seed-{x}") for x in "abcd")
    owners = {m.meter_id: chain.enroll(m) for m in (a, b, c, d)}
    gw = GatewayThread(gateway_config(broker, chain.dsn)).start()
    # /metrics where the settings say (not the hard-coded 127.0.0.1 it once was)
    worker = MintThread(chain.settings(metrics_host="127.0.0.2", metrics_port=0)).start()
    pub = Publisher(broker, EDGE)
    try:
        pub.publish(
            [reading(a, 15_000, 8_000), reading(b, 25_500, 10_200), reading(c, 5_000, 8_000), reading(d, 6_000, 6_000)]
        )
        wait_until(lambda: scalar(chain.dsn, "SELECT count(*) FROM readings") == 4, 30, "4 readings stored")
        wait_until(lambda: outbox_counts(chain.dsn) == {"confirmed": 2}, 30, "2 mints confirmed")
        wait_until(lambda: worker.worker.metrics_port is not None, 10, "mint /metrics served")
        url = f"http://127.0.0.2:{worker.worker.metrics_port}/metrics"
        # the counters move just after the outbox commit: wait for them, then read them once
        wait_until(lambda: _metrics(url).get(("gridx_mints_total", "confirmed")) == 2, 10, "mints counted")
        metrics = _metrics(url)
    finally:
        pub.close()
        worker.stop()
        gw.stop()
    assert metrics[("gridx_mints_total", "confirmed")] == 2
    assert metrics[("gridx_mint_latency_seconds_count", "")] == 2
    assert all(name.startswith("gridx_mint") for name, _ in metrics), metrics  # its own registry only
    assert chain.grxe_balance(str(owners["seed-a"].pubkey())) == 7_000_000
    assert chain.grxe_balance(str(owners["seed-b"].pubkey())) == 15_300_000
    assert chain.grxe_balance(str(owners["seed-c"].pubkey())) == 0
    assert chain.grxe_balance(str(owners["seed-d"].pubkey())) == 0
    assert scalar(chain.dsn, "SELECT sum(amount)::bigint FROM token_mints") == 22_300_000
    assert scalar(chain.dsn, "SELECT count(*) FROM token_mints WHERE tx_signature <> 'unknown' AND slot > 0") == 2
    # the latency stages are recorded, in order (one clock: the worker's is the database's host's)
    staged = "created_at <= claimed_at AND claimed_at <= sent_at AND sent_at <= confirmed_at"
    assert scalar(chain.dsn, f"SELECT count(*) FROM mint_outbox WHERE status = 'confirmed' AND {staged}") == 2
    rep = chain.reconcile()
    assert rep.drift == 0, rep
    assert rep.supply == 22_300_000
    # the one command: owner balances are the trading area's check (mints plus trades, none yet)
    out = chain.reconcile_cli()
    assert out["drift"] == 0 and out["areas"]["mint"]["supply"] == 22_300_000, out
    assert out["areas"]["trading"]["owner_grxe"] == {} and out["areas"]["mint"]["strict_balances"] is False, out
    _prove_and_tamper(chain, a)


def _prove_and_tamper(chain: ChainSetup, meter: Meter) -> None:
    """`gridx prove` verifies a mint from the chain and the database, and notices tampering."""
    import json
    import subprocess

    import psycopg

    from gridx.services import gridx_command

    start = scalar(
        chain.dsn,
        "SELECT extract(epoch FROM window_start)::bigint FROM token_mints WHERE meter_id = %s",
        meter.meter_id,
    )
    env = {**os.environ, "GRIDX_MINT_DSN": chain.dsn, "GRIDX_MINT_RPC_URL": chain.url}
    res = subprocess.run(
        [*gridx_command("prove"), f"{meter.meter_id}@{start}"], env=env, capture_output=True, text=True
    )
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert res.returncode == 0 and out["verified"] and out["amount"] == 7_000_000, res.stdout + res.stderr
    with psycopg.connect(chain.dsn) as conn:  # the stored reading no longer matches what was signed
        conn.execute(
            "UPDATE readings SET produced_wh = produced_wh + 1, surplus_wh = surplus_wh + 1 WHERE meter_id = %s",
            (meter.meter_id,),
        )
    res = subprocess.run([*gridx_command("prove"), out["signature"]], env=env, capture_output=True, text=True)
    bad = json.loads(res.stdout.strip().splitlines()[-1])
    assert res.returncode == 1 and bad["failed"] == ["seq 1 stored with the same bytes and signature"], res.stdout


def _metrics(url: str) -> dict[tuple[str, str], float]:
    """Every gridx sample the worker's /metrics serves, summed per (name, outcome)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("gridx_"):
                key = (sample.name, sample.labels.get("outcome", ""))
                out[key] = out.get(key, 0.0) + sample.value
    return out


def test_chain_refusal_is_recorded_not_retried(chain: ChainSetup, broker: MosquittoBroker) -> None:
    """A window minted behind the worker's back is recorded as already done; a meter revoked
    on chain gets its pending mints refused with the program's reason, and the mirror follows."""
    import asyncio

    from solana.rpc.async_api import AsyncClient
    from solders.pubkey import Pubkey

    from gridx.chain import (
        METER_REVOKED,
        build_mint_readings_ixs,
        build_set_meter_status_ix,
        load_keypair,
        run_on_chain,
        send_and_confirm,
        signed_reading,
    )

    early, revoked = hourly("pre-minted"), hourly("revoked")
    owner_early, owner_revoked = chain.enroll(early), chain.enroll(revoked)
    first = reading(early, 2_000, 500)
    gone = reading(revoked, 3_000, 1_000)
    minter = load_keypair(chain.minter_keypair)
    early_key = Pubkey.from_bytes(early.key.verify_key.encode())
    revoked_key = Pubkey.from_bytes(revoked.key.verify_key.encode())

    async def interfere(client: AsyncClient) -> None:
        ixs = build_mint_readings_ixs(minter.pubkey(), early_key, owner_early.pubkey(), EDGE, [signed_reading(first)])
        await send_and_confirm(client, ixs, [minter])
        await send_and_confirm(
            client, [build_set_meter_status_ix(chain.authority.pubkey(), revoked_key, METER_REVOKED)], [chain.authority]
        )

    gw = GatewayThread(gateway_config(broker, chain.dsn)).start()
    pub = Publisher(broker, EDGE)
    try:
        pub.publish([first, gone])
        wait_until(lambda: outbox_counts(chain.dsn) == {"pending": 2}, 30, "2 pending mints")
        run_on_chain(chain.url, interfere)
        worker = MintThread(chain.settings()).start()
        try:
            wait_until(lambda: outbox_counts(chain.dsn) == {"confirmed": 1, "refused": 1}, 30, "both judged")
            wait_until(
                lambda: scalar(chain.dsn, "SELECT status FROM meters WHERE meter_id = 'revoked'") == "revoked",
                10,
                "mirror follows the on-chain revocation",
            )
        finally:
            worker.stop()
        # the gateway's cache was invalidated by the mirror's update: new readings are refused
        pub.publish([reading(revoked, 3_000, 1_000)])
        wait_until(
            lambda: scalar(chain.dsn, "SELECT count(*) FROM quarantine WHERE reason = 'revoked_meter'") == 1,
            10,
            "reading of the revoked meter quarantined",
        )
    finally:
        pub.close()
        gw.stop()
    assert scalar(chain.dsn, "SELECT reason FROM mint_outbox WHERE meter_id = 'pre-minted'") == "already_done"
    assert scalar(chain.dsn, "SELECT reason FROM mint_outbox WHERE meter_id = 'revoked'") == "MeterNotActive"
    assert chain.grxe_balance(str(owner_early.pubkey())) == 1_500_000
    assert chain.grxe_balance(str(owner_revoked.pubkey())) == 0
    del asyncio


def test_chain_computes_and_bounds_the_amount_and_bad_rows_fail_alone(chain: ChainSetup) -> None:
    """The program, not the gateway, computes the amount from the signed reading and bounds it
    by rated power: a reading above it (stored directly, as a buggy or compromised gateway
    might, with an inflated outbox amount) is refused alone; a row with no stored reading is
    'failed' alone; the good reading between them is minted as signed."""
    import psycopg

    small = hourly("small", rated_w=1_000)
    owner = chain.enroll(small)
    over, good = reading(small, 5_000, 0), reading(small, 1_000, 0)
    for r in (over, good):
        store_for_mint(chain.dsn, r, EDGE, outbox_amount=9_999_000)
    with psycopg.connect(chain.dsn) as conn:
        conn.execute(
            # older than the claim's grace for a reading not yet visible: it never will be
            "INSERT INTO mint_outbox (meter_id, window_start, window_end, surplus_wh, amount, created_at)"
            " VALUES ('small', to_timestamp(%s), to_timestamp(%s), 1, 1000, now() - interval '2 minutes')",
            (good.window_end, good.window_end + HOUR),
        )
    worker = MintThread(chain.settings()).start()
    try:
        wait_until(lambda: outbox_counts(chain.dsn) == {"refused": 1, "confirmed": 1, "failed": 1}, 30, "all judged")
    finally:
        worker.stop()
    assert scalar(chain.dsn, "SELECT reason FROM mint_outbox WHERE status = 'refused'") == "ExceedsRatedPower"
    assert "unpackable" in scalar(chain.dsn, "SELECT reason FROM mint_outbox WHERE status = 'failed'")
    # minted as signed (1,000 Wh), not as the outbox row claimed
    assert chain.grxe_balance(str(owner.pubkey())) == 1_000_000


def test_cli_enrols_and_revokes_on_chain_then_mirrors(chain: ChainSetup, tmp_path: Path) -> None:
    import subprocess

    from solders.keypair import Keypair
    from solders.pubkey import Pubkey

    from gridx.chain import METER_REVOKED, airdrop, fetch_decoded, meter_pda, run_on_chain, save_keypair, sign_enrolment
    from gridx.services import gridx_command

    owner = Keypair()
    save_keypair(tmp_path / "owner.json", owner)
    run_on_chain(chain.url, lambda c: airdrop(c, owner.pubkey(), 10**9))
    meter = hourly("cli-meter")
    gridx = gridx_command("meters")
    common = [
        "--dsn",
        chain.dsn,
        "--rpc-url",
        chain.url,
        "--authority-keypair",
        str(chain.keys / "registry_authority.json"),
    ]
    subprocess.run(
        [
            *gridx,
            "enroll",
            "--meter-id",
            "cli-meter",
            "--pubkey",
            meter.pubkey_hex,
            "--edge",
            EDGE,
            "--rated-power-w",
            "5000",
            "--owner-keypair",
            str(tmp_path / "owner.json"),
            "--proof",
            sign_enrolment(meter.key, owner.pubkey(), EDGE).hex(),
            *common,
        ],
        check=True,
        capture_output=True,
    )
    key = Pubkey.from_bytes(bytes.fromhex(meter.pubkey_hex))
    acct = run_on_chain(chain.url, lambda c: fetch_decoded(c, "registry", meter_pda(key)))
    assert acct is not None and str(acct.owner) == str(owner.pubkey())
    assert scalar(chain.dsn, "SELECT owner_wallet FROM meters WHERE meter_id = 'cli-meter'") == str(owner.pubkey())
    subprocess.run([*gridx, "revoke", "--meter-id", "cli-meter", *common], check=True, capture_output=True)
    acct = run_on_chain(chain.url, lambda c: fetch_decoded(c, "registry", meter_pda(key)))
    assert acct.status == METER_REVOKED
    assert scalar(chain.dsn, "SELECT status FROM meters WHERE meter_id = 'cli-meter'") == "revoked"
    # without the owner's signature there is no on-chain enrolment
    other = hourly("cli-unsigned")
    res = subprocess.run(
        [
            *gridx,
            "enroll",
            "--meter-id",
            "cli-unsigned",
            "--pubkey",
            other.pubkey_hex,
            "--edge",
            EDGE,
            "--rated-power-w",
            "5000",
            *common,
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0 and "--owner-keypair" in res.stderr
