"""``monitor check`` beside rss2email on the same feeds, in one run: wall times and their ratio.

    .venv/bin/python bench/vs_rss2email.py [--feeds 1000] [--items 30] [--html] [--rounds 1]
                                           [--rss2email PATH]

One loopback server (bench/feed_server.py, its own process) serves ``--feeds`` synthetic feeds of
news-like text with ETags. Each tool runs twice on a fresh state: the first pass sees every item
as new, the second finds every feed unchanged (304). The monitor runs with the shipped rules and
a console channel, so it also matches every item and prints the alerts; rss2email runs with
``--no-send`` (it still builds every message). rss2email is installed into the bench's own
environment (bench/.venv-rss2email) on first use unless ``--rss2email`` names an ``r2e`` program.

The monitor polls one host here, so the run does what the README advises for a server of
one's own: ``host_spacing: 0s`` and ``host_concurrency: 16`` (the default of two requests at
once leaves both processes waiting on each other's round trips; ``--host-concurrency 2`` shows
it). rss2email fetches one feed at a time with no pause between them. The CPU column counts a
command and every process it started (the monitor's store process and parsing workers too).
With ``--rounds N`` the four runs are made N times, each round on a fresh state, and the
ratios are printed per round and as their median: on a shared machine one round can be a
tenth off.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.feed_server import start_feed_server  # noqa: E402
from bench.proctree import cpu_by_process, tree  # noqa: E402

RSS2EMAIL_VENV = ROOT / "bench" / ".venv-rss2email"
RSS2EMAIL_VERSION = "3.14"


def rss2email_program(given: str | None) -> Path:
    if given:
        return Path(given)
    program = RSS2EMAIL_VENV / "bin" / "r2e"
    if not program.exists():
        print(f"installing rss2email {RSS2EMAIL_VERSION} into {RSS2EMAIL_VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(RSS2EMAIL_VENV)], check=True)
        subprocess.run(
            [
                str(RSS2EMAIL_VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                f"rss2email=={RSS2EMAIL_VERSION}",
            ],
            check=True,
        )
    return program


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def timed(command: list[str], cwd: Path) -> tuple[float, str, float]:
    """Wall seconds, the last line printed, and the CPU seconds of the command and of every
    process it started (sampled four times a second, lightly: a process living less than that
    is missed). The wall time ends the moment the command does: the sampling runs beside the
    wait, on a thread, rather than between waits (a timed wait polls, and ended up to 50 ms
    late, a fortieth of a short pass)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, text=True, cwd=cwd, env=clean_env()
        )
        used: dict[int, float] = {}
        ended = threading.Event()

        def sample() -> None:
            while True:
                used.update(cpu_by_process(tree(process.pid)))
                if ended.wait(0.25):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        process.wait()
        seconds = time.perf_counter() - started
        ended.set()
        sampler.join()
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{text[-3000:]}")
    lines = [line for line in text.strip().splitlines() if not line.startswith("{")]
    return seconds, lines[-1] if lines else "", sum(used.values())


def monitor_config(folder: Path, base: str, feeds: int, host_concurrency: int) -> Path:
    sources = "".join(f"  - {{name: feed-{i}, feed: {base}/feeds/{i}.xml}}\n" for i in range(feeds))
    config = folder / "monitor.yaml"
    config.write_text(
        f"state: state/monitor.db\nrules: {ROOT / 'rules'}\n"
        "defaults: {allow_private: [127.0.0.1/32], host_spacing: 0s,"
        f" host_concurrency: {host_concurrency}, concurrency: 64}}\n"
        f"sources:\n{sources}channels:\n  console: {{console: {{format: json}}}}\n"
    )
    return config


def rss2email_config(folder: Path, base: str, feeds: int) -> tuple[Path, Path]:
    config, data = folder / "r2e.cfg", folder / "r2e.json"
    sections = "".join(f"\n[feed.feed-{i}]\nurl = {base}/feeds/{i}.xml\n" for i in range(feeds))
    config.write_text(f"[DEFAULT]\nto = reader@example.org\n{sections}")
    return config, data


Figures = dict[str, tuple[float, str, float]]


def one_round(base: str, args: argparse.Namespace, r2e: Path) -> Figures:
    """Each tool twice over the feeds, on a fresh state: wall, last line and CPU of each run."""
    figures: Figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        config = monitor_config(folder, base, args.feeds, args.host_concurrency)
        monitor = [sys.executable, "-m", "monitor", "--config", str(config), "check"]
        r2e_config, r2e_data = rss2email_config(folder, base, args.feeds)
        rss2email = [str(r2e), "-c", str(r2e_config), "-d", str(r2e_data), "run", "--no-send"]
        figures["monitor first"] = timed(monitor, folder)
        figures["rss2email first"] = timed(rss2email, folder)
        figures["monitor 304"] = timed(monitor, folder)
        figures["rss2email 304"] = timed(rss2email, folder)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--host-concurrency", type=int, default=16)
    parser.add_argument("--html", action="store_true", help="summaries as HTML markup")
    parser.add_argument("--rounds", type=int, default=1, help="rounds on fresh states")
    parser.add_argument("--rss2email", help="an r2e program to use instead of the bench's own")
    args = parser.parse_args()
    r2e = rss2email_program(args.rss2email)

    server, (base,) = start_feed_server(
        f"--feeds={args.feeds}",
        f"--items={args.items}",
        f"--delay={args.delay}",
        *(["--html"] if args.html else []),
    )
    rounds: list[Figures] = []
    try:
        for _ in range(args.rounds):
            rounds.append(one_round(base, args, r2e))
    finally:
        server.kill()

    print(
        f"{args.feeds} feeds x {args.items} items{' (HTML summaries)' if args.html else ''},"
        f" one loopback host, delay {args.delay}s,"
        f" monitor host_concurrency {args.host_concurrency}"
    )
    ratios: dict[str, list[float]] = {"first": [], "304": []}
    for number, figures in enumerate(rounds, 1):
        if len(rounds) > 1:
            print(f"round {number}")
        for name, (seconds, last, cpu) in figures.items():
            print(f"{name:16} {seconds:7.2f} s wall  {cpu:7.2f} s CPU   {last[:90]}")
        for kind in ratios:
            ratios[kind].append(figures[f"monitor {kind}"][0] / figures[f"rss2email {kind}"][0])
    for kind, target in (("first", 0.1), ("304", 0.5)):
        each = ", ".join(f"{ratio:.3f}" for ratio in ratios[kind])
        middle = statistics.median(ratios[kind])
        shown = f"{middle:.3f}" if len(rounds) == 1 else f"median {middle:.3f} of {each}"
        print(f"{kind} pass ratio monitor / rss2email: {shown}  (target <= {target})")


if __name__ == "__main__":
    main()
