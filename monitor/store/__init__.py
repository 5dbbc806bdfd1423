"""State: sources, items seen, alerts and their deliveries, in SQLite or PostgreSQL.

``Store`` is imported when first asked for: it brings SQLAlchemy, and a `monitor check` whose
store runs in a process of its own needs only the records here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor.store.records import (
    CommitResult,
    DeliveryRow,
    FetchSuccess,
    SourceActivity,
    SourceState,
)

if TYPE_CHECKING:
    from monitor.store.repository import Store

__all__ = [
    "CommitResult",
    "DeliveryRow",
    "FetchSuccess",
    "SourceActivity",
    "SourceState",
    "Store",
]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from monitor.store.repository import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
