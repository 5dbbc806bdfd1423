"""Pages as sources and full text, through the real command against loopback servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e_support import SHIPPED_RULES, STORY, UNRELATED, MonitorCli, rss
from tests.servers import LoopbackServer, Reply

#: a headline and summary the shipped rule does not match on their own
VAGUE = {
    "guid": "vague-1",
    "title": "A cloud provider reshapes its research network",
    "link": "/articles/research-network",
    "description": "Read more on our site.",
}
ARTICLE = b"""<!doctype html><html><head><title>Research network</title></head><body>
<nav><a href="/">Home</a> <a href="/tech">Tech</a></nav>
<div class="cookie-banner">We use cookies. Accept all?</div>
<article><h1>A cloud provider reshapes its research network</h1>
<p>Amazon Web Services is shutting down its artificial intelligence research lab in Shanghai,
according to people familiar with the matter.</p>
<p>The lab opened in 2018 and employed several dozen scientists working on graph neural
networks. Staff were told this week that the team would be disbanded.</p>
<p>The company said it regularly reviews its operations and declined to comment further.</p>
</article><footer>Copyright, terms, privacy</footer></body></html>"""

LISTING = """<!doctype html><html><head><title>Newsroom</title></head><body>
<nav><ul><li><a href="/about">About the company and its history here</a></li></ul></nav>
<main>
  <div class="release"><h3><a href="/news/1">{title}</a></h3>
    <p>{summary}</p><time datetime="2024-09-03T08:00:00Z">3 September 2024</time></div>
  <div class="release">
    <h3><a href="/news/2">Quarterly results show steady growth in services</a></h3>
    <p>Revenue rose in every region.</p><time datetime="2024-08-01T08:00:00Z">1 August</time></div>
</main>
<footer><a href="/careers">Join our team of engineers around the world today</a></footer>
</body></html>"""


@pytest.fixture
def sentinel() -> Iterator[LoopbackServer]:
    """Another host on loopback that nothing may reach."""
    server = LoopbackServer().start()
    server.set("/", Reply(body=b"internal data"))
    try:
        yield server
    finally:
        server.stop()


def make_cli(tmp_path: Path, receiver: LoopbackServer, sources: str) -> MonitorCli:
    receiver.set("/hook", Reply(status=204))
    tmp_path.mkdir(parents=True, exist_ok=True)
    monitor = MonitorCli(tmp_path)
    monitor.write_config(
        f"""
state: state/monitor.db
rules: {SHIPPED_RULES}
defaults: {{host_spacing: 0s}}
sources:
{sources}
channels:
  hook: {{webhook: "{receiver.url}/hook"}}
"""
    )
    return monitor


def serve_listing(server: LoopbackServer) -> None:
    """A newsroom listing at /newsroom whose first release is the matching story."""
    page = LISTING.format(title=STORY["title"], summary=STORY["description"])
    server.set("/newsroom", Reply(body=page, headers={"Content-Type": "text/html"}))


def alerts(receiver: LoopbackServer) -> list[dict[str, str]]:
    return [json.loads(r.body) for r in receiver.requests_to("/hook")]


def check(cli: MonitorCli) -> str:
    result = cli.run("check")
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_a_listing_page_with_selectors_alerts_its_matching_story(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    serve_listing(http_server)
    cli = make_cli(
        tmp_path,
        receiver,
        f"""  - name: newsroom
    page: {http_server.url}/newsroom
    select:
      {{item: "div.release", title: "h3", link: "a@href", summary: "p", date: "time@datetime"}}
""",
    )
    check(cli)
    found = alerts(receiver)
    assert [a["title"] for a in found] == [STORY["title"]]
    assert found[0]["url"] == f"{http_server.url}/news/1"
    assert found[0]["published"].startswith("2024-09-03T08:00")


def test_full_text_finds_the_story_the_feed_summary_hides(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    item = {**VAGUE, "link": f"{http_server.url}{VAGUE['link']}"}
    http_server.set("/feed.xml", Reply(body=rss([item, *UNRELATED])))
    http_server.set(VAGUE["link"], Reply(body=ARTICLE, headers={"Content-Type": "text/html"}))
    sources = f"""  - name: wire
    feed: {http_server.url}/feed.xml
    fulltext: {{fulltext}}
"""
    without = make_cli(tmp_path / "without", receiver, sources.format(fulltext="false"))
    check(without)
    assert alerts(receiver) == []
    assert http_server.requests_to(VAGUE["link"]) == []

    with_text = make_cli(tmp_path / "with", receiver, sources.format(fulltext="true"))
    check(with_text)
    found = alerts(receiver)
    assert [a["title"] for a in found] == [VAGUE["title"]]
    assert any(m["field"] == "content" for m in found[0]["matched"])
    # the article is fetched once per new item, not again on the next pass
    check(with_text)
    assert len(http_server.requests_to(VAGUE["link"])) == 1
    assert len(alerts(receiver)) == 1


def test_article_links_to_another_internal_host_are_never_fetched(
    tmp_path: Path,
    http_server: LoopbackServer,
    receiver: LoopbackServer,
    sentinel: LoopbackServer,
) -> None:
    inside = {**VAGUE, "guid": "inside", "link": f"{sentinel.url}/admin"}
    metadata = {**VAGUE, "guid": "metadata", "link": "http://169.254.169.254/latest/meta-data/"}
    http_server.set("/feed.xml", Reply(body=rss([inside, metadata, STORY])))
    cli = make_cli(
        tmp_path,
        receiver,
        f"""  - name: wire
    feed: {http_server.url}/feed.xml
    fulltext: true
""",
    )
    check(cli)
    assert sentinel.requests == []
    assert [a["title"] for a in alerts(receiver)] == [STORY["title"]]


def test_robots_txt_is_honoured_for_article_links(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    item = {**VAGUE, "link": f"{http_server.url}{VAGUE['link']}"}
    http_server.set("/feed.xml", Reply(body=rss([item])))
    http_server.set("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /articles/\n"))
    http_server.set(VAGUE["link"], Reply(body=ARTICLE))
    cli = make_cli(
        tmp_path,
        receiver,
        f"""  - name: wire
    feed: {http_server.url}/feed.xml
    fulltext: true
""",
    )
    check(cli)
    assert len(http_server.requests_to("/robots.txt")) == 1
    assert http_server.requests_to(VAGUE["link"]) == []
    assert alerts(receiver) == []


def test_two_feeds_linking_one_article_fetch_it_once(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    one = {**VAGUE, "guid": "a", "link": f"{http_server.url}{VAGUE['link']}?utm_source=a"}
    two = {**VAGUE, "guid": "b", "link": f"{http_server.url}{VAGUE['link']}?utm_source=b"}
    http_server.set("/one.xml", Reply(body=rss([one])))
    http_server.set("/two.xml", Reply(body=rss([two])))
    http_server.set(VAGUE["link"], Reply(body=ARTICLE, delay=0.3))
    cli = make_cli(
        tmp_path,
        receiver,
        f"""  - name: one
    feed: {http_server.url}/one.xml
    fulltext: true
  - name: two
    feed: {http_server.url}/two.xml
    fulltext: true
""",
    )
    check(cli)
    assert (
        len(http_server.requests_to(VAGUE["link"] + "?utm_source=a"))
        + len(http_server.requests_to(VAGUE["link"] + "?utm_source=b"))
        == 1
    )
    assert len(alerts(receiver)) == 1  # one story, one alert, whichever feed had it first


def test_a_page_without_selectors_uses_the_feed_it_declares(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    page = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        "</head><body><p>Our news</p></body></html>"
    )
    http_server.set("/news", Reply(body=page, headers={"Content-Type": "text/html"}))
    http_server.set("/feed.xml", Reply(body=rss([STORY, *UNRELATED])))
    cli = make_cli(
        tmp_path,
        receiver,
        f"""  - name: newsroom
    page: {http_server.url}/news
""",
    )
    check(cli)
    assert [a["title"] for a in alerts(receiver)] == [STORY["title"]]


def test_a_page_without_selectors_or_feed_yields_its_headline_links(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    serve_listing(http_server)
    cli = make_cli(
        tmp_path,
        receiver,
        f"""  - name: newsroom
    page: {http_server.url}/newsroom
""",
    )
    check(cli)
    assert [a["title"] for a in alerts(receiver)] == [STORY["title"]]
    preview = cli.run("test-source", "newsroom")
    assert preview.returncode == 0, preview.stderr
    assert "2 items" in preview.stdout  # the nav and footer links are not items
    assert "Quarterly results show steady growth" in preview.stdout
    assert "About the company" not in preview.stdout


def test_test_source_shows_items_and_warns_about_selectors_that_match_nothing(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    serve_listing(http_server)
    cli = make_cli(
        tmp_path,
        receiver,
        f"""  - name: newsroom
    page: {http_server.url}/newsroom
    select: {{item: "div.release", title: "h3", summary: "p.teaser"}}
  - name: redesigned
    page: {http_server.url}/newsroom
    select: {{item: "article.story", title: "h2"}}
""",
    )
    shown = cli.run("test-source", "newsroom")
    assert shown.returncode == 0, shown.stderr
    assert "2 items" in shown.stdout
    assert STORY["title"] in shown.stdout
    assert f"url: {http_server.url}/news/1" in shown.stdout
    assert "selector 'p.teaser' (summary) matched nothing" in shown.stdout
    broken = cli.run("test-source", "redesigned")
    assert broken.returncode == 1
    assert "selector 'article.story' matched 0 nodes" in broken.stderr
    assert alerts(receiver) == []  # test-source stores and sends nothing
    # a pass reports the redesigned page as the source's error, not as a quiet day
    out = check(cli)
    assert "redesigned" in out
    assert "matched 0 nodes" in out
    assert [a["title"] for a in alerts(receiver)] == [STORY["title"]]


def test_a_paginated_listing_is_followed_up_to_its_page_limit(
    tmp_path: Path, http_server: LoopbackServer, receiver: LoopbackServer
) -> None:
    def listing(number: int, title: str) -> str:
        return (
            f'<html><body><div class="release"><h3><a href="/n/{number}">{title}</a></h3></div>'
            f'<a class="next" href="/list?page={number + 1}">Older</a></body></html>'
        )

    pages = {
        1: listing(1, "Quarterly results show steady growth in services"),
        2: listing(2, STORY["title"]),
        3: listing(3, "Board appoints a new chief financial officer"),
        4: listing(4, "Microsoft shuts its research lab in Beijing after a decade"),
    }
    http_server.set("/list", lambda r: Reply(body=pages[int(r.path.rsplit("=", 1)[1])]))
    cli = make_cli(
        tmp_path,
        receiver,
        f"""  - name: newsroom
    page: {http_server.url}/list?page=1
    select: {{item: "div.release", title: "h3", next: "a.next@href", pages: 3}}
""",
    )
    check(cli)
    assert [a["title"] for a in alerts(receiver)] == [STORY["title"]]  # page 4 is beyond the limit
    assert [r.path for r in http_server.requests_to("/list?page=4")] == []
    assert len(http_server.requests) == 3
