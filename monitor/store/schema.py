"""The tables, as SQLAlchemy Core objects; migrations create them, queries use them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Insert,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

sources = Table(
    "sources",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_success_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("last_error_at", DateTime(timezone=True)),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("fetched_once", Boolean, nullable=False, default=False),
    Column("items_seen", Integer, nullable=False, default=0),
    #: not before this time, unless asked (backoff after failures, Retry-After, feed TTL)
    Column("next_poll_at", DateTime(timezone=True)),
    #: the first failure of the current run of failures; cleared by a success
    Column("failing_since", DateTime(timezone=True)),
    #: the health problem last announced to the health channels ("failing", "silent"), if any
    Column("health_alert", Text),
    Column("health_alert_at", DateTime(timezone=True)),
    #: what the last good fetch warned about (a malformed feed, no items), and when it was logged
    Column("last_warning", Text),
    Column("last_warning_at", DateTime(timezone=True)),
    #: how long the last good fetch took to answer, and its body to become items (milliseconds)
    Column("fetch_ms", Integer),
    Column("parse_ms", Integer),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", Text, nullable=False, unique=True),
    Column("source", String(64), nullable=False),
    Column("guid", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Index("ix_items_first_seen_at", "first_seen_at"),
)

#: Every identity key of a stored item, its URL and GUID as well as its own key. No foreign key
#: to items: the store writes an item and its keys together, with the id the item's insert
#: returned, and checking each key's item again cost SQLite a quarter of its time in a pass
#: over many feeds. Whatever deletes an item deletes its keys itself (or keeps them on purpose,
#: to go on recognising the story).
item_keys = Table(
    "item_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("item_id", Integer, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("rule", String(64), nullable=False),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("alert_id", "channel", name="uq_deliveries_alert_channel"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
)

#: mutes alerts of a rule (or of every rule) whose text holds ``match``, until ``ends_at``
silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(64)),
    Column("match", Text, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
)

schema_migrations = Table(
    "schema_migrations",
    MetaData(),
    Column("name", String(128), primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def insert_or_ignore(dialect_name: str, table: Table) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING: rows that would violate a unique key are skipped.

    Both dialects spell it the same, but SQLAlchemy offers it only through each dialect's own
    construct; with RETURNING, the skipped rows are simply absent from the result.
    """
    # imported here: the PostgreSQL dialect would add 30 ms to every start on SQLite
    if dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing()
