"""The whole pipeline over many feeds: first pass, all-304 pass, wall time and peak memory.

    .venv/bin/python bench/pipeline_scale.py [--feeds 1000] [--items 30] [--rules 1000]
                                             [--delay 0] [--hosts 20] [--html]

Feeds are served by bench/feed_server.py in its own process on ``--hosts`` loopback ports (each
a host to the per-host limits, raised to 8 requests at once for the run); each run is
``monitor check`` in a subprocess on a fresh SQLite store, with ``--rules`` generated rules of the
full language. ``--delay`` holds every response that many seconds, to stand in for the
internet's latency.
The second pass finds every feed unchanged (HTTP 304). Figures are printed, not asserted:
machines here are shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.feed_server import start_feed_server  # noqa: E402
from bench.match_speed import build_rules  # noqa: E402


def run_check(config: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=config.parent,
        env={k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"monitor check failed:\n{result.stderr[-2000:]}")
    return seconds, result.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--hosts", type=int, default=20, help="loopback servers, one port each")
    parser.add_argument("--html", action="store_true", help="summaries as HTML markup")
    args = parser.parse_args()

    server, hosts = start_feed_server(
        f"--feeds={args.feeds}",
        f"--items={args.items}",
        f"--delay={args.delay}",
        f"--hosts={args.hosts}",
        *(["--html"] if args.html else []),
    )
    try:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            build_rules(folder / "rules", args.rules, random.Random(7))
            sources = "".join(
                f"  - {{name: feed-{i}, feed: {hosts[i % args.hosts]}/feeds/{i}.xml}}\n"
                for i in range(args.feeds)
            )
            config = folder / "monitor.yaml"
            config.write_text(
                "state: state/monitor.db\nrules: rules\n"
                "defaults: {host_concurrency: 8, host_spacing: 0s, concurrency: 100,"
                " allow_private: [127.0.0.1/32]}\n"
                f"sources:\n{sources}channels:\n  c: {{console: {{format: json}}}}\n"
            )
            first, first_line = run_check(config)
            second, second_line = run_check(config)
    finally:
        server.kill()
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    total = args.feeds * args.items
    print(
        f"{args.feeds} feeds x {args.items} items on {args.hosts} hosts, {args.rules} rules, "
        f"delay {args.delay}s"
    )
    print(f"first pass:  {first:6.1f} s  ({total / first:,.0f} items/s)  {first_line}")
    print(f"304 pass:    {second:6.1f} s  {second_line}")
    print(f"peak memory of a pass: {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
