"""The JSON-RPC 2.0 envelope of the local node, shared by HTTP and WebSocket: every request
ends in a result or a JSON-RPC error (parse error, invalid request, method not found, invalid
params, internal error), never in a dropped connection or a crashed node."""

from __future__ import annotations

import json
from typing import Any

from solders.errors import BincodeError, SerdeJSONError
from solders.hash import ParseHashError

from . import _rpc, _rpc_info, _rpc_token, _rpc_tx
from ._rpc import RpcError
from ._svm import SvmChain

__all__ = ["MAX_BATCH", "dispatch", "error", "parse_error"]

# what a method raises on a parameter of the wrong type or shape (solders' parse errors included)
_BAD_PARAMS = (
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    AttributeError,
    OverflowError,
    ParseHashError,
    BincodeError,
    SerdeJSONError,
)

METHODS = {**_rpc.METHODS, **_rpc_tx.METHODS, **_rpc_token.METHODS, **_rpc_info.METHODS}

# a batch is answered in one response under the chain's lock per call: bound its size
MAX_BATCH = 1000


def error(rid: Any, code: int, message: str, data: Any = None) -> str:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return json.dumps({"jsonrpc": "2.0", "error": err, "id": rid})


def parse_error() -> str:
    return error(None, -32700, "Parse error")


def _valid_id(rid: Any) -> Any:
    return rid if isinstance(rid, str | int) and not isinstance(rid, bool) else None


def call(chain: SvmChain, req: Any) -> str:
    rid = _valid_id(req.get("id")) if isinstance(req, dict) else None
    try:
        if not isinstance(req, dict) or req.get("jsonrpc", "2.0") != "2.0" or not isinstance(req.get("method"), str):
            raise RpcError(-32600, "Invalid request")
        fn = METHODS.get(req["method"])
        if fn is None:
            raise RpcError(-32601, f"Method not found: {req['method']}")
        params = req.get("params")
        params = [] if params is None else params
        if not isinstance(params, list):
            raise RpcError(-32602, "Invalid params: expected an array")
        return json.dumps({"jsonrpc": "2.0", "result": fn(chain, params), "id": rid})
    except RpcError as exc:
        return error(rid, exc.code, exc.message, exc.data)
    except _BAD_PARAMS as exc:
        return error(rid, -32602, f"Invalid params: {exc}")
    except Exception as exc:  # a bad request must never take the node down
        return error(rid, -32603, f"Internal error: {exc!r}")


def dispatch(chain: SvmChain, body: bytes) -> bytes:
    """One HTTP body in, one HTTP body out."""
    try:
        req = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return parse_error().encode()
    if isinstance(req, list):
        if not req or len(req) > MAX_BATCH:
            return error(None, -32600, f"Invalid request: a batch holds 1 to {MAX_BATCH} requests").encode()
        return ("[" + ",".join(call(chain, r) for r in req) + "]").encode()
    return call(chain, req).encode()
