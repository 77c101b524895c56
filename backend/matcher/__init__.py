"""One matcher per market (single writer) and the settler that turns its trades into
``match_order`` transactions signed by the market authority."""

from backend.matcher._service import FEED_CHANNEL, Matcher, engine_spec
from backend.matcher._settle import Settler

__all__ = ["FEED_CHANNEL", "Matcher", "Settler", "engine_spec"]
