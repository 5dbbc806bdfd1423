"""State: sources, items seen, alerts and their deliveries, in SQLite or PostgreSQL."""

from monitor.store.deliveries import DeliveryRow
from monitor.store.polls import CommitResult, FetchSuccess
from monitor.store.repository import SourceState, Store

__all__ = ["CommitResult", "DeliveryRow", "FetchSuccess", "SourceState", "Store"]
