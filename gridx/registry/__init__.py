"""The on-chain registry's mirror in the database, enrolment (chain first) and the chain ↔
database reconciliation of mints. Used by the mint service, ``gridx meters``, the demo and the
backend through these public names."""

from gridx.registry._mirror import (
    ChainMeter,
    enroll_on_chain,
    fetch_chain_meters,
    mirror_loop,
    register_wallet,
    sync_mirror,
)
from gridx.registry._reconcile import Reconciliation, reconcile

__all__ = [
    "ChainMeter",
    "Reconciliation",
    "enroll_on_chain",
    "fetch_chain_meters",
    "mirror_loop",
    "reconcile",
    "register_wallet",
    "sync_mirror",
]
