"""The node's JSON-RPC under hostile input (fuzzed, malformed, dropped connections), its slot
clock, and the answers wallets check: fees as charged, balances, airdrop transactions."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer

import gridx.chain as c
from gridx.chain._jsonrpc import METHODS, dispatch
from gridx.chain._svm import SvmChain
from tests.helpers.gateway import wait_until


@pytest.fixture(scope="module")
def chain() -> Iterator[SvmChain]:
    ch = SvmChain()
    yield ch
    ch.close()


def _post(url: str, body: Any) -> Any:
    return httpx.post(url, content=body if isinstance(body, bytes) else json.dumps(body)).json()


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=50) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_keyish = st.sampled_from([str(Keypair().pubkey()), "1" * 44, "11111111111111111111111111111111", "x"])
_request = st.fixed_dictionaries(
    {
        "jsonrpc": st.just("2.0"),
        "id": st.integers(0, 10**6),
        "method": st.sampled_from(sorted(METHODS)) | st.text(max_size=20),
        "params": st.lists(_json | _keyish, max_size=4) | _json,
    }
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(req=_request | st.lists(_request, max_size=3) | _json)
def test_any_request_gets_a_jsonrpc_answer(chain: SvmChain, req: Any) -> None:
    out = json.loads(dispatch(chain, json.dumps(req).encode()))
    for r in out if isinstance(out, list) else [out]:
        assert r["jsonrpc"] == "2.0" and ("result" in r) != ("error" in r)
        if "error" in r:
            assert r["error"]["code"] in (-32700, -32600, -32601, -32602, -32603, -32002, -32004)
            assert r["error"]["code"] != -32603, r  # an internal error is a bug: name the bad input


_pubsub_request = st.fixed_dictionaries(
    {
        "jsonrpc": st.just("2.0"),
        "id": st.integers(0, 10**6),
        "method": st.sampled_from(
            [
                f"{k}{s}"
                for k in ("signature", "account", "program", "logs", "slot", "root")
                for s in ("Subscribe", "Unsubscribe")
            ]
        )
        | st.text(max_size=20),
        "params": st.lists(_json | _keyish, max_size=3) | _json,
    }
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(req=_pubsub_request | st.lists(_pubsub_request, max_size=3) | _json)
def test_any_pubsub_request_gets_a_jsonrpc_answer(chain: SvmChain, req: Any) -> None:
    from gridx.chain._pubsub import PubSub, _Client

    pubsub, client = PubSub(chain), _Client(ws=None)
    for text in pubsub.handle(client, json.dumps(req)):
        r = json.loads(text)
        assert ("result" in r) != ("error" in r)
        assert "error" not in r or r["error"]["code"] in (-32700, -32600, -32601, -32602), r
    pubsub.disconnect(client)
    assert not any(pubsub._by_key.values())  # a closed connection leaves no subscription behind


@given(body=st.binary(max_size=200))
def test_any_bytes_get_a_jsonrpc_answer(chain: SvmChain, body: bytes) -> None:
    assert "jsonrpc" in json.loads(dispatch(chain, body))


def test_batches_are_bounded(chain: SvmChain) -> None:
    many = [{"jsonrpc": "2.0", "id": i, "method": "getSlot"} for i in range(10_000)]
    assert json.loads(dispatch(chain, json.dumps(many).encode()))["error"]["code"] == -32600
    assert json.loads(dispatch(chain, b"[]"))["error"]["code"] == -32600
    ok = json.loads(dispatch(chain, json.dumps(many[:1000]).encode()))
    assert len(ok) == 1000 and all("result" in r for r in ok)


def test_dropped_connections_are_not_tracebacks(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with c.LocalNode.start(c.NodeConfig(slot_ms=0)) as node:
        for port, payload in (
            (node.url, b'POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{"jsonrpc"'),
            (node.ws_url, b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n"),
        ):
            host, p = port.rsplit("/", 1)[-1].split(":")
            s = socket.create_connection((host, int(p)))
            s.sendall(payload)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
            s.close()
        assert _post(node.url, {"jsonrpc": "2.0", "id": 1, "method": "getHealth"})["result"] == "ok"
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err


def test_block_height_advances_with_the_slot_clock_and_survives_a_restart(tmp_path: Path) -> None:
    cfg = c.NodeConfig(journal=tmp_path / "ledger.bin", slot_ms=5)
    with c.LocalNode.start(cfg) as node:
        first = _post(node.url, {"jsonrpc": "2.0", "id": 1, "method": "getBlockHeight"})["result"]
        wait_until(lambda: node.chain.slot > first + 20, 30, "idle slots")
        height = _post(node.url, {"jsonrpc": "2.0", "id": 1, "method": "getBlockHeight"})["result"]
        assert height > first + 20
    with c.LocalNode.start(c.NodeConfig(journal=tmp_path / "ledger.bin", slot_ms=0)) as node:
        assert _post(node.url, {"jsonrpc": "2.0", "id": 1, "method": "getBlockHeight"})["result"] > height


def test_fees_balances_and_airdrop_transactions(chain: SvmChain) -> None:
    a, b = Keypair(), Keypair()
    sig = chain.airdrop(a.pubkey(), 10**9)
    chain.airdrop(b.pubkey(), 10**9)
    air = json.loads(dispatch(chain, json.dumps({"id": 1, "method": "getTransaction", "params": [str(sig)]}).encode()))
    assert air["result"]["meta"]["postBalances"][1] == 10**9 and air["result"]["meta"]["fee"] == 5000

    ixs = [transfer(TransferParams(from_pubkey=b.pubkey(), to_pubkey=a.pubkey(), lamports=7))]
    blockhash, _ = chain.latest_blockhash()
    msg = Message.new_with_blockhash(ixs, a.pubkey(), blockhash)
    import base64

    fee_req = {"id": 2, "method": "getFeeForMessage", "params": [base64.b64encode(bytes(msg)).decode()]}
    assert json.loads(dispatch(chain, json.dumps(fee_req).encode()))["result"]["value"] == 10_000
    tx = c.build_tx(ixs, [a, b], blockhash)
    assert chain.send(tx).err is None
    got = json.loads(
        dispatch(chain, json.dumps({"id": 3, "method": "getTransaction", "params": [str(tx.signatures[0])]}).encode())
    )["result"]["meta"]
    assert got["fee"] == 10_000
    assert got["preBalances"][0] - got["postBalances"][0] == 10_000 - 7
    assert got["postBalances"][1] == got["preBalances"][1] - 7


def _port_with_taken_neighbour() -> tuple[int, socket.socket]:
    """A free port whose next port is held by a listening socket (the caller closes it)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        squatter = socket.socket()
        try:
            squatter.bind(("127.0.0.1", port + 1))
        except OSError:
            squatter.close()
            continue
        squatter.listen(1)
        return port, squatter
    raise AssertionError("no port pair found")


def test_a_taken_neighbour_port_moves_pubsub_not_the_node() -> None:
    port, squatter = _port_with_taken_neighbour()
    with squatter, c.LocalNode.start(c.NodeConfig(port=port, slot_ms=0)) as node:
        assert node.url.endswith(f":{port}") and not node.ws_url.endswith(f":{port + 1}")
        assert _post(node.url, {"jsonrpc": "2.0", "id": 1, "method": "getHealth"})["result"] == "ok"
