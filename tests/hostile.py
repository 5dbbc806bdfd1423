"""Hostile bodies and streams for tests: huge, compressed, dripping, entity-laden feeds.

Everything here is bounded: streams stop after a fixed size or time (or when told to), and the
gzip bomb is built from a streamed compressor, so the test process never holds what it serves.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

MB = 1024 * 1024
#: the cloud metadata address an SSRF would aim at
METADATA_URL = "http://169.254.169.254/latest/meta-data/"

FEED_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
    b"<title>Hostile wire</title><link>https://hostile.example.org/</link>"
)
FEED_TAIL = b"</channel></rss>"


class CountingStream:
    """A ``Reply(stream=...)`` callable that counts the bytes it wrote.

    ``stop`` ends every stream early (at teardown), so no server thread outlives the test.
    """

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.sent = 0

    def chunks(self) -> Iterator[bytes]:
        raise NotImplementedError

    def __call__(self) -> Iterator[bytes]:
        for chunk in self.chunks():
            if self.stop.is_set():
                return
            yield chunk
            self.sent += len(chunk)


class BigBody(CountingStream):
    """A feed head, then ``total`` bytes of filler in ``chunk``-sized pieces, no Content-Length."""

    def __init__(self, stop: threading.Event, total: int, chunk: int = 256 * 1024) -> None:
        super().__init__(stop)
        self.total = total
        self.chunk = chunk

    def chunks(self) -> Iterator[bytes]:
        yield FEED_HEAD + b"<item><title>"
        filler = b"A" * self.chunk
        left = self.total
        while left > 0:
            piece = filler[: min(left, self.chunk)]
            left -= len(piece)
            yield piece


class Drip(CountingStream):
    """One byte of a feed per ``interval`` seconds, for at most ``limit`` seconds."""

    def __init__(self, stop: threading.Event, limit: float = 120.0, interval: float = 1.0) -> None:
        super().__init__(stop)
        self.limit = limit
        self.interval = interval

    def chunks(self) -> Iterator[bytes]:
        body = FEED_HEAD + b"<item><title>Dripping" + b" " * 10_000
        deadline = time.monotonic() + self.limit
        for byte in body:
            if time.monotonic() >= deadline:
                return
            yield bytes([byte])
            # Wait on the event, not sleep: teardown ends the stream at once.
            if self.stop.wait(self.interval):
                return


def gzip_bomb(decompressed: int, *, piece: int = MB) -> bytes:
    """A gzip body (``Content-Encoding: gzip``) that opens to a feed head plus ``decompressed``
    bytes of zeros; 200 MB of zeros compress to about 200 KB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    parts = [compressor.compress(FEED_HEAD + b"<item><title>")]
    zeros = bytes(piece)
    left = decompressed
    while left > 0:
        parts.append(compressor.compress(zeros[: min(left, piece)]))
        left -= piece
    parts.append(compressor.flush())
    return b"".join(parts)


def xxe_feed(entities: dict[str, str], *, external_dtd: str | None = None) -> bytes:
    """An RSS feed declaring external entities (``name -> SYSTEM url``) and using each one in
    an item's title and description; ``external_dtd`` adds a DOCTYPE SYSTEM identifier and an
    external parameter entity pointing at it."""
    decls = "".join(f'<!ENTITY {name} SYSTEM "{url}">' for name, url in entities.items())
    system = ""
    if external_dtd:
        system = f' SYSTEM "{external_dtd}"'
        decls += f'<!ENTITY % remote SYSTEM "{external_dtd}">%remote;'
    refs = " ".join(f"&{name};" for name in entities)
    items = "".join(
        f"<item><title>&{name};</title><link>https://hostile.example.org/xxe/{name}</link>"
        f'<guid isPermaLink="false">xxe-{name}</guid>'
        f"<description>Entity {refs}</description></item>"
        for name in entities
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE rss{system} [{decls}]>\n'
        '<rss version="2.0"><channel><title>XXE wire</title>'
        f"<link>https://hostile.example.org/</link>{items}</channel></rss>"
    ).encode()


def billion_laughs_feed(depth: int = 9, fanout: int = 10) -> bytes:
    """The classic entity bomb: ``&lol9;`` expands to 10**9 "lol"s (about 3 GB)."""
    decls = ['<!ENTITY lol0 "lol">']
    for level in range(1, depth + 1):
        decls.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * fanout}">')
    top = f"&lol{depth};"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE rss [{"".join(decls)}]>\n'
        '<rss version="2.0"><channel><title>Laughing wire</title>'
        "<link>https://hostile.example.org/</link>"
        f"<item><title>Weather report {top}</title>"
        "<link>https://hostile.example.org/lol</link>"
        f'<guid isPermaLink="false">lol-1</guid><description>{top}</description></item>'
        "</channel></rss>"
    ).encode()


def internal_links_feed(sentinel: str) -> bytes:
    """A valid feed whose every URL (item links, enclosures, images, stylesheet, self link)
    points at the metadata address or at ``sentinel``; the titles match no shipped rule."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="{sentinel}/style.xsl"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:media="http://search.yahoo.com/mrss/"><channel>
<title>Internal wire</title><link>{sentinel}/</link>
<atom:link rel="self" href="{sentinel}/feed.xml" type="application/rss+xml"/>
<image><url>{sentinel}/logo.png</url><title>Internal wire</title><link>{sentinel}/</link></image>
<item><title>Quarterly weather summary for the coastal regions</title>
<link>{METADATA_URL}</link><guid isPermaLink="true">{METADATA_URL}iam/security-credentials/</guid>
<comments>{sentinel}/comments</comments><source url="{sentinel}/source.xml">Wire</source>
<enclosure url="{METADATA_URL}user-data" length="10" type="text/plain"/>
<media:content url="{sentinel}/media.jpg" medium="image"/>
<description>&lt;img src="{sentinel}/pixel.png"&gt; Rain later.</description></item>
<item><title>Regional football league announces next season's fixtures</title>
<link>{sentinel}/article</link><guid isPermaLink="false">internal-2</guid>
<description>&lt;a href="{METADATA_URL}"&gt;details&lt;/a&gt;</description></item>
</channel></rss>""".encode()


def html_page(sentinel: str) -> bytes:
    return (
        "<!DOCTYPE html><html><head><title>Sign in</title>"
        f'<link rel="alternate" type="application/rss+xml" href="{sentinel}/feed.xml">'
        f'</head><body><form action="{sentinel}/login"><input name="user"></form></body></html>'
    ).encode()


def read_tree(folder: Path) -> bytes:
    """Every file under ``folder`` (a state directory), concatenated, for leak checks."""
    return b"\n".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())
