"""A fast loopback server of synthetic news feeds, run in its own process for the benches.

    python bench/feed_server.py --feeds 1000 --items 30 [--delay 0.3] [--port 0]

It prints ``listening PORT...`` once ready (``--hosts`` ports, each a host to a client).
``/feeds/N.xml`` is feed N: ``--items`` items of news-like text, about 1 % of them
(``--story-rate``) a foreign technology firm closing a lab or office in China, taken from the
rule's corpus. Every feed has an ETag; a request that sends it back gets 304.
With ``--fresh`` every answer is new items instead; with ``--html`` summaries are
markup (paragraphs and a link), as most publishers' feeds have them. ``/stats`` counts the
answers of each kind.
``--delay`` holds each response that long, standing in for the internet's latency. asyncio keeps
thousands of connections open in one thread, so the server is never the bottleneck of a bench.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import yaml

CORPUS = Path(__file__).resolve().parents[1] / "tests/corpus/foreign_tech_china_closure.yaml"

_FILLER = [
    "The city council approved a revised budget for schools and road repairs on Tuesday.",
    "Shares in regional banks rose after the central bank left interest rates unchanged.",
    "A heatwave is expected to last into next week, forecasters said.",
    "The ministry published new guidelines for hospital waiting times.",
    "Local elections drew the highest turnout in two decades, officials reported.",
    "The football club confirmed the signing of a midfielder from a rival team.",
    "Port traffic recovered in the third quarter as shipping rates eased.",
    "Researchers described a new method for recycling battery materials.",
    "The airline added routes to three holiday destinations for the summer season.",
    "Farmers warned that the dry spring would cut the wheat harvest.",
    "A court postponed the hearing after the defence asked for more time.",
    "The museum reopened its east wing after a two-year renovation.",
]


def _corpus() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    data = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    return data["positives"], data["negatives"]


def feed_body(
    index: int, items: int, story_rate: float, edition: int = 0, *, html: bool = False
) -> bytes:
    """Feed ``index``: the same bytes on every call for the same arguments; each ``edition`` is
    a new set of items. With ``html``, each summary is markup, as most publishers send it."""
    positives, negatives = _corpus_cache()
    rng = random.Random((7 + edition) * 1_000_003 + index)
    item_id = f"{index}.{edition}" if edition else str(index)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    entries = []
    for n in range(items):
        if rng.random() < story_rate:
            story = rng.choice(positives)
        elif rng.random() < 0.2:
            story = rng.choice(negatives)
        else:
            # a title of its own, as every filler item is a different story
            headline = rng.choice(_FILLER).rstrip(".")
            story = {"title": f"{headline} (report {item_id}.{n})", "summary": ""}
        # a story's own summary, as a real feed has it; other news gets sentences of filler
        body = story["summary"] or " ".join(rng.sample(_FILLER, 6))
        if html:
            link = f"https://news{index % 50}.example.org/{item_id}/{n}"
            body = f'<p>{escape(body)}</p><p><a href="{link}">Read more</a></p>'
        published = format_datetime(base - timedelta(minutes=index * 37 + n * 11))
        entries.append(
            f"<item><title>{escape(story['title'])}</title>"
            f"<link>https://news{index % 50}.example.org/{item_id}/{n}</link>"
            f'<guid isPermaLink="false">feed-{item_id}-item-{n}</guid>'
            f"<pubDate>{published}</pubDate>"
            f"<description>{escape(body)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {index}</title><link>https://news{index % 50}.example.org/</link>"
        f"<description>Synthetic news feed {index}</description>{''.join(entries)}"
        "</channel></rss>"
    ).encode()


_CORPUS_CACHE: list[tuple[list[dict[str, str]], list[dict[str, str]]]] = []


def _corpus_cache() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    if not _CORPUS_CACHE:
        _CORPUS_CACHE.append(_corpus())
    return _CORPUS_CACHE[0]


class FeedServer:
    def __init__(
        self,
        feeds: int,
        items: int,
        story_rate: float,
        delay: float,
        *,
        fresh: bool = False,
        html: bool = False,
    ) -> None:
        self.bodies = [feed_body(i, items, story_rate, html=html) for i in range(feeds)]
        self.html = html
        self.items = items
        self.story_rate = story_rate
        self.delay = delay
        #: every answer holds items never served before (and no ETag): a feed that never rests
        self.fresh = fresh
        self.served = {"200": 0, "304": 0}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await self._answer(head, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _answer(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if self.delay:
            await asyncio.sleep(self.delay)
        if path == "/stats":
            stats = json.dumps(self.served).encode()
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Length: {len(stats)}\r\n\r\n".encode() + stats
            )
            return
        try:
            index = int(path.rsplit("/", 1)[-1].split(".")[0])
            body = self.bodies[index]
        except (ValueError, IndexError):
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        if self.fresh:
            edition = 1 + sum(self.served.values())
            body = feed_body(index, self.items, self.story_rate, edition, html=self.html)
        etag = f'"feed-{index}"'
        if not self.fresh and headers.get("if-none-match") == etag:
            self.served["304"] += 1
            writer.write(f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n".encode())
        else:
            self.served["200"] += 1
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
                f"ETag: {etag}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
        await writer.drain()


async def serve(args: argparse.Namespace) -> None:
    server = FeedServer(
        args.feeds, args.items, args.story_rate, args.delay, fresh=args.fresh, html=args.html
    )
    listeners = [
        await asyncio.start_server(
            server.handle, "127.0.0.1", args.port + n if args.port else 0, backlog=4096
        )
        for n in range(args.hosts)
    ]
    ports = [str(listener.sockets[0].getsockname()[1]) for listener in listeners]
    print(f"listening {' '.join(ports)}", flush=True)
    await asyncio.gather(*(listener.serve_forever() for listener in listeners))


def start_feed_server(*options: str) -> tuple[subprocess.Popen[str], list[str]]:
    """This server in a process of its own, with ``options`` as on its command line: the
    process and the base URL of each host it listens as."""
    server = subprocess.Popen(
        [sys.executable, __file__, *options], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    line = server.stdout.readline().split()
    if not line or line[0] != "listening":
        server.kill()
        raise SystemExit("the feed server did not start")
    return server, [f"http://127.0.0.1:{port}" for port in line[1:]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--story-rate", type=float, default=0.01)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--hosts", type=int, default=1, help="ports to listen on, each a host")
    parser.add_argument("--fresh", action="store_true", help="new items in every answer")
    parser.add_argument("--html", action="store_true", help="summaries as HTML markup")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
