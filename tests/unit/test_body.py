"""Response bodies decoded under a cap on their decoded size, chunk by chunk."""

from __future__ import annotations

import gzip
import zlib

import pytest

from monitor.fetch.body import BodyTooLarge, BoundedBody

TEXT = b"<rss><channel><title>wire</title></channel></rss>" * 50


def read(chunks: list[bytes], encoding: str, cap: int = 1_000_000) -> bytes:
    body = BoundedBody(cap, encoding)
    for chunk in chunks:
        body.feed(chunk)
    return body.value()


def pieces(data: bytes, size: int = 7) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("", TEXT),
        ("identity", TEXT),
        ("gzip", gzip.compress(TEXT)),
        ("x-gzip", gzip.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)),
        ("deflate", raw_deflate(TEXT)),  # what some old servers send as deflate
        ("gzip, deflate", zlib.compress(gzip.compress(TEXT))),
        ("GZIP", gzip.compress(TEXT)),
        ("br", TEXT),  # not asked for: read as it is, and the parser judges it
    ],
)
def test_each_coding_is_undone_in_any_chunking(encoding: str, encoded: bytes) -> None:
    assert read([encoded], encoding) == TEXT
    assert read(pieces(encoded), encoding) == TEXT


def test_the_cap_counts_decoded_bytes_and_stops_a_bomb_early() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    body = BoundedBody(100_000, "gzip")
    with pytest.raises(BodyTooLarge):
        body.feed(bomb)
    assert body.encoded
    # never more than the cap (and the one byte that proves it is exceeded) was inflated
    assert sum(map(len, body._chunks)) <= 100_000


def test_a_plain_body_over_the_cap_is_refused_and_one_at_it_is_kept() -> None:
    assert read([TEXT], "", cap=len(TEXT)) == TEXT
    with pytest.raises(BodyTooLarge):
        read([TEXT, b"x"], "", cap=len(TEXT))


def test_a_corrupt_gzip_stream_is_a_zlib_error() -> None:
    with pytest.raises(zlib.error):
        read([b"\x1f\x8b\x08\x00garbage-not-deflate"], "gzip")
