"""Which items the store has seen, asked over one connection held open: for a worker process,
which asks for every feed it reads.

Asked through the store's transactions, each lookup took a connection from the pool, began and
committed a transaction and gave the connection back: twice the cost of the query itself, and a
fifth of what a worker spent on a pass over a thousand feeds. Here the query runs on its own.
SQLite's driver begins no transaction for it (see engine.py), so it reads a snapshot of its own;
PostgreSQL's implicit transaction is rolled back at once, so that the connection never sits idle
inside one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, PoolProxiedConnection
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StoreError
from monitor.model import KeyedItem
from monitor.store import bulk, schema
from monitor.store import engine as engines


def first_unseen(batch: Sequence[KeyedItem], taken: set[str]) -> list[KeyedItem]:
    """The entries none of whose keys is in ``taken`` or held by an earlier entry of
    ``batch``; ``taken`` gains the keys of those kept."""
    kept = []
    for entry in batch:
        if taken.isdisjoint(entry.keys):
            kept.append(entry)
            taken.update(entry.keys)
    return kept


class KeyLookup:
    """``Store.filter_new`` on a connection of its own, kept until ``close``; for one thread."""

    def __init__(self, engine: Engine, location: engines.Location) -> None:
        self._engine = engine
        self._location = location
        self._held: PoolProxiedConnection | None = None

    def filter_new(self, batch: Sequence[KeyedItem]) -> list[KeyedItem]:
        """The entries none of whose keys are stored, and that share no key with an earlier one.

        A held connection may have died since its last use (a server restarted, or closed it
        as idle between the daemon's passes): a lookup that fails is tried once more on a new
        connection, as the pool's ping would have given one.
        """
        keys = list(dict.fromkeys(key for entry in batch for key in entry.keys))
        failed = (SQLAlchemyError, self._engine.dialect.loaded_dbapi.Error)
        try:
            taken = self._stored(keys)
        except failed:
            self._discard()
            try:
                taken = self._stored(keys)
            except failed as exc:
                self._discard()
                reason = engines.describe(exc, self._location)
                raise StoreError(
                    f"state database {self._location.display}: looking up items failed: {reason}"
                ) from exc
        return first_unseen(batch, taken)

    def _stored(self, keys: list[str]) -> set[str]:
        if self._held is None:
            self._held = self._engine.raw_connection()
        dbapi = self._held.dbapi_connection
        assert dbapi is not None  # a connection checked out holds one
        try:
            return bulk.driver_stored_values(
                dbapi, self._engine.dialect.name, schema.item_keys, "key", keys
            )
        finally:
            dbapi.rollback()

    def _discard(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.invalidate()

    def close(self) -> None:
        """Give the connection back to the store's pool."""
        held, self._held = self._held, None
        if held is not None:
            held.close()
