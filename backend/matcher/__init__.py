"""One matcher per market (single writer) and the settler that turns its trades into
``match_order`` transactions signed by the market authority."""

from backend.matcher._service import Matcher, engine_spec
from backend.matcher._settle import Settler

__all__ = ["Matcher", "Settler", "engine_spec"]
