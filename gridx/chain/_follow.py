"""``follow_logs``: program logs, live over ``logsSubscribe``, caught up from a slot cursor over
``getSignaturesForAddress`` after every (re)connect. The same code path for the local node and
a real validator (whose ``logsSubscribe`` takes one ``mentions`` address per subscription:
one subscription per program)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, NamedTuple

from solders.pubkey import Pubkey
from solders.signature import Signature

from gridx.errors import ChainError

__all__ = ["LogEvent", "follow_logs", "pubsub_url"]

_PAGE = 1000  # getSignaturesForAddress page size limit
_KEEP_SLOTS = 512  # how far behind the cursor signatures are remembered (for late live notifications)


def pubsub_url(rpc_url: str) -> str:
    """The WebSocket URL a validator serves next to ``rpc_url``: same host, port + 1 (as
    web3.js and the Solana CLI assume), ws:// for http:// and wss:// for https://."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(rpc_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    netloc = parts.netloc
    if parts.port is not None:
        host = parts.hostname or ""
        netloc = f"[{host}]:{parts.port + 1}" if ":" in host else f"{host}:{parts.port + 1}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


class LogEvent(NamedTuple):
    """One successful transaction that mentions a followed program."""

    slot: int
    signature: str
    logs: list[str]


class _Seen:
    """Signatures already yielded, from ``cursor - _KEEP_SLOTS`` on; the cursor is the highest
    slot yielded (catch-up restarts there, inclusive)."""

    def __init__(self, cursor: int, seen: Iterable[str]) -> None:
        self.cursor = cursor
        self._sigs: dict[str, int] = dict.fromkeys(seen, cursor)

    def add(self, ev: LogEvent) -> bool:
        if ev.signature in self._sigs:
            return False
        self._sigs[ev.signature] = ev.slot
        if ev.slot > self.cursor:
            self.cursor = ev.slot
            if len(self._sigs) > 4 * _PAGE:
                floor = self.cursor - _KEEP_SLOTS
                self._sigs = {s: slot for s, slot in self._sigs.items() if slot >= floor}
        return True


async def _catch_up(client: Any, programs: Sequence[Pubkey], from_slot: int, commitment: str) -> list[LogEvent]:
    """Every successful transaction at or after ``from_slot`` that mentions a program, oldest first."""
    found: dict[str, tuple[int, int]] = {}  # signature -> (slot, position oldest-first within its program)
    for program in programs:
        rows: list[Any] = []
        before: Signature | None = None
        while True:
            resp = await client.get_signatures_for_address(program, before=before, limit=_PAGE, commitment=commitment)
            page = resp.value
            rows += [r for r in page if r.slot >= from_slot]
            if len(page) < _PAGE or page[-1].slot < from_slot:
                break
            before = page[-1].signature
        for pos, r in enumerate(reversed(rows)):
            if r.err is None:
                found.setdefault(str(r.signature), (r.slot, pos))
    out = []
    for sig, (slot, _) in sorted(found.items(), key=lambda kv: kv[1]):
        resp = await client.get_transaction(
            Signature.from_string(sig), encoding="json", commitment=commitment, max_supported_transaction_version=0
        )
        tx = resp.value
        if tx is None or tx.transaction.meta is None:
            raise ChainError(f"transaction {sig} listed but not found yet", "Unreachable")
        out.append(LogEvent(slot, sig, list(tx.transaction.meta.log_messages or [])))
    return out


async def _subscribe(ws: Any, programs: Sequence[Pubkey], commitment: str) -> list[LogEvent]:
    """One ``logsSubscribe`` per program; live events that arrive before the last reply are kept."""
    for i, program in enumerate(programs):
        req = {"mentions": [str(program)]}, {"commitment": commitment}
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "logsSubscribe", "params": list(req)}))
    early: list[LogEvent] = []
    pending = set(range(1, len(programs) + 1))
    while pending:
        msg = json.loads(await ws.recv())
        if "id" in msg:
            if "error" in msg:
                raise ChainError(f"logsSubscribe refused: {msg['error']}", "Unreachable")
            pending.discard(msg["id"])
        elif (ev := _event(msg)) is not None:
            early.append(ev)
    return early


def _event(msg: dict[str, Any]) -> LogEvent | None:
    """A successful transaction's ``logsNotification``; None for anything else."""
    if msg.get("method") != "logsNotification":
        return None
    result = msg["params"]["result"]
    value = result["value"]
    if value.get("err") is not None:
        return None  # a failed transaction emitted nothing that happened
    return LogEvent(int(result["context"]["slot"]), str(value["signature"]), list(value.get("logs") or []))


async def follow_logs(
    rpc_url: str,
    ws_url: str,
    program_ids: Sequence[Pubkey | str],
    from_slot: int,
    *,
    seen: Iterable[str] = (),
    commitment: str = "finalized",
    retry_s: float = 0.5,
) -> AsyncIterator[LogEvent]:
    """Yield ``LogEvent(slot, signature, logs)`` for every successful transaction that mentions
    one of ``program_ids``, from ``from_slot`` on (inclusive), oldest first, each once, forever.

    rpc_url: the node's HTTP JSON-RPC URL (catch-up: ``getSignaturesForAddress`` + ``getTransaction``).
    ws_url: its PubSub URL (live: ``logsSubscribe`` with ``mentions``; our node: ``LocalNode.ws_url``,
        a validator: usually the RPC port + 1).
    program_ids: the programs to follow (a transaction mentioning several is yielded once).
    from_slot: the cursor. Store ``event.slot`` with what you applied from the event, in the
        same database transaction; on restart pass it back as ``from_slot`` and, in ``seen``,
        the signatures already applied at that slot (a slot can hold many transactions):
        nothing is missed and nothing is applied twice. (Or make the apply idempotent by signature.)
    commitment: ``finalized`` (default) never yields a transaction a fork could undo.
    retry_s: pause before reconnecting after the node went away.

    On every (re)connect it subscribes first, then catches up from the cursor, then yields the
    live notifications, skipping signatures it already yielded; a transaction that lands while
    the connection is down is found by the next catch-up. Failed transactions are skipped. The
    node being unreachable is retried forever: wrap the iteration in a timeout if you need one.
    """
    import httpx
    from solana.exceptions import SolanaRpcException
    from solana.rpc.async_api import AsyncClient
    from solana.rpc.core import RPCException
    from websockets.asyncio.client import connect
    from websockets.exceptions import WebSocketException

    programs = [p if isinstance(p, Pubkey) else Pubkey.from_string(p) for p in program_ids]
    state = _Seen(from_slot, seen)
    async with AsyncClient(rpc_url) as client:
        while True:
            try:
                async with connect(ws_url, compression=None, max_size=None) as ws:
                    early = await _subscribe(ws, programs, commitment)
                    for ev in await _catch_up(client, programs, state.cursor, commitment) + early:
                        if state.add(ev):
                            yield ev
                    async for text in ws:
                        live = _event(json.loads(text))
                        if live is not None and state.add(live):
                            yield live
            except (OSError, WebSocketException, TimeoutError, SolanaRpcException, RPCException, httpx.HTTPError):
                pass  # the node went away or is not there yet: reconnect and catch up
            except ChainError as exc:
                if exc.code != "Unreachable":
                    raise
            await asyncio.sleep(retry_s)
