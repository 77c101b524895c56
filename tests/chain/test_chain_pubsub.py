"""The node's PubSub over WebSocket (port + 1) and ``follow_logs``: live logs, catch-up from a
slot cursor after a dropped connection or a restart, nothing missed and nothing twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.types import TxOpts
from solders.keypair import Keypair
from websockets.asyncio.client import ClientConnection, connect

import gridx.chain as c
from tests.helpers.chain import SOL, T0, RpcWorld, rpc_world
from tests.helpers.gateway import wait_until


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


async def _rpc(ws: ClientConnection, method: str, params: list[Any], rid: int = 1) -> Any:
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
    return json.loads(await ws.recv())


async def _mint(client: AsyncClient, w: RpcWorld, window: int) -> str:
    return str(await c.send_and_confirm(client, w.mint(T0 + window * 900, 1), [w.gateway]))  # 1 Wh = 1000


def test_pubsub_listens_on_rpc_port_plus_one(node: c.LocalNode) -> None:
    assert int(node.ws_url.rsplit(":", 1)[1]) == int(node.url.rsplit(":", 1)[1]) + 1


async def test_signature_subscribe_before_and_after_processing(client: AsyncClient, node: c.LocalNode) -> None:
    payer = Keypair()
    await c.airdrop(client, payer.pubkey(), SOL)
    to = Keypair().pubkey()
    async with connect(node.ws_url) as ws:
        from solders.system_program import TransferParams, transfer

        tx = c.build_tx(
            [transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=10**6))],
            [payer],
            await c.latest_blockhash(client),
        )
        sub = await _rpc(ws, "signatureSubscribe", [str(tx.signatures[0]), {"commitment": "confirmed"}])
        await client.send_raw_transaction(bytes(tx), TxOpts(skip_confirmation=True))
        note = json.loads(await ws.recv())
        assert note["method"] == "signatureNotification" and note["params"]["subscription"] == sub["result"]
        assert note["params"]["result"]["value"] == {"err": None}
        # subscribed after the fact: the reply, then the answer at once (no waiting forever)
        late = await _rpc(ws, "signatureSubscribe", [str(tx.signatures[0])], rid=2)
        note = json.loads(await ws.recv())
        assert late["id"] == 2 and note["params"]["subscription"] == late["result"]
        # a signature subscription is gone after its one notification, as on a validator
        gone = await _rpc(ws, "signatureUnsubscribe", [sub["result"]], rid=3)
        assert gone["error"]["message"] == "Invalid subscription id."


async def test_account_program_logs_and_slot_notifications(
    client: AsyncClient, node: c.LocalNode, world: RpcWorld
) -> None:
    w = world
    ata = c.ata_address(w.prosumer.pubkey(), w.market.energy_mint)
    energy = c.program_ids().energy_token
    async with connect(node.ws_url) as ws:
        acc = (await _rpc(ws, "accountSubscribe", [str(ata), {"encoding": "base64"}], 1))["result"]
        prog = (await _rpc(ws, "programSubscribe", [str(c.TOKEN_PROGRAM_ID), {"filters": [{"dataSize": 165}]}], 2))[
            "result"
        ]
        logs = (await _rpc(ws, "logsSubscribe", [{"mentions": [str(energy)]}], 3))["result"]
        sig = await _mint(client, w, 0)
        got: dict[int, dict[str, Any]] = {}
        while len(got) < 3:
            note = json.loads(await ws.recv())
            got.setdefault(note["params"]["subscription"], note)
        assert c.token_account_amount(_b64(got[acc]["params"]["result"]["value"]["data"][0])) == 1000
        assert got[prog]["params"]["result"]["value"]["pubkey"] == str(ata)
        value = got[logs]["params"]["result"]["value"]
        assert value["signature"] == sig and value["err"] is None
        assert [e.name for e in c.decode_events(value["logs"])] == ["TokensMinted"]
        for rid, (method, sub) in enumerate(
            [("accountUnsubscribe", acc), ("programUnsubscribe", prog), ("logsUnsubscribe", logs)], 10
        ):
            assert (await _rpc(ws, method, [sub], rid))["result"] is True
        slot = (await _rpc(ws, "slotSubscribe", [], 20))["result"]
        first = json.loads(await ws.recv())["params"]
        second = json.loads(await ws.recv())["params"]
        assert first["subscription"] == slot and second["result"]["slot"] > first["result"]["slot"]


def _b64(s: str) -> bytes:
    import base64

    return base64.b64decode(s)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "nopeSubscribe", "params": []}),
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "accountSubscribe", "params": ["not-a-key"]}),
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "logsSubscribe", "params": [{"mentions": []}]}),
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "programSubscribe", "params": ["x", {"filters": 3}]}),
        json.dumps([{"jsonrpc": "2.0", "id": i, "method": "slotSubscribe"} for i in range(10_000)]),
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "slotUnsubscribe", "params": [99999]}),
    ],
)
async def test_malformed_pubsub_requests_get_jsonrpc_errors(node: c.LocalNode, text: str) -> None:
    async with connect(node.ws_url, max_size=None) as ws:
        await ws.send(text)
        reply = json.loads(await ws.recv())
        assert reply["error"]["code"] in (-32700, -32600, -32601, -32602)
        assert (await _rpc(ws, "slotSubscribe", [], 7))["id"] == 7  # the connection still serves


async def test_follow_logs_live_then_catch_up_after_disconnect_and_restart(
    client: AsyncClient, node: c.LocalNode, world: RpcWorld
) -> None:
    w = world
    programs = [c.program_ids().energy_token, c.program_ids().registry]
    await c.latest_blockhash(client)  # a new block: the world's own transactions are before it
    start = (await client.get_slot()).value
    before = [await _mint(client, w, i) for i in range(2)]  # before following: caught up
    follower = c.follow_logs(node.url, node.ws_url, programs, start, retry_s=0.05)
    got = [await anext(follower) for _ in range(2)]
    assert [e.signature for e in got] == before
    live = await _mint(client, w, 2)
    got.append(await anext(follower))
    assert got[-1].signature == live and [e.name for e in c.decode_events(got[-1].logs)] == ["TokensMinted"]

    # the connection drops while the consumer is busy; transactions land with nobody subscribed
    node.pubsub_server.drop_clients()
    await asyncio.to_thread(wait_until, lambda: node.pubsub_server.clients == 0, 10, "the connection closed")
    missed = [await _mint(client, w, i) for i in (3, 4)]
    got += [await anext(follower) for _ in range(2)]
    assert [e.signature for e in got[-2:]] == missed
    await follower.aclose()

    # a restarted consumer passes its cursor and the signatures it applied at that slot
    cursor = got[-1].slot
    applied = [e.signature for e in got if e.slot == cursor]
    after = await _mint(client, w, 5)
    follower = c.follow_logs(node.url, node.ws_url, programs, cursor, seen=applied)
    assert (await anext(follower)).signature == after
    await follower.aclose()
    sigs = [e.signature for e in got]
    assert len(sigs) == len(set(sigs)) == 5


async def test_follow_logs_yields_a_transaction_mentioning_two_programs_once(
    client: AsyncClient, node: c.LocalNode, world: RpcWorld
) -> None:
    programs = [c.program_ids().energy_token, c.TOKEN_PROGRAM_ID]  # a mint CPIs into the token program
    await c.latest_blockhash(client)  # a new block: the world's own token transactions are before it
    start = (await client.get_slot()).value
    caught_up = await _mint(client, world, 0)
    follower = c.follow_logs(node.url, c.pubsub_url(node.url), programs, start, retry_s=0.05)
    first = await anext(follower)
    live = await _mint(client, world, 1)
    second = await anext(follower)
    await follower.aclose()
    assert [first.signature, second.signature] == [caught_up, live]
