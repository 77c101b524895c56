"""``gridx trade login|register|enrol|meters|balance|sell|buy|cancel|book|trades``: Flow 3 from a terminal.

The keypair file signs locally (``--keypair``, default .secrets/wallet.json); the session
token is kept in .secrets/api/session-<wallet>.txt (0600) between commands."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Trade energy through the API (non-custodial: your key signs).")
_SCALE = Decimal(1_000_000)

Url = Annotated[str, typer.Option(envvar="GRIDX_API_URL", help="API base URL")]
Key = Annotated[Path | None, typer.Option(help="keypair file (Solana CLI JSON)")]


def _client(url: str, keypair: Path | None, login: bool = True) -> Any:
    from gridx.client import TradingClient
    from gridx.paths import secrets_dir, write_private

    c = TradingClient(url, keypair or secrets_dir() / "wallet.json")
    session = secrets_dir() / "api" / f"session-{c.wallet}.txt"
    if session.exists():
        c.token = session.read_text().strip()
    elif login:
        write_private(session, c.login().encode())
    return c


def _units(text: str) -> int:
    """'15' or '2.5' (GRXE or GRX) -> base units, exactly."""
    v = Decimal(text) * _SCALE
    if v != v.to_integral_value():
        raise typer.BadParameter(f"{text}: at most 6 decimals")
    return int(v)


def _out(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


@app.command()
def login(url: Url = "http://127.0.0.1:8000", keypair: Key = None) -> None:
    """Sign in with the wallet (Sign-In-With-Solana) and keep the session token."""
    from gridx.paths import secrets_dir, write_private

    c = _client(url, keypair, login=False)
    write_private(secrets_dir() / "api" / f"session-{c.wallet}.txt", c.login().encode())
    _out({"wallet": c.wallet, "signed_in": True})


@app.command()
def register(
    kind: Annotated[str, typer.Argument(help="prosumer or consumer")],
    url: Url = "http://127.0.0.1:8000",
    keypair: Key = None,
) -> None:
    """Register the wallet on chain (you sign the transaction)."""
    _out(_client(url, keypair).register(kind))


@app.command()
def enrol(
    proof_file: Annotated[Path, typer.Argument(help="what `gridx edge enrol-proof` printed (JSON; - for stdin)")],
    rated_power_w: Annotated[int, typer.Option(help="the meter's rated power, 1 to 10,000,000 W")],
    interval_s: Annotated[int, typer.Option(help="the meter's window length (divides a day)")] = 900,
    url: Url = "http://127.0.0.1:8000",
    keypair: Key = None,
) -> None:
    """Enrol a meter on chain (you sign as owner; the registry authority co-signs)."""
    import sys

    text = sys.stdin.read() if str(proof_file) == "-" else proof_file.read_text()
    try:
        proof = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="PROOF_FILE") from None
    _out(_client(url, keypair).enrol_meter(proof, rated_power_w, interval_s))


@app.command()
def meters(url: Url = "http://127.0.0.1:8000", keypair: Key = None) -> None:
    """Your meters: active, revoked, and enrolments pending or failed."""
    _out(_client(url, keypair).meters())


@app.command()
def balance(url: Url = "http://127.0.0.1:8000", keypair: Key = None) -> None:
    """GRXE and GRX held, and what open orders escrow."""
    _out(_client(url, keypair).balances())


@app.command()
def sell(amount: str, price: str, url: Url = "http://127.0.0.1:8000", keypair: Key = None) -> None:
    """Sell AMOUNT GRXE (kWh) at PRICE GRX per kWh: escrows the GRXE once you sign."""
    _out(_client(url, keypair).sell(_units(amount), _units(price)))


@app.command()
def buy(amount: str, price: str, url: Url = "http://127.0.0.1:8000", keypair: Key = None) -> None:
    """Buy AMOUNT GRXE at up to PRICE GRX per kWh: escrows the GRX once you sign."""
    _out(_client(url, keypair).buy(_units(amount), _units(price)))


@app.command()
def cancel(order_id: int, url: Url = "http://127.0.0.1:8000", keypair: Key = None) -> None:
    """Cancel your order; the escrow comes back once you sign."""
    _out(_client(url, keypair).cancel(order_id))


@app.command()
def book(url: Url = "http://127.0.0.1:8000", depth: int = 10) -> None:
    """The order book (public)."""
    from solders.keypair import Keypair

    from gridx.client import TradingClient

    _out(TradingClient(url, Keypair()).book(depth=depth))


@app.command()
def trades(url: Url = "http://127.0.0.1:8000", keypair: Key = None, mine: bool = False) -> None:
    """Recent trades of the market, or yours (--mine)."""
    _out(_client(url, keypair).trades(mine=mine) if mine else _client(url, keypair, login=False).trades())
