"""``LocalNode``: the JSON-RPC methods of ``_rpc`` over HTTP on 127.0.0.1, backed by LiteSVM.

State is in memory unless ``journal`` is given (``gridx chain node`` defaults to
.run/chain/ledger.bin): then every committed write is journaled and replayed on start, so a
node stopped and restarted keeps the chain (see ``_journal``)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gridx.errors import ServiceError

from ._rpc import METHODS, RpcError
from ._svm import SvmChain

__all__ = ["LocalNode", "NodeConfig"]

_MAX_BODY = 8 << 20


@dataclass(frozen=True)
class NodeConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port
    programs: Path | None = None  # default: $GRIDX_PROGRAM_DIR or programs/deploy/
    journal: Path | None = None  # None: in memory only


def _call(chain: SvmChain, req: Any) -> dict[str, Any]:
    rid = req.get("id") if isinstance(req, dict) else None
    try:
        if not isinstance(req, dict) or not isinstance(req.get("method"), str):
            raise RpcError(-32600, "Invalid request")
        fn = METHODS.get(req["method"])
        if fn is None:
            raise RpcError(-32601, f"Method not found: {req['method']}")
        params = req.get("params") or []
        return {"jsonrpc": "2.0", "result": fn(chain, params), "id": rid}
    except RpcError as exc:
        err: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.data is not None:
            err["data"] = exc.data
        return {"jsonrpc": "2.0", "error": err, "id": rid}
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        return {"jsonrpc": "2.0", "error": {"code": -32602, "message": f"Invalid params: {exc}"}, "id": rid}
    except Exception as exc:  # a bad request must never take the node down
        return {"jsonrpc": "2.0", "error": {"code": -32603, "message": f"Internal error: {exc!r}"}, "id": rid}


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
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self.send_error(413)
            return
        try:
            req = json.loads(self.rfile.read(length))
        except ValueError:
            body = {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
        else:
            chain = self.server.chain
            body = [_call(chain, r) for r in req] if isinstance(req, list) else _call(chain, req)  # type: ignore[assignment]
        out = json.dumps(body).encode()
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
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def drop_connections(self) -> None:
        """Close keep-alive connections too: a stopped node must stop answering."""
        with self.conns_lock:
            conns = list(self.conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class LocalNode:
    """A local Solana-compatible JSON-RPC node.

    >>> node = LocalNode.start()          # background thread; node.url -> http://127.0.0.1:PORT
    >>> node.stop()
    ``serve_forever()`` runs it in the foreground (``gridx chain node``)."""

    def __init__(self, config: NodeConfig = NodeConfig()) -> None:
        self.config = config
        self.chain = SvmChain(config.programs, config.journal)
        try:
            self._server = _Server((config.host, config.port), self.chain)
        except OSError as exc:
            raise ServiceError(f"chain node cannot listen on {config.host}:{config.port}: {exc}") from exc
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @classmethod
    def start(cls, config: NodeConfig = NodeConfig()) -> LocalNode:
        node = cls(config)
        node._thread = threading.Thread(
            target=node._server.serve_forever, kwargs={"poll_interval": 0.05}, name="gridx-chain-node", daemon=True
        )
        node._thread.start()
        return node

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self.chain.close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        if self._thread is not None:
            self._thread.join()
        self.chain.close()

    def __enter__(self) -> LocalNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
