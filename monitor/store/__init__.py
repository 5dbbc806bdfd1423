"""State: sources, items seen, alerts and their deliveries, in SQLite or PostgreSQL."""

from monitor.store.repository import CommitResult, DeliveryRow, SourceState, Store

__all__ = ["CommitResult", "DeliveryRow", "SourceState", "Store"]
