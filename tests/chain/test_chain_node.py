"""The same flows through the local JSON-RPC node with solana-py's clients: register -> mint ->
trade, named errors through RPC, events from getTransaction, journal restart, bootstrap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from solana.rpc.async_api import AsyncClient
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

import gridx.chain as c
from gridx.chain import bootstrap
from gridx.errors import ChainError
from tests.helpers.chain import SOL, T0, MeterChain, RpcWorld, rpc_world


@pytest.fixture
def node(tmp_path: Path) -> Iterator[c.LocalNode]:
    n = c.LocalNode.start(c.NodeConfig(journal=tmp_path / "ledger.bin"))
    yield n
    n.stop()


@pytest.fixture
async def client(node: c.LocalNode) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(node.url) as cl:
        yield cl


@pytest.fixture
async def world(client: AsyncClient, node: c.LocalNode, tmp_path: Path) -> RpcWorld:
    return await rpc_world(client, tmp_path / "keys", node)


def _grxe(w: RpcWorld, who: Keypair) -> Pubkey:
    return c.ata_address(who.pubkey(), w.market.energy_mint)


async def test_register_mint_trade_over_rpc(client: AsyncClient, world: RpcWorld) -> None:
    w = world
    meter = await c.fetch_decoded(client, "registry", c.meter_pda(w.meter))
    assert meter.owner == w.prosumer.pubkey() and meter.status == c.METER_ACTIVE

    ixs = w.mint_ixs([w.meter_chain.reading(T0 + i * 900, 1_000) for i in range(3)])
    sig = await c.send_and_confirm(client, ixs, [w.gateway])
    events = await c.transaction_events(client, sig)
    assert [(e.name, e.data.window_start, e.data.window_end, e.data.amount) for e in events] == [
        ("TokensMinted", T0, T0 + 3 * 900, 3_000_000)
    ]
    bal = (await client.get_token_account_balance(_grxe(w, w.prosumer))).value
    assert (bal.amount, bal.decimals, bal.ui_amount_string) == ("3000000", 6, "3")
    assert (await client.get_token_supply(w.market.energy_mint)).value.amount == "3000000"

    with pytest.raises(ChainError) as exc:
        await c.send_and_confirm(client, ixs, [w.gateway])
    assert exc.value.code == "WindowAlreadyMinted"

    m = w.market
    await c.send_and_confirm(
        client, [c.build_create_sell_order_ix(w.prosumer.pubkey(), m, 1, 2_000_000, 400_000)], [w.prosumer]
    )
    await c.send_and_confirm(
        client, [c.build_create_buy_order_ix(w.consumer.pubkey(), m, 1, 2_000_000, 450_000)], [w.consumer]
    )
    sig = await c.send_and_confirm(
        client,
        [c.build_match_order_ix(w.market_auth.pubkey(), m, w.prosumer.pubkey(), 1, w.consumer.pubkey(), 1, 2_000_000)],
        [w.market_auth],
    )
    (trade,) = await c.transaction_events(client, sig)
    assert trade.name == "TradeExecuted" and trade.data.amount == 2_000_000 and trade.data.payment == 800_000
    assert await c.token_balance(client, _grxe(w, w.consumer)) == 2_000_000
    assert await c.token_balance(client, _grxe(w, w.prosumer)) == 1_000_000
    fee = trade.data.fee  # the bootstrapped market's fee (0 bps: the seed's Flow 4 market)
    assert await c.token_balance(client, c.ata_address(w.prosumer.pubkey(), m.payment_mint)) == 800_000 - fee
    assert await c.token_balance(client, c.ata_address(w.consumer.pubkey(), m.payment_mint)) == 10_000_000 - 800_000
    assert await c.fetch_account(client, c.order_pda(w.consumer.pubkey(), 1)) is None


async def test_preflight_error_has_validator_shape(node: c.LocalNode, client: AsyncClient, world: RpcWorld) -> None:
    w = world
    tx = c.build_tx(w.mint(T0, 0), [w.gateway], await c.latest_blockhash(client))
    import base64

    req = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "sendTransaction",
        "params": [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"}],
    }
    async with httpx.AsyncClient() as h:
        body = (await h.post(node.url, json=req)).json()
    err = body["error"]
    assert err["code"] == -32002 and err["data"]["err"] == {"InstructionError": [1, {"Custom": 6013}]}
    assert any("failed: custom program error: 0x177d" in line for line in err["data"]["logs"])
    assert c.error_name(c.program_ids().energy_token, 6013) == "ZeroAmount"


async def test_skip_preflight_failure_is_recorded_with_err(client: AsyncClient, world: RpcWorld) -> None:
    from solana.rpc.types import TxOpts

    w = world
    tx = c.build_tx(w.mint(T0, 10**6), [w.gateway], await c.latest_blockhash(client))
    sig = (await client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True, skip_confirmation=True))).value
    err = (await c.confirm_signatures(client, [sig]))[sig]
    assert c.chain_error(err, [], [c.ED25519_PROGRAM_ID, c.program_ids().energy_token]).code == "ExceedsRatedPower"
    assert await c.token_balance(client, _grxe(w, w.prosumer)) == 0


async def test_stale_blockhash_refused(client: AsyncClient, world: RpcWorld) -> None:
    with pytest.raises(ChainError) as exc:
        await c.send_tx(client, c.build_tx(world.mint(T0, 1), [world.gateway], Hash.new_unique()))
    assert exc.value.code == "BlockhashNotFound"


async def test_concurrent_senders(client: AsyncClient, world: RpcWorld) -> None:
    """Many clients at once (one lock around LiteSVM): no window is minted twice, and what
    was minted is exactly what the confirmed transactions say."""
    w = world
    bh = await c.latest_blockhash(client)
    readings = [w.meter_chain.reading(T0 + i * 900, 1) for i in range(20)]

    async def mint(i: int) -> tuple[int, Signature | None]:
        try:
            return i % 20, await c.send_tx(client, c.build_tx(w.mint_ixs([readings[i % 20]]), [w.gateway], bh))
        except ChainError as exc:
            assert exc.code in ("WindowAlreadyMinted", "AlreadyProcessed"), exc
            return i % 20, None

    sent = [(k, s) for k, s in await asyncio.gather(*(mint(i) for i in range(60))) if s is not None]
    results = await c.confirm_signatures(client, [s for _, s in sent])
    ok = [k for k, s in sent if results[s] is None]
    assert ok and len(ok) == len(set(ok)) and ok == sorted(ok)  # once each, in time order
    assert await c.token_balance(client, _grxe(w, w.prosumer)) == len(ok) * 1000


async def test_program_accounts_and_history(client: AsyncClient, world: RpcWorld) -> None:
    from solana.rpc.types import MemcmpOpts, TokenAccountOpts

    w = world
    owned = await client.get_program_accounts(
        c.program_ids().registry,  # MeterAccount: 126 bytes, owner at offset 40 (programs/README.md)
        filters=[126, MemcmpOpts(offset=40, bytes=str(w.prosumer.pubkey()))],
    )
    assert [a.pubkey for a in owned.value] == [c.meter_pda(w.meter)]
    sigs = (await client.get_signatures_for_address(c.meter_pda(w.meter))).value
    assert len(sigs) == 1 and sigs[0].err is None
    mine = await client.get_token_accounts_by_owner(w.consumer.pubkey(), TokenAccountOpts(mint=w.market.payment_mint))
    assert [a.pubkey for a in mine.value] == [c.ata_address(w.consumer.pubkey(), w.market.payment_mint)]


async def test_bootstrap_is_idempotent(client: AsyncClient, tmp_path: Path) -> None:
    first = await bootstrap(client, tmp_path / "k")
    admin = c.load_keypair(tmp_path / "k" / "token_admin.json")
    n = len((await client.get_signatures_for_address(admin.pubkey())).value)
    assert await bootstrap(client, tmp_path / "k") == first
    assert len((await client.get_signatures_for_address(admin.pubkey())).value) == n
    assert (tmp_path / "k" / "gateway_minter.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / "k" / "deployment.json").read_text())["market"] == first.market


async def test_journal_restart_keeps_state(tmp_path: Path) -> None:
    journal = tmp_path / "ledger.bin"
    n1 = c.LocalNode.start(c.NodeConfig(journal=journal))
    try:
        async with AsyncClient(n1.url) as cl:
            w = await rpc_world(cl, tmp_path / "keys", n1)
            ixs = w.mint(T0, 5)
            minted_sig = await c.send_and_confirm(cl, ixs, [w.gateway])
            slot = (await cl.get_slot()).value
    finally:
        n1.stop()
    n2 = c.LocalNode.start(c.NodeConfig(journal=journal))
    try:
        async with AsyncClient(n2.url) as cl:
            assert (await cl.get_slot()).value > slot
            assert await c.token_balance(cl, _grxe(w, w.prosumer)) == 5000
            assert await c.fetch_account(cl, c.mint_state_pda(w.meter)) is not None
            # history survives too: statuses, and events an indexer had not read yet
            assert (await c.confirm_signatures(cl, [minted_sig]))[minted_sig] is None
            ((sig, _, events),) = await c.fetch_events(cl, c.mint_state_pda(w.meter))
            assert sig == minted_sig and [e.name for e in events] == ["TokensMinted"]
            with pytest.raises(ChainError) as exc:
                await c.send_and_confirm(cl, ixs, [w.gateway])
            assert exc.value.code == "WindowAlreadyMinted"
            await c.send_and_confirm(cl, w.mint(T0 + 900, 7), [w.gateway])
            assert await c.token_balance(cl, _grxe(w, w.prosumer)) == 12_000
            assert (await cl.get_balance(w.consumer.pubkey())).value > 9 * SOL
    finally:
        n2.stop()


def test_sync_client(node: c.LocalNode) -> None:
    from solana.rpc.api import Client

    cl = Client(node.url)
    kp = Keypair()
    sig = cl.request_airdrop(kp.pubkey(), SOL).value
    assert cl.get_signature_statuses([sig]).value[0] is not None
    assert cl.get_balance(kp.pubkey()).value == SOL
    assert cl.is_connected()  # getHealth
    assert cl.get_minimum_balance_for_rent_exemption(165).value > 0


async def test_send_mints_one_transaction_per_meter_with_named_errors(
    node: c.LocalNode, client: AsyncClient, world: RpcWorld
) -> None:
    """The worker's path: one transaction per meter, consecutive windows together, each result
    with its program error; a repeat is refused by the high-water mark."""
    w = world
    unknown_meter = MeterChain()  # never enrolled
    stranger = c.MeterMint(unknown_meter.pubkey, w.prosumer.pubkey(), "edge-1", (unknown_meter.reading(T0, 1),))
    good = c.MeterMint(
        w.meter, w.prosumer.pubkey(), "edge-1", tuple(w.meter_chain.reading(T0 + i * 900, 10 + i) for i in range(3))
    )
    ok, unknown = await c.send_mints(client, node.url, w.gateway, [good, stranger])
    assert ok.error is None and ok.signature is not None and ok.slot
    assert unknown.error is not None and unknown.error.code == "InvalidAccountOwner"
    assert await c.token_balance(client, _grxe(w, w.prosumer)) == (10 + 11 + 12) * 1000
    (again,) = await c.send_mints(client, node.url, w.gateway, [good])
    assert again.error is not None and again.error.code == "WindowAlreadyMinted"
    over = c.MeterMint(w.meter, w.prosumer.pubkey(), "edge-1", (w.meter_chain.reading(T0 + 2700, 10**6),))
    (res,) = await c.send_mints(client, node.url, w.gateway, [over])
    assert res.error is not None and res.error.code == "ExceedsRatedPower"
    assert (await c.next_window_starts(client, [w.meter])) == {w.meter: T0 + 2700}
    # the indexer's view: the mint event once, resumable from a signature
    seen = await c.fetch_events(client, c.mint_state_pda(w.meter))
    assert [e.data.windows for _, _, evs in seen for e in evs if e.name == "TokensMinted"] == [3]
    assert await c.fetch_events(client, c.mint_state_pda(w.meter), until=seen[-1][0]) == []


async def test_submit_mints_sends_nothing_while_its_send_lock_is_held(
    node: c.LocalNode, client: AsyncClient, world: RpcWorld
) -> None:
    """A pipelined worker's next pass reaches the node only once the previous pass has (the
    node then runs them one after the other): while the lock is held nothing is sent."""
    w = world
    m = c.MeterMint(w.meter, w.prosumer.pubkey(), "edge-1", (w.meter_chain.reading(T0, 10),))
    prepared = await c.prepare_mints(client, w.gateway, [m])
    sig = prepared.txs[0].signatures[0]
    lock = asyncio.Lock()
    async with lock:
        task = asyncio.create_task(c.submit_mints(client, node.url, prepared, 30.0, lock))
        await asyncio.sleep(0)  # the task runs up to the lock (nothing before it awaits)...
        await c.airdrop(client, Keypair().pubkey(), SOL)  # ...and the node runs what came after it
        assert (await client.get_signature_statuses([sig])).value == [None]
        assert not task.done()
    (res,) = await task
    assert res.error is None and res.signature == sig
    assert await c.token_balance(client, _grxe(w, w.prosumer)) == 10_000


async def test_forged_signature_refused(client: AsyncClient, world: RpcWorld) -> None:
    """Signatures are verified: claiming the gateway as signer without its key fails."""
    from solders.message import Message
    from solders.signature import Signature as Sig
    from solders.transaction import Transaction

    w = world
    rogue = Keypair()
    await c.airdrop(client, rogue.pubkey(), SOL)
    msg = Message.new_with_blockhash(w.mint(T0, 1), rogue.pubkey(), await c.latest_blockhash(client))
    tx = Transaction.populate(msg, [rogue.sign_message(bytes(msg)), Sig.default()])
    with pytest.raises(ChainError) as exc:
        await c.send_tx(client, tx)
    assert exc.value.code == "SignatureFailure"
    assert await c.token_balance(client, _grxe(w, w.prosumer)) == 0


async def test_bad_requests_get_json_rpc_errors(node: c.LocalNode) -> None:
    async with httpx.AsyncClient() as h:
        bad = await h.post(node.url, content=b"{not json")
        assert bad.json()["error"]["code"] == -32700
        unknown = await h.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method": "nope", "params": []})
        assert unknown.json()["error"]["code"] == -32601
        junk = await h.post(node.url, json={"jsonrpc": "2.0", "id": 2, "method": "getBalance", "params": ["xyz"]})
        assert junk.json()["error"]["code"] == -32602
        batch = await h.post(
            node.url,
            json=[{"jsonrpc": "2.0", "id": 3, "method": "getSlot"}, {"jsonrpc": "2.0", "id": 4, "method": "getHealth"}],
        )
        assert [r["id"] for r in batch.json()] == [3, 4] and batch.json()[1]["result"] == "ok"


async def test_bootstrap_refuses_foreign_deployment(client: AsyncClient, tmp_path: Path) -> None:
    """The registry was initialised (by the deployer) for another authority: bootstrap must not
    pretend it is ours."""
    squatter, deployer = Keypair(), c.deployer_keypair()
    await c.airdrop(client, deployer.pubkey(), SOL)
    await c.send_and_confirm(client, [c.build_registry_initialize_ix(deployer.pubkey(), squatter.pubkey())], [deployer])
    with pytest.raises(ChainError) as exc:
        await bootstrap(client, tmp_path / "k")
    assert exc.value.code == "ForeignDeployment" and "registry authority" in str(exc.value)
    assert not (tmp_path / "k" / "deployment.json").exists()


def test_journal_drops_a_torn_tail_and_compacts(tmp_path: Path) -> None:
    from gridx.chain._svm import SvmChain

    path = tmp_path / "ledger.bin"
    chain = SvmChain(journal=path)
    kps = [Keypair() for _ in range(3)]
    for i, kp in enumerate(kps):
        chain.airdrop(kp.pubkey(), (i + 1) * SOL)
    chain.airdrop(kps[0].pubkey(), SOL)  # a second write of the same account
    chain.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])  # killed mid-write: the last record is torn
    chain = SvmChain(journal=path)
    assert [chain.account(k.pubkey()).lamports for k in kps] == [SOL, 2 * SOL, 3 * SOL]  # type: ignore[union-attr]
    from gridx.errors import ServiceError

    with pytest.raises(ServiceError):
        SvmChain(journal=path)  # a second node on the same journal
    chain.close()
    assert len(path.read_bytes()) < len(whole)  # compacted: one record per live account


def test_blockhash_expires_after_150_blocks() -> None:
    from gridx.chain._svm import BLOCKHASH_VALIDITY, SvmChain

    chain = SvmChain()
    first, last_valid = chain.latest_blockhash()
    for _ in range(BLOCKHASH_VALIDITY - 1):
        chain.airdrop(Keypair().pubkey(), 1)
        chain.latest_blockhash()  # a new block after each processed transaction
    assert chain.blockhash_valid(first) and chain.slot < last_valid
    chain.airdrop(Keypair().pubkey(), 1)
    chain.latest_blockhash()
    assert not chain.blockhash_valid(first)


async def test_simulate_unsigned_and_stale(client: AsyncClient, world: RpcWorld) -> None:
    """simulateTransaction as validators do it: unsigned is fine (sigVerify off), nothing changes."""
    from solders.message import Message
    from solders.signature import Signature as Sig
    from solders.transaction import Transaction

    w = world
    ixs = w.mint(T0, 1)
    msg = Message.new_with_blockhash(ixs, w.gateway.pubkey(), await c.latest_blockhash(client))
    sim = (await client.simulate_transaction(Transaction.populate(msg, [Sig.default()]))).value
    assert sim.err is None and any(line.startswith("Program data: ") for line in sim.logs)
    assert await c.token_balance(client, _grxe(w, w.prosumer)) == 0
    assert await c.fetch_account(client, c.mint_state_pda(w.meter)) is None
    stale = Message.new_with_blockhash(ixs, w.gateway.pubkey(), Hash.new_unique())
    sim = (await client.simulate_transaction(Transaction.populate(stale, [Sig.default()]))).value
    assert str(sim.err).endswith("BlockhashNotFound")


def test_signatures_for_address_pages(node: c.LocalNode) -> None:
    """More than one 1000-entry page: fetch_events walks back with `before` and misses nothing."""
    from solana.rpc.api import Client

    kp = Keypair()
    for _ in range(1010):
        node.chain.airdrop(kp.pubkey(), 1)  # cheap history entries on one address
    seen = asyncio.run(_all_sigs(node.url, kp.pubkey()))
    assert len(seen) == 1010 and len(set(seen)) == 1010
    newest = Client(node.url).get_signatures_for_address(kp.pubkey(), limit=1).value[0].signature
    assert seen[-1] == newest  # oldest first


async def _all_sigs(url: str, address: Pubkey) -> list[Signature]:
    async with AsyncClient(url) as cl:
        return [sig for sig, _, _ in await c.fetch_events(cl, address)]


async def test_stopped_node_stops_answering_pooled_connections(tmp_path: Path) -> None:
    n = c.LocalNode.start(c.NodeConfig())
    async with AsyncClient(n.url) as cl:
        await c.latest_blockhash(cl)  # a pooled keep-alive connection now exists
        n.stop()
        with pytest.raises(ChainError) as exc:
            await c.latest_blockhash(cl)
        assert exc.value.code == "Unreachable"
