"""Send and confirm through solana-py's AsyncClient: one code path for any validator and for
the local node. Failures raise ChainError with the program's named error as ``code``."""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from nacl.signing import SigningKey
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction

from gridx.errors import ChainError

from ._errors import chain_error
from ._idl import Event, decode_account, decode_events
from ._spl import token_account_amount

if TYPE_CHECKING:
    from solana.rpc.async_api import AsyncClient

__all__ = [
    "airdrop",
    "build_tx",
    "confirm_signatures",
    "confirm_statuses",
    "fetch_account",
    "fetch_decoded",
    "fetch_events",
    "latest_blockhash",
    "pubkey_of",
    "rpc_call",
    "run_on_chain",
    "send_and_confirm",
    "send_tx",
    "send_txs",
    "token_balance",
    "transaction_events",
]

_STATUS_BATCH = 256  # getSignatureStatuses accepts at most 256 signatures per call
_SIG_PAGE = 1000  # getSignaturesForAddress page size limit
# sendTransaction's config as solders' RpcSendTransactionConfig() renders it: preflight on
_SEND_CONFIG = {
    "skipPreflight": False,
    "preflightCommitment": None,
    "encoding": "base64",
    "maxRetries": None,
    "minContextSlot": None,
}
T = TypeVar("T")


async def rpc_call(call: Awaitable[T]) -> T:
    """Await a solana-py call; transport failures become ChainError(code="Unreachable")."""
    from solana.exceptions import SolanaRpcException

    try:
        return await call
    except SolanaRpcException as exc:
        raise ChainError(f"chain node unreachable: {exc.__cause__ or exc}", "Unreachable") from exc


def run_on_chain(url: str, fn: Callable[[AsyncClient], Awaitable[T]], timeout_s: float = 60.0) -> T:
    """From synchronous code (CLIs, benchmarks, tests): run ``fn`` with a fresh client to ``url``."""
    from solana.rpc.async_api import AsyncClient

    async def go() -> T:
        async with AsyncClient(url, timeout=timeout_s) as client:
            return await fn(client)

    return asyncio.run(go())


async def latest_blockhash(client: AsyncClient) -> Hash:
    return (await rpc_call(client.get_latest_blockhash())).value.blockhash


@functools.lru_cache(maxsize=256)
def _signing_key(seed: bytes) -> tuple[SigningKey, Pubkey]:
    key = SigningKey(seed)
    return key, Pubkey.from_bytes(bytes(key.verify_key))


def pubkey_of(keypair: Keypair) -> Pubkey:
    """``keypair.pubkey()``, which solders derives anew on every call (~20 us, more than the
    libsodium signature): a Keypair's public half always matches its secret, so it is derived
    once per key."""
    return _signing_key(keypair.secret())[1]


def build_tx(ixs: Sequence[Instruction], signers: Sequence[Keypair], blockhash: Hash) -> Transaction:
    """The first signer pays the fee.

    Signed with libsodium when the signers are exactly the message's keypairs: Ed25519 is
    deterministic, so the signatures are the bytes solders' ``Transaction`` would make, at a
    third of its CPU (it re-expands each secret key per signature; the mint worker signs
    thousands of transactions a second). Anything else goes through ``Transaction``."""
    if not all(isinstance(s, Keypair) for s in signers):
        msg = Message.new_with_blockhash(list(ixs), signers[0].pubkey(), blockhash)
        return Transaction(list(signers), msg, blockhash)
    pairs = [_signing_key(s.secret()) for s in signers]
    keys = {public: secret for secret, public in pairs}
    msg = Message.new_with_blockhash(list(ixs), pairs[0][1], blockhash)
    need = msg.account_keys[: msg.header.num_required_signatures]
    if len(keys) != len(signers) or len(need) != len(keys) or not all(k in keys for k in need):
        return Transaction(list(signers), msg, blockhash)
    body = bytes(msg)
    sigs = [Signature.from_bytes(keys[k].sign(body).signature) for k in need]
    return Transaction.populate(msg, sigs)


def _programs(tx: Transaction) -> list[Pubkey]:
    keys = tx.message.account_keys
    return [keys[ix.program_id_index] for ix in tx.message.instructions]


def _refused(tx: Transaction, err: Any, logs: Sequence[str], detail: object) -> ChainError:
    """A sendTransaction refusal as ChainError: the program's named error when preflight ran it."""
    if err is not None:
        return chain_error(err, list(logs), _programs(tx))
    return ChainError(f"sendTransaction refused: {detail}", "RpcError")


async def send_tx(client: AsyncClient, tx: Transaction) -> Signature:
    """Submit with preflight; a preflight failure raises ChainError (with the program's logs)."""
    from solana.exceptions import SolanaRpcException
    from solana.rpc.core import RPCException
    from solana.rpc.types import TxOpts
    from solders.rpc.errors import SendTransactionPreflightFailureMessage

    try:
        resp = await client.send_raw_transaction(bytes(tx), TxOpts(skip_confirmation=True))
    except RPCException as exc:
        detail = exc.args[0] if exc.args else None
        if isinstance(detail, SendTransactionPreflightFailureMessage):
            raise _refused(tx, detail.data.err, detail.data.logs or [], detail) from exc
        raise _refused(tx, None, [], detail) from exc
    except SolanaRpcException as exc:
        raise ChainError(f"chain node unreachable: {exc}", "Unreachable") from exc
    return resp.value


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every ``send_txs`` client: building one loads the CA bundle, which
    costs more CPU than sending a batch of transactions."""
    import httpx

    return httpx.create_ssl_context()


async def send_txs(rpc_url: str, txs: Sequence[Transaction], timeout_s: float = 30.0) -> list[Signature | ChainError]:
    """Send many transactions in one JSON-RPC batch request (any validator accepts batches; per
    request HTTP overhead, not execution, bounds a Python sender). One result per transaction,
    in order: its signature, or the same ChainError ``send_tx`` would raise."""
    import base64
    import json

    import httpx

    if not txs:
        return []
    # the request solders' batch_to_json(SendRawTransaction(...)) writes, at a tenth of its CPU
    # (~100 us a transaction there: as much as signing it)
    body = json.dumps(
        [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "sendTransaction",
                "params": [base64.b64encode(bytes(tx)).decode(), _SEND_CONFIG],
            }
            for i, tx in enumerate(txs)
        ]
    )
    try:
        async with httpx.AsyncClient(timeout=timeout_s, verify=_tls()) as http:
            resp = await http.post(rpc_url, content=body, headers={"Content-Type": "application/json"})
        replies: dict[int, dict[str, Any]] = {int(r["id"]): r for r in json.loads(resp.content)}
    except (httpx.HTTPError, ValueError, TypeError, KeyError) as exc:
        return [ChainError(f"chain node unreachable: {exc}", "Unreachable") for _ in txs]
    out: list[Signature | ChainError] = []
    for i, tx in enumerate(txs):
        reply = replies.get(i, {})
        if "result" in reply:
            out.append(Signature.from_string(reply["result"]))
            continue
        error: dict[str, Any] = reply.get("error") or {}
        data: dict[str, Any] = error["data"] if isinstance(error.get("data"), dict) else {}
        out.append(_refused(tx, data.get("err"), data.get("logs") or [], error.get("message", reply)))
    return out


async def confirm_statuses(
    client: AsyncClient, sigs: Sequence[Signature], wait_s: float = 60.0
) -> dict[Signature, tuple[Any, int]]:
    """Wait until every signature is confirmed; returns signature -> (error JSON or None, slot).

    Polls getSignatureStatuses (batched); the first poll is immediate, so against the local
    node, which executes on receipt, a batch confirms in one round trip."""
    from solders.transaction_status import TransactionConfirmationStatus as Tcs

    from ._errors import err_to_json

    pending = list(sigs)
    done: dict[Signature, tuple[Any, int]] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    delay = 0.02
    while pending:
        still: list[Signature] = []
        for i in range(0, len(pending), _STATUS_BATCH):
            chunk = pending[i : i + _STATUS_BATCH]
            statuses = (await rpc_call(client.get_signature_statuses(chunk))).value
            for sig, st in zip(chunk, statuses, strict=True):
                if st is not None and st.confirmation_status in (Tcs.Confirmed, Tcs.Finalized):
                    done[sig] = (err_to_json(st.err), st.slot)
                else:
                    still.append(sig)
        pending = still
        if pending:
            if loop.time() > deadline:
                raise ChainError(f"{len(pending)} transaction(s) not confirmed in {wait_s}s", "Unconfirmed")
            await asyncio.sleep(delay)  # a real validator confirms in ~0.5-1 s; poll gently
            delay = min(delay * 2, 0.5)
    return done


async def confirm_signatures(
    client: AsyncClient, sigs: Sequence[Signature], wait_s: float = 60.0
) -> dict[Signature, Any]:
    """Wait until every signature is confirmed; returns signature -> error JSON (None = success)."""
    return {sig: err for sig, (err, _slot) in (await confirm_statuses(client, sigs, wait_s)).items()}


async def send_and_confirm(
    client: AsyncClient,
    ixs: Sequence[Instruction],
    signers: Sequence[Keypair],
    blockhash: Hash | None = None,
    wait_s: float = 60.0,
) -> Signature:
    """Build, sign (first signer pays), send and wait for ``confirmed``. Raises ChainError."""
    tx = build_tx(ixs, signers, blockhash or await latest_blockhash(client))
    sig = await send_tx(client, tx)
    err = (await confirm_signatures(client, [sig], wait_s))[sig]
    if err is not None:
        raise chain_error(err, await _logs(client, sig), _programs(tx))
    return sig


async def _logs(client: AsyncClient, sig: Signature) -> list[str]:

    resp = await rpc_call(client.get_transaction(sig, encoding="base64", max_supported_transaction_version=0))
    meta = resp.value.transaction.meta if resp.value is not None else None
    return list(meta.log_messages or []) if meta is not None else []


async def transaction_events(client: AsyncClient, sig: Signature) -> list[Event]:
    """Our programs' events emitted by a confirmed transaction."""
    return decode_events(await _logs(client, sig))


async def fetch_events(
    client: AsyncClient, address: Pubkey, until: Signature | None = None, max_txs: int = 10_000
) -> list[tuple[Signature, int, list[Event]]]:
    """(signature, slot, events) of successful transactions touching ``address`` newer than
    ``until``, oldest first, paging back through getSignaturesForAddress (1000 per page): the
    chain->DB indexer's poll (remember the last signature). At most ``max_txs`` newest."""
    entries: list[Any] = []
    before: Signature | None = None
    while len(entries) < max_txs:
        page = (
            await rpc_call(client.get_signatures_for_address(address, before=before, until=until, limit=_SIG_PAGE))
        ).value
        entries += page
        if len(page) < _SIG_PAGE:
            break
        before = page[-1].signature
    out = []
    for e in reversed(entries[:max_txs]):
        if e.err is None:
            out.append((e.signature, e.slot, decode_events(await _logs(client, e.signature))))
    return out


async def fetch_account(client: AsyncClient, address: Pubkey) -> bytes | None:
    acct = (await rpc_call(client.get_account_info(address))).value
    return None if acct is None or acct.lamports == 0 else bytes(acct.data)


async def fetch_decoded(client: AsyncClient, program: str, address: Pubkey) -> Any | None:
    """An account of ``program`` decoded with its IDL, or None if it does not exist."""
    data = await fetch_account(client, address)
    return None if data is None else decode_account(program, data)


async def token_balance(client: AsyncClient, token_account: Pubkey) -> int:
    """Base units held by an SPL token account (0 if it does not exist)."""
    data = await fetch_account(client, token_account)
    return 0 if data is None else token_account_amount(data)


async def airdrop(client: AsyncClient, to: Pubkey, lamports: int) -> None:
    sig = (await rpc_call(client.request_airdrop(to, lamports))).value
    err = (await confirm_signatures(client, [sig]))[sig]
    if err is not None:
        raise chain_error(err)
