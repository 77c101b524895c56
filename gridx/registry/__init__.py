"""The on-chain registry's mirror in the database, enrolment (chain first), the chain ↔
database reconciliation of mints, and the proof behind a mint (``gridx prove``). Used by the
mint service, ``gridx meters``, the demo and the backend through these public names."""

from gridx.registry._mirror import (
    ChainMeter,
    enroll_on_chain,
    fetch_chain_meters,
    mirror_loop,
    register_wallet,
    sync_mirror,
)
from gridx.registry._prove import Check, Proof, prove
from gridx.registry._reconcile import Reconciliation, reconcile

__all__ = [
    "ChainMeter",
    "Check",
    "Proof",
    "Reconciliation",
    "enroll_on_chain",
    "fetch_chain_meters",
    "mirror_loop",
    "prove",
    "reconcile",
    "register_wallet",
    "sync_mirror",
]
