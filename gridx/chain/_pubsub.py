"""The local node's PubSub: Solana's WebSocket subscription API on the RPC port + 1.

``signatureSubscribe``, ``accountSubscribe``, ``programSubscribe``, ``logsSubscribe`` (``all`` or
``{"mentions": [one address]}``), ``slotSubscribe`` and ``rootSubscribe``, each with its
``*Unsubscribe``, in the message shapes of a validator (what ``@solana/web3.js`` and solana-py's
websocket client parse). Every block here is final when it is processed, so every commitment
is answered at once; a ``signatureSubscribe`` is disposed of after its one notification (as
validators do), and one for an already processed signature is answered immediately, so a
client that subscribes after sending never waits forever.

Threads: the chain calls ``committed``/``slot_opened`` under its lock from the HTTP threads; they
build the notification texts there (the post-state is what the lock protects) and hand them
to the WebSocket thread's event loop, which writes each connection from its own queue in
order. A connection that lets ``_QUEUE`` messages pile up is closed (1008) rather than let the
node's memory grow; its client reconnects and catches up (see ``follow_logs``)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from solders.pubkey import Pubkey
from solders.signature import Signature

from ._jsonrpc import MAX_BATCH, error, parse_error
from ._rpc import RpcError, account_matches, ui_account
from ._svm import SvmChain, TxRecord

__all__ = ["PubSub"]

_QUEUE = 50_000
_COMMITMENTS = {"processed", "confirmed", "finalized", "recent", "single", "singleGossip", "root", "max"}
_log = logging.getLogger("gridx.chain.pubsub")


@dataclass(eq=False)
class _Client:
    ws: Any
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(_QUEUE))
    subs: set[int] = field(default_factory=set)
    closing: asyncio.Task[None] | None = None


@dataclass(frozen=True, eq=False)
class _Sub:
    id: int
    kind: str  # signature | account | program | logs | slot | root
    client: _Client
    key: Any = None  # Signature | Pubkey | None (logs: None = all)
    encoding: str = "base64"
    filters: tuple[Any, ...] = ()


def _note(method: str, sub: int, result: Any) -> str:
    return _framed(method, sub, json.dumps(result))


def _framed(method: str, sub: int, result_json: str) -> str:
    """One subscriber's notification around a result encoded once for all its subscribers."""
    return f'{{"jsonrpc":"2.0","method":"{method}","params":{{"result":{result_json},"subscription":{sub}}}}}'


def _ctx(slot: int, value: Any) -> dict[str, Any]:
    return {"context": {"slot": slot}, "value": value}


def _param_key(params: list[Any], kind: str) -> Any:
    if not params or not isinstance(params[0], str):
        raise RpcError(-32602, "Invalid params: expected a base-58 string")
    try:
        return Signature.from_string(params[0]) if kind == "signature" else Pubkey.from_string(params[0])
    except ValueError as exc:
        raise RpcError(-32602, f"Invalid param: {exc}") from exc


def _options(params: list[Any]) -> dict[str, Any]:
    opts = params[1] if len(params) > 1 else {}
    if opts is None:
        return {}
    if not isinstance(opts, dict):
        raise RpcError(-32602, "Invalid params: options must be an object")
    if opts.get("commitment", "finalized") not in _COMMITMENTS:
        raise RpcError(-32602, "Invalid params: unknown commitment")
    return opts


class PubSub:
    """Subscriptions of every connection; a ``ChainListener`` of the node's ``SvmChain``."""

    def __init__(self, chain: SvmChain) -> None:
        self.chain = chain
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._subs: dict[int, _Sub] = {}
        self._by_key: dict[str, dict[Any, dict[int, _Sub]]] = {
            k: {} for k in ("signature", "account", "program", "logs", "slot", "root")
        }
        self.loop: asyncio.AbstractEventLoop | None = None
        self.notifications = 0  # sent, for the benchmark

    # ------------------------------------------------------------------ chain side (HTTP threads)
    def committed(self, rec: TxRecord, written: list[Pubkey]) -> None:
        if not self._subs:
            return
        out: list[tuple[_Client, str]] = []
        with self._lock:
            for sub in self._by_key["signature"].pop(rec.signature, {}).values():
                self._subs.pop(sub.id, None)
                sub.client.subs.discard(sub.id)
                out.append((sub.client, _note("signatureNotification", sub.id, _ctx(rec.slot, {"err": rec.err}))))
            logs = self._by_key["logs"]
            if logs:
                targets = list(logs.get(None, {}).values())
                for k in rec.account_keys:
                    targets += logs.get(k, {}).values()
                if targets:
                    value = json.dumps(
                        _ctx(rec.slot, {"signature": str(rec.signature), "err": rec.err, "logs": rec.logs})
                    )
                    unique = {s.id: s for s in targets}.values()
                    out += [(s.client, _framed("logsNotification", s.id, value)) for s in unique]
            out += self._account_notes(rec.slot, written)
        self._post(out)

    def _account_notes(self, slot: int, written: list[Pubkey]) -> list[tuple[_Client, str]]:
        accounts, programs = self._by_key["account"], self._by_key["program"]
        out: list[tuple[_Client, str]] = []
        if not accounts and not programs:
            return out
        for addr in written:
            subs = accounts.get(addr)
            if not subs and not programs:
                continue
            acct = self.chain.svm.get_account(addr)
            for s in (subs or {}).values():
                value = _ctx(slot, ui_account(self.chain, acct, s.encoding))
                out.append((s.client, _note("accountNotification", s.id, value)))
            if acct is None:
                continue
            for s in programs.get(acct.owner, {}).values():
                if account_matches(bytes(acct.data), list(s.filters)):
                    value = {"pubkey": str(addr), "account": ui_account(self.chain, acct, s.encoding)}
                    out.append((s.client, _note("programNotification", s.id, _ctx(slot, value))))
        return out

    def slot_opened(self, slot: int) -> None:
        if not self._by_key["slot"] and not self._by_key["root"]:
            return
        value = json.dumps({"parent": slot - 1, "root": slot, "slot": slot})
        with self._lock:
            out = [
                (s.client, _framed("slotNotification", s.id, value))
                for s in self._by_key["slot"].get(None, {}).values()
            ]
            roots = self._by_key["root"].get(None, {}).values()
            out += [(s.client, _note("rootNotification", s.id, slot)) for s in roots]
        self._post(out)

    def _post(self, out: list[tuple[_Client, str]]) -> None:
        loop = self.loop
        if out and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing: the node is stopping
                loop.call_soon_threadsafe(self._deliver, out)

    def _deliver(self, out: list[tuple[_Client, str]]) -> None:
        for client, text in out:
            self.enqueue(client, text)
            self.notifications += 1

    @staticmethod
    def enqueue(client: _Client, text: str) -> None:
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:
            if client.closing is None:
                _log.warning("closing a subscriber that does not read its notifications")
                client.closing = asyncio.ensure_future(client.ws.close(1008, "too slow"))

    # ------------------------------------------------------------------ requests (WebSocket thread)
    def handle(self, client: _Client, text: str | bytes) -> list[str]:
        """The replies to one WebSocket message (none to a JSON-RPC notification)."""
        try:
            req = json.loads(text)
        except ValueError:
            return [parse_error()]
        if isinstance(req, list):
            if not req or len(req) > MAX_BATCH:
                return [error(None, -32600, f"Invalid request: a batch holds 1 to {MAX_BATCH} requests")]
            return [r for q in req if (r := self._one(client, q)) is not None]
        reply = self._one(client, req)
        return [] if reply is None else [reply]

    def _one(self, client: _Client, req: Any) -> str | None:
        if isinstance(req, dict) and "id" not in req:
            return None  # a notification (web3.js pings this way): JSON-RPC answers none
        rid = req.get("id") if isinstance(req, dict) else None
        try:
            if not isinstance(req, dict) or not isinstance(req.get("method"), str):
                raise RpcError(-32600, "Invalid request")
            params = req.get("params")
            params = [] if params is None else params
            if not isinstance(params, list):
                raise RpcError(-32602, "Invalid params: expected an array")
            fn = self._methods().get(req["method"])
            if fn is None:
                raise RpcError(-32601, f"Method not found: {req['method']}")
            sub_id, first = fn(client, params)
        except RpcError as exc:
            return error(rid, exc.code, exc.message, exc.data)
        reply = json.dumps({"jsonrpc": "2.0", "result": sub_id, "id": rid})
        if first is not None:  # an already processed signature: the reply first, then its answer
            self.enqueue(client, reply)
            return first
        return reply

    def _methods(self) -> dict[str, Callable[[_Client, list[Any]], tuple[Any, str | None]]]:
        out: dict[str, Callable[[_Client, list[Any]], tuple[Any, str | None]]] = {
            "signatureSubscribe": self._signature,
            "accountSubscribe": lambda c, p: (self._add(c, "account", _param_key(p, "account"), _options(p)), None),
            "programSubscribe": self._program,
            "logsSubscribe": self._logs,
            "slotSubscribe": lambda c, p: (self._add(c, "slot", None, {}), None),
            "rootSubscribe": lambda c, p: (self._add(c, "root", None, {}), None),
        }
        for kind in ("signature", "account", "program", "logs", "slot", "root"):
            out[f"{kind}Unsubscribe"] = lambda c, p: (self._remove(c, p), None)
        return out

    def _signature(self, client: _Client, params: list[Any]) -> tuple[Any, str | None]:
        sig = _param_key(params, "signature")
        opts = _options(params)
        with self.chain.lock:  # no commit can slip between the look-up and the registration
            rec = self.chain.history.get(sig)
            if rec is None:
                return self._add(client, "signature", sig, opts), None
        sub = next(self._ids)
        return sub, _note("signatureNotification", sub, _ctx(rec.slot, {"err": rec.err}))

    def _program(self, client: _Client, params: list[Any]) -> tuple[Any, str | None]:
        owner = _param_key(params, "program")
        opts = _options(params)
        filters = opts.get("filters") or []
        if not isinstance(filters, list) or not all(isinstance(f, dict) for f in filters):
            raise RpcError(-32602, "Invalid params: filters")
        account_matches(b"", filters)  # validates them now rather than on every write
        return self._add(client, "program", owner, opts, tuple(filters)), None

    def _logs(self, client: _Client, params: list[Any]) -> tuple[Any, str | None]:
        what = params[0] if params else None
        key: Pubkey | None
        if what in ("all", "allWithVotes"):
            key = None
        elif isinstance(what, dict) and isinstance(what.get("mentions"), list) and len(what["mentions"]) == 1:
            key = _param_key(what["mentions"], "logs")
        else:
            raise RpcError(-32602, 'Invalid params: "all", "allWithVotes" or {"mentions": [one address]}')
        return self._add(client, "logs", key, _options(params)), None

    def _add(self, client: _Client, kind: str, key: Any, opts: dict[str, Any], filters: tuple[Any, ...] = ()) -> int:
        enc = opts.get("encoding", "base64")
        if enc not in ("base64", "base58", "base64+zstd", "jsonParsed"):
            raise RpcError(-32602, f"Invalid params: encoding {enc!r}")
        with self._lock:
            sub = _Sub(next(self._ids), kind, client, key, "base64" if enc == "base64+zstd" else enc, filters)
            self._subs[sub.id] = sub
            self._by_key[kind].setdefault(key, {})[sub.id] = sub
            client.subs.add(sub.id)
        return sub.id

    def _remove(self, client: _Client, params: list[Any]) -> bool:
        sub_id = params[0] if params else None
        with self._lock:
            sub = self._subs.get(sub_id) if isinstance(sub_id, int) else None
            if sub is None or sub.client is not client:
                raise RpcError(-32602, "Invalid subscription id.")
            self._drop(sub)
        return True

    def _drop(self, sub: _Sub) -> None:
        self._subs.pop(sub.id, None)
        sub.client.subs.discard(sub.id)
        by_key = self._by_key[sub.kind]
        subs = by_key.get(sub.key, {})
        subs.pop(sub.id, None)
        if not subs:
            by_key.pop(sub.key, None)

    def disconnect(self, client: _Client) -> None:
        with self._lock:
            for sub_id in list(client.subs):
                sub = self._subs.get(sub_id)
                if sub is not None:
                    self._drop(sub)


class PubSubServer:
    """The WebSocket listener of ``PubSub`` on its own thread and event loop."""

    def __init__(self, pubsub: PubSub, sock: socket.socket) -> None:
        self.pubsub = pubsub
        self._sock = sock
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._server: Any = None
        self._thread = threading.Thread(target=self._run, name="gridx-chain-pubsub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"ws://{host}:{port}"

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        loop, stop = self.pubsub.loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        self._thread.join()

    @property
    def clients(self) -> int:
        return 0 if self._server is None else len(self._server.connections)

    def drop_clients(self) -> None:
        """Close every connection (1001 going away), as a validator restart would."""
        loop, server = self.pubsub.loop, self._server
        if loop is not None and server is not None:
            for ws in list(server.connections):
                asyncio.run_coroutine_threadsafe(ws.close(1001, "going away"), loop)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._stop = asyncio.Event()
        self.pubsub.loop = asyncio.get_running_loop()
        quiet = logging.getLogger("gridx.chain.pubsub.ws")
        quiet.setLevel(logging.CRITICAL)  # a client that hangs up mid-handshake is not a traceback
        try:
            async with serve(
                self._connection, sock=self._sock, compression=None, logger=quiet, max_size=1 << 20
            ) as server:
                self._server = server
                self._ready.set()
                await self._stop.wait()
        finally:
            self.pubsub.loop = None
            self._ready.set()

    async def _connection(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        sock = ws.transport.get_extra_info("socket")
        if sock is not None:  # a reply and a notification back to back: no 40 ms Nagle/delayed-ACK stall
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = _Client(ws)
        writer = asyncio.create_task(self._writer(client))
        try:
            async for text in ws:
                for reply in self.pubsub.handle(client, text):
                    self.pubsub.enqueue(client, reply)
        except ConnectionClosed:
            pass  # a client that goes away is not an error
        finally:
            self.pubsub.disconnect(client)
            writer.cancel()

    @staticmethod
    async def _writer(client: _Client) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            while True:
                await client.ws.send(await client.queue.get())
