"""Every refusal the API makes: one exception root, one table of stable problem codes, and
the handlers that turn any exception into an RFC 9457 problem document."""

from __future__ import annotations

import enum
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from gridx.errors import GridxError

__all__ = ["PROBLEM_TYPE", "ApiError", "Problem", "exception_handlers", "problem_response"]

PROBLEM_TYPE = "https://gridtokenx.dev/problems/"


class Problem(enum.StrEnum):
    """Stable problem codes (the ``code`` member and the tail of ``type``). Never renamed."""

    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal_error"
    CHAIN_UNAVAILABLE = "chain_unavailable"
    # sign-in and sessions
    SIWS_MALFORMED = "siws_malformed"
    SIWS_WRONG_DOMAIN = "siws_wrong_domain"
    SIWS_WRONG_CHAIN = "siws_wrong_chain"
    SIWS_STALE = "siws_stale"
    SIWS_EXPIRED = "siws_expired"
    SIWS_BAD_SIGNATURE = "siws_bad_signature"
    NONCE_UNKNOWN = "nonce_unknown"
    NONCE_REPLAYED = "nonce_replayed"
    NONCE_EXPIRED = "nonce_expired"
    TOKEN_MISSING = "token_missing"  # noqa: S105 - a problem code, not a secret
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - a problem code, not a secret
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - a problem code, not a secret
    REFRESH_UNKNOWN = "refresh_unknown"
    REFRESH_EXPIRED = "refresh_expired"
    REFRESH_REUSED = "refresh_reused"
    REFRESH_REVOKED = "refresh_revoked"
    # transactions the user signs
    TX_MALFORMED = "tx_malformed"
    TX_ALTERED = "tx_altered"
    TX_SIGNATURE_INVALID = "tx_signature_invalid"
    TX_EXPIRED = "tx_expired"
    TX_ALREADY_SUBMITTED = "tx_already_submitted"
    TX_REFUSED = "tx_refused"
    # orders
    NOT_REGISTERED = "not_registered"
    UNKNOWN_MARKET = "unknown_market"
    OFF_TICK = "price_off_tick"
    OFF_LOT = "amount_off_lot"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    UNSUPPORTED_TIME_IN_FORCE = "unsupported_time_in_force"
    NOT_ORDER_OWNER = "not_order_owner"
    ORDER_NOT_OPEN = "order_not_open"
    SETTLEMENT_PENDING = "settlement_pending"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_IN_FLIGHT = "idempotency_in_flight"
    FAUCET_DISABLED = "faucet_disabled"
    # paying in THB (issue 12)
    PAYMENTS_UNAVAILABLE = "payments_unavailable"
    EVM_UNAVAILABLE = "evm_unavailable"
    SELL_ORDER_UNKNOWN = "sell_order_unknown"
    AMOUNT_EXCEEDS_ORDER = "amount_exceeds_order"
    OWN_ORDER = "own_order"
    EVM_ADDRESS_NOT_LINKED = "evm_address_not_linked"
    SELLER_EVM_NOT_LINKED = "seller_evm_not_linked"
    QUOTE_CHANGED = "quote_changed"
    SWAP_UNKNOWN = "swap_unknown"
    NOT_SWAP_PARTY = "not_swap_party"
    SWAP_BAD_HASHLOCK = "swap_bad_hashlock"
    SWAP_BAD_QUOTE = "swap_bad_quote"
    SWAP_TOO_LATE = "swap_too_late"
    SWAP_BAD_SECRET_LENGTH = "swap_bad_secret_length"  # noqa: S105 - a problem code, not a secret
    SWAP_WRONG_SECRET = "swap_wrong_secret"  # noqa: S105 - a problem code, not a secret
    SWAP_REFUSED = "swap_refused"
    SWAP_BUYER_NOT_LOCKED = "swap_buyer_not_locked"
    SWAP_SELLER_ALREADY_LOCKED = "swap_seller_already_locked"
    SWAP_NOT_FINAL = "swap_not_final"
    SWAP_HASHLOCK_USED = "swap_hashlock_used"
    # linking an EVM address by Sign-In-With-Ethereum (issue 12); not sign-in: the caller is
    # signed in already, so these are 422s, never 401s
    EVM_LINK_NONCE_UNKNOWN = "evm_link_nonce_unknown"
    EVM_LINK_ALTERED_MESSAGE = "evm_link_altered_message"
    EVM_LINK_WRONG_SIGNER = "evm_link_wrong_signer"
    EVM_LINK_MALFORMED_SIGNATURE = "evm_link_malformed_signature"
    EVM_LINK_EXPIRED = "evm_link_expired"
    EVM_LINK_NOT_YET_VALID = "evm_link_not_yet_valid"
    # meter enrolment (the registry program's register_meter, through the API)
    ENROLMENT_UNAVAILABLE = "enrolment_unavailable"
    ENROLMENT_BAD_PROOF = "enrolment_bad_proof"
    METER_ALREADY_ENROLLED = "meter_already_enrolled"
    UNKNOWN_EDGE = "unknown_edge"
    RATED_POWER_OUT_OF_RANGE = "rated_power_out_of_range"
    METER_INTERVAL_INVALID = "meter_interval_invalid"


_STATUS: dict[Problem, int] = {
    Problem.INVALID_REQUEST: 400,
    Problem.NOT_FOUND: 404,
    Problem.METHOD_NOT_ALLOWED: 405,
    Problem.PAYLOAD_TOO_LARGE: 413,
    Problem.RATE_LIMITED: 429,
    Problem.INTERNAL: 500,
    Problem.CHAIN_UNAVAILABLE: 503,
    Problem.SIWS_MALFORMED: 400,
    Problem.TX_MALFORMED: 400,
    Problem.NOT_ORDER_OWNER: 403,
    Problem.FAUCET_DISABLED: 403,
    Problem.UNKNOWN_MARKET: 404,
    Problem.TX_ALREADY_SUBMITTED: 409,
    Problem.ORDER_NOT_OPEN: 409,
    Problem.SETTLEMENT_PENDING: 409,
    Problem.IDEMPOTENCY_IN_FLIGHT: 409,
    Problem.TX_EXPIRED: 410,
    Problem.PAYMENTS_UNAVAILABLE: 503,
    Problem.EVM_UNAVAILABLE: 503,
    Problem.SELL_ORDER_UNKNOWN: 404,
    Problem.SWAP_UNKNOWN: 404,
    Problem.NOT_SWAP_PARTY: 403,
    Problem.QUOTE_CHANGED: 409,
    Problem.SWAP_TOO_LATE: 409,
    Problem.SWAP_BUYER_NOT_LOCKED: 409,
    Problem.SWAP_SELLER_ALREADY_LOCKED: 409,
    Problem.SWAP_NOT_FINAL: 409,
    Problem.ENROLMENT_UNAVAILABLE: 503,
    Problem.METER_ALREADY_ENROLLED: 409,
    Problem.SWAP_HASHLOCK_USED: 409,
}
_AUTH = {p for p in Problem if p.value.startswith(("siws_", "nonce_", "token_", "refresh_"))} - {Problem.SIWS_MALFORMED}


def status_of(problem: Problem) -> int:
    if problem in _AUTH:
        return 401
    return _STATUS.get(problem, 422)


class ApiError(GridxError):
    """A refusal with a stable problem code; ``extra`` adds members to the document."""

    def __init__(self, problem: Problem, detail: str = "", **extra: Any) -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem
        self.detail = detail
        self.extra = extra

    @property
    def status(self) -> int:
        return status_of(self.problem)


def problem_response(
    problem: Problem,
    detail: str,
    request: Request[Any, Any, Any],
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[Any]:
    from backend._metrics import PROBLEMS

    PROBLEMS.labels(problem.value).inc()
    status = status_of(problem)
    body = {
        "type": PROBLEM_TYPE + problem.value,
        "title": problem.value.replace("_", " "),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": problem.value,
        **extra,
    }
    # the exception's own headers (a rate limit's window and its Retry-After) win
    headers = {**({"Retry-After": "1"} if status in (429, 503) else {}), **(headers or {})}
    return Response(body, status_code=status, media_type="application/problem+json", headers=headers or None)


def _api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return problem_response(exc.problem, exc.detail, request, **exc.extra)


_BY_STATUS = {
    400: Problem.INVALID_REQUEST,
    401: Problem.TOKEN_MISSING,
    404: Problem.NOT_FOUND,
    405: Problem.METHOD_NOT_ALLOWED,
    413: Problem.PAYLOAD_TOO_LARGE,
    429: Problem.RATE_LIMITED,
}


def _http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, ValidationException):
        return problem_response(Problem.INVALID_REQUEST, str(exc.detail), request, errors=exc.extra or [])
    if isinstance(exc, HTTPException):
        problem = _BY_STATUS.get(exc.status_code, Problem.INVALID_REQUEST if exc.status_code < 500 else None)
        if problem is not None:
            return problem_response(problem, str(exc.detail), request, headers=exc.headers)
    if isinstance(exc, GridxError) and getattr(exc, "code", None) == "Unreachable":
        return problem_response(Problem.CHAIN_UNAVAILABLE, "the chain node is unreachable", request)
    import structlog

    structlog.get_logger("backend").exception("unhandled", path=request.url.path)
    return problem_response(Problem.INTERNAL, "internal error", request)


def exception_handlers() -> dict[type[Exception] | int, Any]:
    return {ApiError: _api_error, Exception: _http_error}
