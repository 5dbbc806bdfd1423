"""The daemon at work for minutes: CPU when nothing changes, memory while items keep coming.

    .venv/bin/python bench/daemon_steady.py idle [--sources 1000] [--every 60] [--minutes 3]
                                                 [--rules 0]
    .venv/bin/python bench/daemon_steady.py soak [--sources 200] [--every 5] [--minutes 5]

``idle``: every feed answers 304. A ``monitor check`` first fetches every feed in full (with a
one-second interval, so that every source is due again at once); then the daemon runs with
``--every`` and, after a minute of starting up, the CPU it and its worker processes use over the
window is printed as a share of one core. The target's own case, 10,000 sources every 10
minutes, is ``idle --sources 10000 --every 600``; 1,000 sources every 60 s, the default, is the
same poll rate (16.7 a second) with a tenth of the jobs, and costs less. ``--rules N`` uses N
generated rule files (bench/match_speed.py) instead of the shipped rules.

``soak``: every answer is 30 new items, so the store grows all the time. 200 sources every 5 s
for 5 minutes see 360,000 items, a day of a few hundred busy feeds; the resident memory of the
daemon (and its workers) is sampled every 10 s and printed with its trend: it must stay flat,
as the store, not memory, remembers what was seen.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.feed_server import start_feed_server  # noqa: E402
from bench.match_speed import build_rules  # noqa: E402
from bench.proctree import cpu_seconds, resident_mb, tree  # noqa: E402
from bench.vs_rss2email import clean_env  # noqa: E402


def served(base: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{base}/stats", timeout=5) as answer:
        counts: dict[str, int] = json.loads(answer.read())
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["idle", "soak"])
    parser.add_argument("--sources", type=int)
    parser.add_argument("--every", type=float, help="seconds between polls of a source")
    parser.add_argument("--minutes", type=float)
    parser.add_argument("--rules", type=int, default=0, help="generated rules; 0: the shipped")
    args = parser.parse_args()
    soak = args.mode == "soak"
    sources = args.sources or (200 if soak else 1000)
    every = args.every or (5 if soak else 60)
    minutes = args.minutes or (5 if soak else 3)

    server, (base,) = start_feed_server(f"--feeds={sources}", *(["--fresh"] if soak else []))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        listed = "".join(
            f"  - {{name: feed-{i}, feed: {base}/feeds/{i}.xml}}\n" for i in range(sources)
        )
        rules = ROOT / "rules"
        if args.rules:
            rules = folder / "rules"
            build_rules(rules, args.rules, random.Random(7))

        def configure(seconds: float) -> None:
            (folder / "monitor.yaml").write_text(
                f"state: state/monitor.db\nrules: {rules}\n"
                f"defaults: {{every: {seconds}s, allow_private: [127.0.0.1/32],"
                " host_spacing: 0s, host_concurrency: 4, concurrency: 64}\n"
                f"sources:\n{listed}channels:\n  console: {{console: {{format: json}}}}\n"
            )

        if not soak:
            # every feed read in full and its ETag stored; due again in a second
            configure(1)
            subprocess.run(
                [sys.executable, "-m", "monitor", "--config", "monitor.yaml", "check"],
                cwd=folder,
                env=clean_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
        configure(every)
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", "monitor.yaml", "run"],
            cwd=folder,
            env=clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # idle: a minute of starting up (reading the config, scheduling every job);
            # soak: the first round, which fetches every feed in full
            time.sleep(60 if not soak else min(every, 60) + 10)
            pids = tree(daemon.pid)
            start_cpu, start_at, start_served = cpu_seconds(pids), time.monotonic(), served(base)
            samples = []
            deadline = start_at + minutes * 60
            while time.monotonic() < deadline:
                pids = tree(daemon.pid)
                samples.append((time.monotonic() - start_at, resident_mb(pids)))
                time.sleep(10)
            pids = tree(daemon.pid)
            window = time.monotonic() - start_at
            used = cpu_seconds(pids) - start_cpu
            answers = served(base)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
            server.kill()
        polls = sum(answers.values()) - sum(start_served.values())
        print(f"{args.mode}: {sources} sources every {every:g} s, window {window:.0f} s")
        print(
            f"polls in the window: {polls} ({polls / window:.1f}/s; "
            f"200: {answers['200'] - start_served['200']}, "
            f"304: {answers['304'] - start_served['304']})"
        )
        print(f"CPU: {used:.1f} s = {100 * used / window:.1f} % of one core")
        first, last = samples[0][1], samples[-1][1]
        peak = max(mb for _, mb in samples)
        print(
            f"resident memory: {first:.0f} MB at the start, {last:.0f} MB at the end,"
            f" peak {peak:.0f} MB"
        )
        half = len(samples) // 2
        if half:
            early = sum(mb for _, mb in samples[:half]) / half
            late = sum(mb for _, mb in samples[half:]) / (len(samples) - half)
            print(f"mean of the first half {early:.0f} MB, of the second half {late:.0f} MB")


if __name__ == "__main__":
    main()
