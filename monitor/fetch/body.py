"""A response body read under a cap on its decoded size.

The cap counts bytes after ``Content-Encoding`` is undone, and decompression never produces more
than the room left, so a gzip bomb costs at most the cap in memory, not its expanded size.
"""

from __future__ import annotations

import zlib


class BodyTooLarge(Exception):
    pass


class _Deflate:
    """``deflate`` as servers send it: zlib-wrapped per the RFC, or raw, as some old servers do."""

    def __init__(self) -> None:
        self._inner = zlib.decompressobj(zlib.MAX_WBITS)
        self._first = True

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._inner.decompress(data, max_length)
            except zlib.error:
                self._inner = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inner.decompress(data, max_length)

    @property
    def unconsumed_tail(self) -> bytes:
        return self._inner.unconsumed_tail


def _decoder(name: str) -> zlib._Decompress | _Deflate | None:
    if name in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if name == "deflate":
        return _Deflate()
    # identity, and codings not asked for (the request offers only gzip and deflate), are read
    # as they are; the parser then judges the bytes.
    return None


class BoundedBody:
    def __init__(self, cap: int, content_encoding: str) -> None:
        self.cap = cap
        names = [name.strip().lower() for name in content_encoding.split(",") if name.strip()]
        # Codings are listed in the order they were applied, so they are undone last first.
        self._decoders = [d for d in (_decoder(name) for name in reversed(names)) if d]
        self._chunks: list[bytes] = []
        self._size = 0

    @property
    def encoded(self) -> bool:
        return bool(self._decoders)

    def feed(self, chunk: bytes) -> None:
        for decoder in self._decoders:
            chunk = self._inflate(decoder, chunk)
        self._keep(chunk)

    def value(self) -> bytes:
        return b"".join(self._chunks)

    def _inflate(self, decoder: zlib._Decompress | _Deflate, data: bytes) -> bytes:
        parts = []
        produced = 0
        while data:
            room = self.cap - self._size - produced + 1
            out = decoder.decompress(data, room)
            produced += len(out)
            parts.append(out)
            if self._size + produced > self.cap:
                raise BodyTooLarge
            data = decoder.unconsumed_tail
        return b"".join(parts)

    def _keep(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self.cap:
            raise BodyTooLarge
        if chunk:
            self._chunks.append(chunk)
