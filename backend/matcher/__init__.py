"""One matcher per market (single writer) and the settler that turns its trades into
``match_order`` transactions signed by the market authority."""

from backend.matcher._pack import MAX_PER_TX, PACKET_BYTES, pack, tx_size
from backend.matcher._service import FEED_CHANNEL, MATCH_BATCH, WAKE_CHANNEL, Matcher, engine_spec
from backend.matcher._settle import Settler

__all__ = [
    "FEED_CHANNEL",
    "MATCH_BATCH",
    "MAX_PER_TX",
    "PACKET_BYTES",
    "WAKE_CHANNEL",
    "Matcher",
    "Settler",
    "engine_spec",
    "pack",
    "tx_size",
]
