"""``gridx bench api``: the API under uvicorn (``gridx api run``) with PostgreSQL and the local
chain node, each its own process, driven by many signed-in clients. Figures are printed,
never asserted; the last line is one JSON object."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import websockets
from solders.keypair import Keypair

from gridx.chain import (
    DEV_EDGE,
    airdrop,
    authorize_edge,
    mint_to_owner,
    run_on_chain,
)
from gridx.client import ApiProblem, TradingClient
from gridx.errors import GridxError

from ._bench_stack import BenchStack

__all__ = ["BenchSetupError", "run_bench"]

UNIT = 1_000_000
PRICE = 3 * UNIT
_DELTAS = 20  # trades watched on the feed
_ORDER_LAMPORTS = 5_000_000  # an order account's rent (~2.1M) and its transaction's fee, with room


def _say(text: str) -> None:

    print(f"[bench api {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _p95(xs: list[float]) -> float | None:
    return round(sorted(xs)[int(0.95 * (len(xs) - 1))], 2) if xs else None


def _p50(xs: list[float]) -> float | None:
    return round(sorted(xs)[len(xs) // 2], 2) if xs else None


def _per(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float] | None:
    return {k: round((after[k] - before[k]) * 1000 / n, 3) for k in before} if n else None


class BenchSetupError(GridxError):
    """A bench user could not be made ready; the message names the user, its role and the step."""


def _users(
    s: BenchStack, sellers: int, buyers: int, grx: int = 1_000 * UNIT, orders_each: int = 20
) -> tuple[list[TradingClient], list[TradingClient]]:
    """Signed-in, registered users; each seller holds 20 GRXE (one mint by the bootstrapped
    meter-signed mint for a meter it owns), each buyer ``grx`` from the dev faucet."""
    # once, before the users' mints run side by side: each mint would otherwise race to
    # authorise the dev edge's minter, and all but one add_minter would be refused
    run_on_chain(s.rpc, lambda c: authorize_edge(c, DEV_EDGE, s.keys))

    def make(i: int) -> TradingClient:
        role = "prosumer" if i < sellers else "consumer"
        kp = Keypair()
        step = "airdrop"
        try:
            # each order account's rent is the owner's: 1 SOL paid for ~500, and with few buyers
            # a large --trades ran their wallets dry (orders refused as ResultWithNegativeLamports)
            run_on_chain(s.rpc, lambda c: airdrop(c, kp.pubkey(), 10**9 + orders_each * _ORDER_LAMPORTS))
            cl = TradingClient(s.url, kp)
            step = "login"
            cl.login()
            step = "register"
            cl.register(role)
            if i >= sellers:
                step = "faucet"
                cl.faucet(grx)
                return cl
            step = "mint"
            run_on_chain(s.rpc, lambda c: mint_to_owner(c, kp, [20 * UNIT], s.keys), timeout_s=120)
        except (GridxError, httpx.HTTPError) as exc:
            raise BenchSetupError(f"user {i} ({role}) {kp.pubkey()}: {step} failed: {exc!r}") from exc
        return cl

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(make, range(sellers + buyers)))
    return made[:sellers], made[sellers:]


async def _paced(url: str, tokens: list[str], rate: float, seconds: float, req: Any) -> tuple[list[float], int]:
    """Requests offered at ``rate`` per second (not a burst); latencies in ms and errors. The
    load generator is aiohttp: it shares the API's two cores, and httpx spends several times its
    CPU per request, more the more requests are in flight, so a slow moment fed on itself and
    whole runs measured the client's queue rather than the API."""
    import aiohttp

    lat: list[float] = []
    errors = 0
    n = int(rate * seconds)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(url, timeout=timeout, connector=aiohttp.TCPConnector(limit=64)) as http:
        t0 = time.perf_counter()

        async def one(i: int) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            start = time.perf_counter()
            try:
                status, text = await req(http, tokens[i % len(tokens)], i)
            except (aiohttp.ClientError, TimeoutError) as exc:  # overloaded: the client gave up waiting
                errors += 1
                _say(f"request failed: {exc!r}")
                return
            lat.append((time.perf_counter() - start) * 1000)
            if status >= 400:
                errors += 1
                _say(f"{status} {text[:200]}")

        await asyncio.gather(*(one(i) for i in range(n)))
    return lat, errors


def _run_fast(coro: Any) -> Any:
    """On uvloop, as the API runs: the load generator's own CPU is taken from the same cores."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def _prepare(market: str) -> Any:
    async def req(http: Any, token: str, i: int) -> tuple[int, str]:
        body = {"market": market, "side": "buy", "amount": UNIT, "price": PRICE}
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        async with http.post("/orders", json=body, headers=headers) as r:
            return r.status, await r.text()

    return req


def _book(market: str) -> Any:
    async def req(http: Any, token: str, i: int) -> tuple[int, str]:
        async with http.get(f"/markets/{market}/book", params={"depth": 20}) as r:
            return r.status, await r.text()

    return req


def _place(
    sellers: list[TradingClient], buyers: list[TradingClient], trades: int, start: int = 0
) -> tuple[dict[str, int], int]:
    """``trades`` crossing pairs of 1 GRXE, placed through the API (prepare, sign, submit), the
    sellers taken round-robin from ``start`` (where the last call left off, so no seller is
    asked for more than it holds); returns the refused orders by problem code (each also
    reported as it happens) and the trades they cost: a refused order is a trade that cannot
    happen, so it must show in the figures, not vanish."""
    jobs = [(sellers[(start + i) % len(sellers)], "sell") for i in range(trades)]
    jobs += [(buyers[(start + i) % len(buyers)], "buy") for i in range(trades)]
    refused: Counter[str] = Counter()
    by_side: Counter[str] = Counter()

    def place(job: tuple[TradingClient, str]) -> None:
        try:
            job[0].order(job[1], UNIT, PRICE)
        except ApiProblem as exc:
            refused[exc.code] += 1
            by_side[job[1]] += 1
            _say(f"{job[1]} order of {job[0].wallet} refused: {exc}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(place, jobs))
    return dict(refused), max(by_side["sell"], by_side["buy"])


async def _deltas(url: str, market: str, want: int, subscribed: asyncio.Event, out: list[float]) -> None:
    """Match → client latency of Trade events seen on the WebSocket feed, into ``out``."""
    async with websockets.connect(url.replace("http", "ws") + f"/ws/markets/{market}") as ws:
        json.loads(await asyncio.wait_for(ws.recv(), 120))  # the snapshot: subscribed from here on
        subscribed.set()
        while len(out) < want:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 120))
            if msg.get("type") == "event" and msg.get("event") == "Trade" and msg.get("ts"):
                out.append(time.time() * 1000 - msg["ts"])


def _settle_phase(
    s: BenchStack, sellers: list[TradingClient], buyers: list[TradingClient], trades: int
) -> dict[str, Any]:
    refused, _ = _place(sellers, buyers, trades)  # the matcher is off: the book fills, nothing matches
    s.start_api(matcher=True)  # the matcher and settler start on a full book
    deadline = time.monotonic() + 300
    first: tuple[dict[str, float], int] | None = None  # CPU and confirmed when trades first appear
    count = """SELECT count(*) FILTER (WHERE status IN ('confirmed', 'failed')), count(*),
                      count(*) FILTER (WHERE status = 'confirmed') FROM trades"""
    while time.monotonic() < deadline:
        cpu = s.cpu()  # before the query: the trades counted are settled with at most this CPU
        done = s.sql(count)
        if first is None and done[1]:  # the engine is up (its start-up CPU is not a trade's)
            first = (cpu, int(done[2]))
        if done[1] >= trades and done[0] == done[1]:
            break
        time.sleep(0.2 if first else 0.005)  # closely until the first trades: a round takes ~0.2 s
    cpu_end = s.cpu()
    row = s.sql(
        """SELECT count(*) FILTER (WHERE status = 'confirmed'), count(*) FILTER (WHERE status = 'failed'),
                  extract(epoch FROM max(confirmed_at) - min(created_at)),
                  count(DISTINCT tx_signature) FILTER (WHERE status = 'confirmed') FROM trades"""
    )
    span = float(row[2] or 0)
    return {
        "trades_confirmed": row[0],
        "trades_failed": row[1],
        "refused_orders": refused,  # problem code -> orders the API refused
        "errors": sum(refused.values()) + row[1],
        "settled_per_s": round(row[0] / span, 1) if span else None,
        "settle_txs": row[3],  # match_order transactions that settled them (several trades each)
        # CPU ms per trade settled after the engine was up (matcher, settler, indexer; chain node)
        "settle_cpu_ms": _per(first[0], cpu_end, row[0] - first[1]) if first else None,
    }


def _delta_phase(
    s: BenchStack, sellers: list[TradingClient], buyers: list[TradingClient], market: str, n: int, start: int
) -> tuple[list[float], dict[str, int]]:
    for cl in (*sellers, *buyers):
        cl.http.base_url = httpx.URL(s.url)
        cl.login()

    async def go() -> tuple[list[float], dict[str, int]]:
        subscribed, out = asyncio.Event(), list[float]()
        watcher = asyncio.create_task(_deltas(s.url, market, n, subscribed, out))
        await asyncio.wait_for(subscribed.wait(), 120)  # no trade may happen before the watcher listens
        refused, lost = await asyncio.to_thread(_place, sellers, buyers, n, start)
        if lost and not watcher.done():
            # refused orders make fewer trades: wait for those that can happen, then stop
            deadline = time.monotonic() + 120
            while len(out) < n - lost and not watcher.done() and time.monotonic() < deadline:
                await asyncio.wait({watcher}, timeout=0.1)
            watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=bool(lost))
        return out, refused

    return asyncio.run(go())


def run_bench(
    users: int = 20,
    rate: float = 200.0,
    seconds: float = 5.0,
    trades: int = 200,
    profile: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    from gridx.paths import run_dir
    from gridx.services import remove_run_tree

    base = run_dir() / "bench-api"
    remove_run_tree(base)  # a relocated cluster of the last run too
    base.mkdir(parents=True)
    s = BenchStack(base, profile, workers)
    try:
        s.start_api(matcher=False)
        n_sellers = (trades + _DELTAS) // 20 + 1  # 20 GRXE each
        n_buyers = max(1, users - n_sellers)
        # enough GRX for every buy the bench places (it placed more than a buyer could pay for)
        buys_each = -(-(trades + _DELTAS) // n_buyers)
        grx = max(1_000, buys_each * PRICE // UNIT + 10) * UNIT
        sellers, buyers = _users(s, n_sellers, n_buyers, grx, max(20, buys_each))
        market = sellers[0].market_id()
        tokens = [cl.token or "" for cl in buyers]  # the prepared orders are buys: buyers hold GRX
        _say("users ready; prepare phase")
        cpu0 = s.cpu()
        prep, prep_err = _run_fast(_paced(s.url, tokens, rate, seconds, _prepare(market)))
        cpu1 = s.cpu()
        book, book_err = _run_fast(_paced(s.url, tokens, rate, seconds, _book(market)))
        cpu2 = s.cpu()
        _say("settle phase")
        settle = _settle_phase(s, sellers, buyers, trades)
        _say(f"settle: {settle}; delta phase")
        deltas, delta_refused = _delta_phase(s, sellers, buyers, market, _DELTAS, trades)
        return {
            "users": len(sellers) + len(buyers),
            "workers": workers,
            "rate_per_s": rate,
            "prepare_p95_ms": _p95(prep),
            "prepare_p50_ms": _p50(prep),
            "book_p95_ms": _p95(book),
            "book_p50_ms": _p50(book),
            # load-independent: CPU milliseconds per request of the API process and the chain node
            "prepare_cpu_ms": _per(cpu0, cpu1, len(prep)),
            "book_cpu_ms": _per(cpu1, cpu2, len(book)),
            "delta_p95_ms": _p95(deltas),
            **settle,
            "delta_refused_orders": delta_refused,
            "errors": prep_err + book_err + settle["errors"] + sum(delta_refused.values()),
        }
    finally:
        s.stop()
