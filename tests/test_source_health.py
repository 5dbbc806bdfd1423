"""Source health through the real command: health alerts once per change, warnings once a day."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.e2e_support import SHIPPED_RULES, UNRELATED, MonitorCli, rss
from tests.servers import LoopbackServer, Reply


@pytest.fixture
def cli(tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer) -> MonitorCli:
    receiver.set("/ops", Reply(status=204))
    monitor = MonitorCli(tmp_path)
    monitor.write_config(
        f"""
state: state/monitor.db
rules: {SHIPPED_RULES}
health:
  notify: [ops]
  failing_after: 1s
# two publishers on one loopback server: no spacing between them, as the waits here are timed
defaults: {{host_spacing: 0s}}
sources:
  - name: flaky-wire
    feed: {http_server.url}/feed.xml
  - name: steady-wire
    feed: {http_server.url}/steady.xml
channels:
  ops: {{webhook: "{receiver.url}/ops"}}
"""
    )
    return monitor


def health_posts(receiver: LoopbackServer) -> list[dict[str, str]]:
    return [json.loads(r.body) for r in receiver.requests_to("/ops")]


def test_a_failing_source_is_announced_once_and_its_recovery_once(
    cli: MonitorCli, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(status=404, body=b"gone"))
    http_server.set("/steady.xml", Reply(body=rss(UNRELATED)))

    first = cli.run("check")
    assert first.returncode == 0, first.stderr
    assert health_posts(receiver) == []  # failing for less than failing_after so far

    time.sleep(1.2)
    for _ in range(2):
        result = cli.run("check")
        assert result.returncode == 0, result.stderr
    posts = health_posts(receiver)
    assert len(posts) == 1, posts
    assert posts[0]["rule"] == "source-health"
    assert posts[0]["source"] == "flaky-wire"
    assert "failing" in posts[0]["title"]
    assert "404" in posts[0]["title"]

    http_server.set("/feed.xml", Reply(body=rss(UNRELATED[:1])))
    for _ in range(2):
        result = cli.run("check")
        assert result.returncode == 0, result.stderr
    posts = health_posts(receiver)
    assert [p["source"] for p in posts] == ["flaky-wire", "flaky-wire"]
    assert "recovered" in posts[1]["title"]


def test_a_health_channel_that_is_down_hears_of_the_problem_once_it_is_up(
    cli: MonitorCli, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(status=500))
    http_server.set("/steady.xml", Reply(body=rss(UNRELATED)))
    receiver.set("/ops", Reply(status=503))
    cli.run("check")
    time.sleep(1.2)
    assert cli.run("check").returncode == 0
    assert len(receiver.requests_to("/ops")) >= 1  # tried, refused

    receiver.requests.clear()
    receiver.set("/ops", Reply(status=204))
    assert cli.run("check").returncode == 0
    assert cli.run("check").returncode == 0
    posts = health_posts(receiver)
    assert [p["source"] for p in posts] == ["flaky-wire"]


def test_a_malformed_feed_warns_once_and_shows_the_warning_in_sources(
    cli: MonitorCli, http_server: LoopbackServer
) -> None:
    broken = rss(UNRELATED).replace(b"</channel>", b"<unclosed></channel>")
    http_server.set("/feed.xml", Reply(body=broken))
    http_server.set("/steady.xml", Reply(body=rss(UNRELATED)))
    first = cli.run("-v", "check")
    second = cli.run("-v", "check")
    assert first.returncode == second.returncode == 0
    assert "feed is malformed" in first.stderr
    warned_again = [
        line
        for line in second.stderr.splitlines()
        if "feed is malformed" in line and "still" not in line
    ]
    assert warned_again == []
    table = cli.run("sources")
    assert table.returncode == 0
    line = next(row for row in table.stdout.splitlines() if row.startswith("flaky-wire"))
    assert "warning: feed is malformed" in line


def test_validate_names_an_unknown_health_channel(cli: MonitorCli) -> None:
    text = cli.config.read_text().replace("notify: [ops]", "notify: [ops, pager]")
    cli.write_config(text)
    result = cli.run("validate")
    assert result.returncode == 1
    assert f"{cli.config}:5:" in result.stdout + result.stderr
    assert "unknown channel 'pager'" in result.stdout + result.stderr


def test_sources_and_the_log_show_what_each_source_costs_to_fetch_and_parse(
    cli: MonitorCli, http_server: LoopbackServer
) -> None:
    http_server.set("/feed.xml", Reply(body=rss(UNRELATED), delay=0.4))
    http_server.set("/steady.xml", Reply(body=rss(UNRELATED), headers={"ETag": '"v1"'}))
    first = cli.run("-v", "check")
    assert first.returncode == 0, first.stderr
    slow = next(line for line in first.stderr.splitlines() if "source flaky-wire:" in line)
    fetch, parse = (float(x) for x in re.findall(r"(?:fetch|parse) (\d+\.\d+) s", slow))
    assert fetch >= 0.4
    assert parse < fetch

    table = cli.run("sources").stdout.splitlines()
    header = table[0].split()
    flaky = next(row for row in table if row.startswith("flaky-wire"))
    fetch_ms = int(re.findall(r"(\d+) ms", flaky)[0])
    assert "FETCH" in header
    assert "PARSE" in header
    assert fetch_ms >= 400
    steady = next(row for row in table if row.startswith("steady-wire"))
    assert int(re.findall(r"(\d+) ms", steady)[0]) < fetch_ms

    # a 304 is timed too, with nothing parsed
    http_server.set("/feed.xml", Reply(status=304, delay=0.2))
    assert cli.run("check").returncode == 0
    flaky = next(row for row in cli.run("sources").stdout.splitlines() if row.startswith("flaky"))
    assert len(re.findall(r"(\d+) ms", flaky)) == 1
    assert 200 <= int(re.findall(r"(\d+) ms", flaky)[0]) < fetch_ms
