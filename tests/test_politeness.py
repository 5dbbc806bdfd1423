"""Many sources on one host, with the default politeness: a host that answers 429 to any
client starting requests less than a second apart, or holding more than two at once, never
has to (FAULTS F9(a))."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

from tests.e2e_support import SHIPPED_RULES, UNRELATED, MonitorCli, rss
from tests.servers import LoopbackServer, Recorded, Reply

#: what the host enforces
MIN_SPACING_S = 1.0
MAX_IN_FLIGHT = 2
#: how long the host takes over each answer: longer than the spacing, so that a client that
#: kept only the spacing would hold three requests at once
ANSWER_S = 2.2
#: arrival times wander from start times by the scheduling of two processes
JITTER_S = 0.1
FEEDS = 3


class StrictHost:
    """The answer to each request, and what the host saw: arrivals and broken limits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: (arrival, when its answer is sent) of every request so far
        self.seen: list[tuple[float, float]] = []
        self.broken: list[str] = []

    def __call__(self, request: Recorded) -> Reply:
        now = time.monotonic()
        with self._lock:
            if self.seen and now - self.seen[-1][0] < MIN_SPACING_S - JITTER_S:
                self.broken.append(f"{request.path}: {now - self.seen[-1][0]:.2f} s after the last")
            in_flight = sum(1 for _, answered in self.seen if answered > now + JITTER_S)
            if in_flight >= MAX_IN_FLIGHT:
                self.broken.append(f"{request.path}: {in_flight + 1} requests at once")
            self.seen.append((now, now + ANSWER_S))
            broke = bool(self.broken)
        if broke:
            return Reply(status=429, headers={"Retry-After": "60"})
        return Reply(body=rss(UNRELATED), delay=ANSWER_S)


def test_feeds_of_one_host_are_fetched_a_second_apart_two_at_most_by_default(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    host = StrictHost()
    http_server.set_default(host)
    sources = "".join(
        f"  - {{name: feed-{n}, feed: '{http_server.url}/{n}.xml'}}\n" for n in range(FEEDS)
    )
    cli = MonitorCli(tmp_path)
    cli.write_config(
        f"rules: {SHIPPED_RULES}\nsources:\n{sources}channels:\n  out: {{console: true}}\n"
    )

    result = cli.run("check")

    assert result.returncode == 0, result.stderr
    assert host.broken == []
    assert f"checked {FEEDS} sources (0 failed)" in result.stdout
    arrivals = [arrival for arrival, _ in host.seen]
    assert len(arrivals) == FEEDS
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(gap >= MIN_SPACING_S - JITTER_S for gap in gaps), gaps
    # the third waited for the first answer, not only for the spacing
    assert arrivals[2] - arrivals[0] >= ANSWER_S - JITTER_S, gaps
