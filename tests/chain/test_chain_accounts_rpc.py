"""``AccountsRpc`` against the local node: the same bytes solana-py reads, None for what does
not exist, named errors for an endpoint that is down or answers nonsense."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey

import gridx.chain as c
from gridx.chain._accounts_rpc import _accounts
from gridx.errors import ChainError
from gridx.services import free_port


@pytest.fixture(scope="module")
def node() -> Iterator[c.LocalNode]:
    n = c.LocalNode.start(c.NodeConfig())
    yield n
    n.stop()


@pytest.fixture
async def rpc(node: c.LocalNode) -> AsyncIterator[c.AccountsRpc]:
    r = c.AccountsRpc(node.url)
    yield r
    await r.close()


async def test_reads_what_solana_py_reads(node: c.LocalNode, rpc: c.AccountsRpc) -> None:
    funded, missing = Keypair().pubkey(), Keypair().pubkey()
    async with AsyncClient(node.url) as client:
        await c.airdrop(client, funded, 5 * 10**9)
        keys = [funded, missing, c.TOKEN_PROGRAM_ID]
        want = (await client.get_multiple_accounts(keys)).value
    got = await rpc.get(keys)
    assert got[1] is None and want[1] is None
    for mine, theirs in zip(got, want, strict=True):
        assert mine == (None if theirs is None else bytes(theirs.data))
    assert got[2]  # an executable's data is its bytes, not an empty placeholder


async def test_over_the_limit_is_refused_before_sending(rpc: c.AccountsRpc) -> None:
    with pytest.raises(ValueError, match="at most 100"):
        await rpc.get([Pubkey.new_unique() for _ in range(101)])


async def test_a_node_that_is_down_is_unreachable() -> None:
    rpc = c.AccountsRpc(f"http://127.0.0.1:{free_port()}", timeout_s=5)
    try:
        with pytest.raises(ChainError) as err:
            await rpc.get([Pubkey.new_unique()])
        assert err.value.code == "Unreachable"
    finally:
        await rpc.close()


async def test_an_rpc_error_is_named(rpc: c.AccountsRpc) -> None:
    # an address the node cannot parse: it answers with a JSON-RPC error, not accounts
    with pytest.raises(ChainError) as err:
        await rpc.get([_NotAKey()])  # type: ignore[list-item]
    assert err.value.code == "RpcError"


class _NotAKey:
    def __str__(self) -> str:
        return "not-a-key"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(reply=_json | st.fixed_dictionaries({"result": _json}) | st.fixed_dictionaries({"error": _json}))
def test_any_reply_is_accounts_or_a_named_error(reply: Any) -> None:
    try:
        out = _accounts(json.loads(json.dumps(reply)), 1)
    except ChainError as exc:
        assert exc.code == "RpcError"
    else:
        assert len(out) == 1 and (out[0] is None or isinstance(out[0], bytes))
