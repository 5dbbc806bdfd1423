from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.schedule import (
    FIRST_ROUND_MIN,
    FIRST_ROUND_RATE,
    MAX_DELAY,
    after_failure,
    after_success,
    cache_hint,
    first_poll_offsets,
    is_due,
)

NOW = datetime(2024, 9, 3, 8, 0, tzinfo=UTC)
EVERY = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(1, 7.5, 10), (2, 15, 20), (3, 30, 40), (5, 120, 160)],
    ids=["first", "second", "third", "fifth"],
)
def test_backoff_doubles_per_failure_with_downward_jitter(
    failures: int, low: float, high: float
) -> None:
    for seed in range(20):
        delay = after_failure(NOW, EVERY, failures, rng=random.Random(seed)) - NOW
        assert timedelta(minutes=low) <= delay <= timedelta(minutes=high)


def test_backoff_is_capped_at_a_day_and_never_parks_the_source() -> None:
    delay = after_failure(NOW, EVERY, 500, rng=random.Random(1)) - NOW
    assert timedelta(hours=18) <= delay <= MAX_DELAY


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(120, timedelta(seconds=120)), (5, timedelta(seconds=60)), (999_999_999, MAX_DELAY)],
    ids=["honoured", "clamped-up-to-a-minute", "clamped-down-to-a-day"],
)
def test_retry_after_is_honoured_within_bounds(retry_after: float, expected: timedelta) -> None:
    every = timedelta(seconds=30)
    assert after_failure(NOW, every, 1, retry_after, rng=random.Random(0)) - NOW == expected


def test_hints_only_ever_stretch_the_interval() -> None:
    assert after_success(NOW, EVERY, [timedelta(minutes=5)]) is None
    assert after_success(NOW, EVERY, [None, timedelta(hours=1)]) == NOW + timedelta(hours=1)
    assert after_success(NOW, EVERY, [timedelta(days=30)]) == NOW + MAX_DELAY
    assert after_success(NOW, EVERY, []) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("public, max-age=3600", timedelta(hours=1)),
        ("max-age=0", timedelta(0)),
        ("no-cache, max-age=3600", None),
        ("private", None),
        (None, None),
    ],
)
def test_cache_control_max_age(header: str | None, expected: timedelta | None) -> None:
    assert cache_hint(header) == expected


def test_ticks_slightly_early_still_count_as_due() -> None:
    assert is_due(NOW, None, EVERY)
    assert is_due(NOW, NOW + timedelta(seconds=30), EVERY)
    assert not is_due(NOW, NOW + timedelta(minutes=5), EVERY)


def test_a_few_sources_all_start_within_seconds() -> None:
    offsets = first_poll_offsets([timedelta(minutes=10)] * 12)
    assert offsets[0] == timedelta(0)
    assert max(offsets) < FIRST_ROUND_MIN
    assert offsets == sorted(offsets)


def test_thousands_of_sources_are_spread_at_the_first_round_rate_within_their_interval() -> None:
    every = timedelta(minutes=10)
    offsets = first_poll_offsets([every] * 10_000)
    assert max(offsets) < every
    # no second of the round holds more than the rate's share of first polls
    per_second: dict[int, int] = {}
    for offset in offsets:
        second = int(offset.total_seconds())
        per_second[second] = per_second.get(second, 0) + 1
    assert max(per_second.values()) <= FIRST_ROUND_RATE + 1
    assert max(offsets) >= timedelta(seconds=10_000 / FIRST_ROUND_RATE) * 0.99


def test_a_source_polled_often_starts_within_its_own_interval() -> None:
    everies = [timedelta(minutes=10)] * 5000 + [timedelta(seconds=30)] * 5000
    offsets = first_poll_offsets(everies)
    assert all(o < e for o, e in zip(offsets, everies, strict=True))
