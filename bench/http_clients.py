"""httpx beside aiohttp on the same loopback feeds: requests a second and CPU per request.

    .venv/bin/python bench/http_clients.py [--feeds 1000] [--concurrency 1,2,16,64,200]

One feed server (bench/feed_server.py, its own process) serves ``--feeds`` feeds of 30 items.
Each client, with one pool and ``concurrency`` requests in flight, fetches every feed once
(200s, about 17 KB each) and once more sending the ETag back (304s). The client's process does
nothing else, so its CPU time is the client's cost; on a loopback server the client is the
bottleneck, and requests a second is the inverse of that cost.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.feed_server import start_feed_server

# (url, etag or None) -> (status, etag)
Get = Callable[[str, str | None], Awaitable[tuple[int, str | None]]]


async def _timed(get: Get, urls: list[str], etags: list[str | None], concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)
    statuses: list[int] = []

    async def one(url: str, etag: str | None) -> None:
        async with slots:
            status, _ = await get(url, etag)
            statuses.append(status)

    started = time.process_time()
    await asyncio.gather(*(one(u, e) for u, e in zip(urls, etags, strict=True)))
    cpu = time.process_time() - started
    expected = 304 if etags[0] else 200
    assert statuses.count(expected) == len(urls), f"not all {expected}: {set(statuses)}"
    return cpu


async def with_httpx(urls: list[str], concurrency: int) -> tuple[float, float]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:

        async def get(url: str, etag: str | None) -> tuple[int, str | None]:
            response = await client.get(url, headers={"If-None-Match": etag} if etag else {})
            return response.status_code, response.headers.get("etag")

        return await _both(get, urls, concurrency)


async def with_aiohttp(urls: list[str], concurrency: int) -> tuple[float, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(url: str, etag: str | None) -> tuple[int, str | None]:
            headers = {"If-None-Match": etag} if etag else {}
            async with session.get(url, headers=headers) as response:
                await response.read()
                return response.status, response.headers.get("etag")

        return await _both(get, urls, concurrency)


async def _both(get: Get, urls: list[str], concurrency: int) -> tuple[float, float]:
    first = await _timed(get, urls, [None] * len(urls), concurrency)
    etags = [(await get(url, None))[1] for url in urls]
    again = await _timed(get, urls, etags, concurrency)
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--concurrency", default="1,2,16,64,200")
    args = parser.parse_args()
    server, (base,) = start_feed_server(f"--feeds={args.feeds}", "--items=30")
    urls = [f"{base}/feeds/{i}.xml" for i in range(args.feeds)]
    try:
        print(f"{args.feeds} requests per figure, one loopback host; requests per CPU second")
        print(f"{'client':8} {'in flight':>9} {'200s/s':>9} {'304s/s':>9}")
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            for name, run in (("httpx", with_httpx), ("aiohttp", with_aiohttp)):
                first, again = asyncio.run(run(urls, concurrency))
                print(
                    f"{name:8} {concurrency:9d} {len(urls) / first:9.0f} {len(urls) / again:9.0f}"
                )
    finally:
        server.kill()


if __name__ == "__main__":
    main()
