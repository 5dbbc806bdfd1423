"""New items packed once for the store: every item comes back in its place, alerts included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.model import Alert, Item, KeyedItem, Outgoing, PackedItems, Planned, stored_item


def entry(n: int) -> KeyedItem:
    item = Item(
        source="wire",
        title=f"headline {n}",
        url=f"https://news.example.org/{n}",
        summary=f"summary {n}",
        content=f"content {n}",
        published=datetime(2024, 9, 3, 8, n, tzinfo=UTC),
        guid=f"g{n}",
        author="A. Writer",
        tags=("tech", f"t{n}"),
    )
    return KeyedItem(item=item, keys=(f"k{n}", f"url:{n}"))


def outgoing(n: int) -> Outgoing:
    alert = Alert(
        key=f"a{n}",
        rule="r",
        title=f"headline {n}",
        url="u",
        source="wire",
        published=None,
        summary="",
    )
    return Outgoing(alert=alert, channels=("all",))


def test_items_with_alerts_travel_apart_and_return_to_their_places() -> None:
    planned: Planned = [(entry(n), [outgoing(n)] if n in (1, 4) else []) for n in range(6)]
    packed, alerting = PackedItems.pack(planned)
    assert packed.count == 6
    assert [e.key for e, _ in alerting] == ["k1", "k4"]
    # every field of every item, as the store takes it
    assert packed.unpack(alerting) == [(stored_item(e), outs) for e, outs in planned]
    # alerts held back on the way are what is stored
    held = [(e, []) for e, _ in alerting]
    assert [len(outs) for _, outs in packed.unpack(held)] == [0] * 6


def test_unpacking_with_other_items_than_were_packed_is_refused() -> None:
    packed, _ = PackedItems.pack([(entry(0), [outgoing(0)])])
    with pytest.raises(ValueError, match="positions"):
        packed.unpack([])
