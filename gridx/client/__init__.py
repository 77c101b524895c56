"""A small typed client of the trading API: signs in and signs transactions with a keypair
file (the key never leaves this process)."""

from gridx.client._client import ApiProblem, TradingClient

__all__ = ["ApiProblem", "TradingClient"]
