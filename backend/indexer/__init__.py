"""The chain → database indexer: program events applied idempotently from a slot cursor."""

from backend.indexer._apply import apply_tx_events, event_json
from backend.indexer._service import EventSource, Indexer, PollingSource

__all__ = ["EventSource", "Indexer", "PollingSource", "apply_tx_events", "event_json"]
