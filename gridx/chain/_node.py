"""``LocalNode``: the JSON-RPC methods of ``_rpc`` over HTTP on 127.0.0.1, backed by LiteSVM,
and Solana's PubSub over WebSocket on the next port (``_pubsub``), as validators serve them.
A slot clock opens a block every ``slot_ms`` even when idle, so block height advances and a
blockhash expires after its last valid block height, as clients expect.

State is in memory unless ``journal`` is given (``gridx chain node`` defaults to
.run/chain/ledger.bin): then every committed write is journaled and replayed on start, so a
node stopped and restarted keeps the chain (see ``_journal``)."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridx.errors import ServiceError

from ._jsonrpc import dispatch
from ._pubsub import PubSub, PubSubServer
from ._svm import SvmChain

if TYPE_CHECKING:
    from collections.abc import Callable

    from solders.pubkey import Pubkey

    from ._journal import TxRecord

__all__ = ["LocalNode", "NodeConfig"]

_MAX_BODY = 8 << 20
_log = logging.getLogger("gridx.chain.node")


@dataclass(frozen=True)
class NodeConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port
    programs: Path | None = None  # default: $GRIDX_PROGRAM_DIR or programs/deploy/
    journal: Path | None = None  # None: in memory only
    slot_ms: int = 400  # the slot clock, as a validator's; 0: slots advance only with traffic


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.conns_lock:
            self.server.conns.add(self.connection)

    def finish(self) -> None:
        with self.server.conns_lock:
            self.server.conns.discard(self.connection)
        super().finish()

    def do_POST(self) -> None:
        if self.server.dead:
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self.send_error(413)
            return
        out = dispatch(self.server.chain, self.rfile.read(length))
        if self.server.dead:  # crashed meanwhile (crash_after_commit): the request is never answered
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self) -> None:  # /health, as validators serve it
        out = b"ok"
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 resets clients that open many connections at once

    def __init__(self, addr: tuple[str, int], chain: SvmChain) -> None:
        self.chain = chain
        self.dead = False  # set by a simulated crash: no reply leaves any more
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-request is routine, not a traceback on the console."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            _log.error("chain node: request from %s failed: %r", client_address, exc)

    def drop_connections(self) -> None:
        """Close keep-alive connections too: a stopped node must stop answering."""
        with self.conns_lock:
            conns = list(self.conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def _ws_socket(host: str, port: int) -> socket.socket:
    ws = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ws.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restarted node takes its port back
    try:
        ws.bind((host, port))
        ws.listen(128)
    except OSError:
        ws.close()
        raise
    return ws


def _listen_pair(host: str, port: int, chain: SvmChain) -> tuple[_Server, socket.socket]:
    """The HTTP server on ``port`` and a listening socket for WebSocket on ``port + 1`` (where
    web3.js and the Solana CLI look for it); with port 0, a free pair. A given port whose
    neighbour is taken still serves, with PubSub on a free port (``LocalNode.ws_url``)."""
    for _ in range(50):
        try:
            server = _Server((host, port), chain)
        except OSError as exc:
            raise ServiceError(f"chain node cannot listen on {host}:{port}: {exc}") from exc
        try:
            return server, _ws_socket(host, server.server_address[1] + 1)
        except OSError:
            if port:
                _log.warning("chain node: port %d is taken, PubSub listens on a free port instead", port + 1)
                return server, _ws_socket(host, 0)
            server.server_close()
    raise ServiceError(f"chain node found no free pair of ports on {host}")


class LocalNode:
    """A local Solana-compatible node: JSON-RPC over HTTP, PubSub over WebSocket.

    >>> node = LocalNode.start()          # background threads; node.url -> http://127.0.0.1:PORT
    >>> node.ws_url                        # ws://127.0.0.1:PORT+1
    >>> node.stop()
    ``serve_forever()`` runs it in the foreground (``gridx chain node``)."""

    def __init__(self, config: NodeConfig = NodeConfig()) -> None:
        self.config = config
        self.chain = SvmChain(config.programs, config.journal)
        try:
            self._server, ws_sock = _listen_pair(config.host, config.port, self.chain)
        except ServiceError:
            self.chain.close()
            raise
        self.pubsub = PubSub(self.chain)
        self.chain.listener = self.pubsub
        self.pubsub_server = PubSubServer(self.pubsub, ws_sock)
        self._clock_stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def ws_url(self) -> str:
        return self.pubsub_server.url

    def _clock(self) -> None:
        period = self.config.slot_ms / 1000
        while not self._clock_stop.wait(period):
            self.chain.tick()

    def _start_background(self) -> None:
        self.pubsub_server.start()
        if self.config.slot_ms > 0:
            t = threading.Thread(target=self._clock, name="gridx-chain-clock", daemon=True)
            t.start()
            self._threads.append(t)

    @classmethod
    def start(cls, config: NodeConfig = NodeConfig()) -> LocalNode:
        node = cls(config)
        node._start_background()
        t = threading.Thread(
            target=node._server.serve_forever, kwargs={"poll_interval": 0.05}, name="gridx-chain-node", daemon=True
        )
        t.start()
        node._threads.append(t)
        return node

    def serve_forever(self) -> None:
        self._start_background()
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self._stop_background()
            self.chain.close()

    def _stop_background(self) -> None:
        self._clock_stop.set()
        self.pubsub_server.stop()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._stop_background()
        self.chain.close()

    def crash_after_commit(self, match: Callable[[TxRecord], bool]) -> threading.Event:
        """Fault injection (tests): the node dies as a crashed validator would, right after the
        first transaction ``match`` accepts is committed and journaled, before its sender gets
        any reply (no response, no later request is answered). Returns an event set once the
        node is down; then ``stop()`` it. A node restarted on the same journal has that
        transaction."""
        inner, down = self.chain.listener, threading.Event()
        node = self

        class _Crash:
            def committed(self, rec: TxRecord, written: list[Pubkey]) -> None:
                if not down.is_set() and match(rec):
                    # still under the chain's lock, so no reply, no other request and no
                    # subscription notice (an indexer would learn the outcome) gets out first
                    node._server.dead = True
                    threading.Thread(target=node._crash, args=(down,), daemon=True).start()
                    down.wait()
                elif inner is not None:
                    inner.committed(rec, written)

            def slot_opened(self, slot: int) -> None:
                if inner is not None:
                    inner.slot_opened(slot)

        self.chain.listener = _Crash()
        return down

    def _crash(self, down: threading.Event) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        down.set()  # the rest of stop() (PubSub, journal) is the caller's node.stop()

    def __enter__(self) -> LocalNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
