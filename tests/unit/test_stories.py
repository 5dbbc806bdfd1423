"""One story told twice: reworded headlines of one event match, other events do not."""

from __future__ import annotations

import pytest

from monitor.stories import earlier_telling, headline, same_story


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Amazon to close Shanghai AI lab", "Amazon closes its Shanghai AI lab - report"),
        (
            "Exclusive: Amazon to shut Shanghai AI lab",
            "Amazon to shut Shanghai AI lab, sources say",
        ),
        ("IBM to shut China R&D operations, lay off 1,000", "IBM shuts China R&D operations"),
    ],
)
def test_reworded_headlines_of_one_event_are_one_story(first: str, second: str) -> None:
    assert same_story(headline(first), headline(second))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Amazon closes Shanghai AI lab", "Amazon closes Beijing AI lab"),
        (
            "Amazon closes its Shanghai AI research lab amid tensions",
            "Amazon closes its Beijing AI research lab amid tensions",
        ),
        ("IBM shuts China lab", "Intel shuts China lab"),
        ("Lab closes", "Lab closes"),  # too short to tell
        ("Lab number 1 shuts", "Lab number 2 shuts"),
        ("Microsoft opens Shanghai lab", "Microsoft closes Shanghai lab and opens one in Vietnam"),
    ],
)
def test_other_events_are_other_stories(first: str, second: str) -> None:
    assert not same_story(headline(first), headline(second))


def test_earlier_telling_names_the_alert_of_the_same_story() -> None:
    earlier = [("k1", "Intel shuts Dalian plant"), ("k2", "Amazon to close Shanghai AI lab")]
    assert earlier_telling("Amazon closes its Shanghai AI lab", earlier) == "k2"
    assert earlier_telling("Apple closes Shenzhen office", earlier) is None
