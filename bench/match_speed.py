"""Matching throughput of the shipped rules, against a baseline measured in the same run.

    .venv/bin/python bench/match_speed.py [--items 5000]

The baseline is one precompiled regex search per item over the same text: the cheapest thing a
matcher could do. Machines here are shared and noisy, so compare the ratio, not the raw figures.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

from monitor.config import load_rules
from monitor.match import evaluate, prepare
from monitor.model import Item

ROOT = Path(__file__).resolve().parents[1]
WORDS = [
    "market",
    "government",
    "report",
    "company",
    "technology",
    "research",
    "China",
    "Shanghai",
    "office",
    "lab",
    "close",
    "opens",
    "shares",
    "rally",
    "investors",
    "policy",
    "minister",
    "cloud",
    "software",
    "chip",
    "energy",
    "trade",
    "talks",
    "week",
    "growth",
    "data",
    "services",
    "staff",
    "announced",
    "plans",
    "expansion",
    "regional",
    "city",
    "council",
]


def synthetic_items(count: int, seed: int = 7) -> list[Item]:
    rng = random.Random(seed)
    items = []
    for index in range(count):
        title = " ".join(rng.choice(WORDS) for _ in range(10)).capitalize()
        summary = " ".join(rng.choice(WORDS) for _ in range(60))
        items.append(
            Item(source="bench", title=title, url=f"https://e.org/{index}", summary=summary)
        )
    return items


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=5000)
    args = parser.parse_args()
    rules = load_rules(ROOT / "rules", {"console"})
    items = synthetic_items(args.items)

    baseline = re.compile(r"\b(?:shanghai|beijing)\b", re.IGNORECASE)
    started = time.perf_counter()
    for item in items:
        baseline.search(item.title)
        baseline.search(item.summary)
    baseline_seconds = time.perf_counter() - started

    started = time.perf_counter()
    matched = 0
    for item in items:
        prepared = prepare(item)
        matched += sum(evaluate(rule, prepared) is not None for rule in rules)
    seconds = time.perf_counter() - started

    print(f"items: {len(items)}, rules: {len(rules)}, matches: {matched}")
    print(f"baseline regex scan: {len(items) / baseline_seconds:,.0f} items/s")
    print(f"rule matching:       {len(items) / seconds:,.0f} items/s")
    print(f"slowdown vs baseline: {seconds / baseline_seconds:.1f}x")


if __name__ == "__main__":
    main()
