"""The program interfaces gen_idl.py writes, one module per program.

Order matters: discriminators are name hashes, but error codes are positions (6000 + index),
so entries are only ever appended.
"""

from specs.energy_token import ENERGY_TOKEN
from specs.registry import REGISTRY
from specs.trading import TRADING

SPECS = {"registry": REGISTRY, "energy_token": ENERGY_TOKEN, "trading": TRADING}

__all__ = ["SPECS"]
