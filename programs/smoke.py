#!/usr/bin/env python3
"""Smoke run of the three GridTokenX programs in LiteSVM (solders 0.26, via anchorpy3 0.4.5).

Loads programs/deploy/{registry,energy_token,trading}.so (or the dir given as argv[1]) and
executes every instruction at least once, building instructions and decoding accounts and
events with anchorpy from programs/idl/*.json. Exits non-zero on the first failure.
The scenario lives in programs/smoke_lib/ (shared helpers in common.py, one module per program).

    python programs/smoke.py [SO_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from smoke_lib import run  # programs/ is sys.path[0] when this file is run as a script

if __name__ == "__main__":
    run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "deploy")
