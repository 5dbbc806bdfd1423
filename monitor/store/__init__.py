"""State: sources, items seen, alerts and their deliveries, in SQLite or PostgreSQL."""

from monitor.store.deliveries import DeliveryRow
from monitor.store.repository import CommitResult, SourceState, Store

__all__ = ["CommitResult", "DeliveryRow", "SourceState", "Store"]
