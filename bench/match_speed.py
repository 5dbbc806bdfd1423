"""Matching throughput: 1,000 rules in the full language against a stream of news items.

    .venv/bin/python bench/match_speed.py [--rules 1000] [--items 20000]

Each rule has its own companies (so, as in real use, most rules have nothing to do with most
items) and uses the shipped term lists, proximity, exclusions, scores and regexes. Three figures
are printed from the same run: a baseline of one precompiled regex search per item (the cheapest
thing a matcher could do), matching with the prefilter, and evaluating every rule on every item
(on a sample). Machines here are shared and noisy: compare the ratios, not the raw figures.
Target: 20,000 items/s on one core with 1,000 rules.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

from monitor.config import load_rules
from monitor.match import Rule, RuleSet, evaluate, prepare
from monitor.model import Item

ROOT = Path(__file__).resolve().parents[1]
SYLLABLES = ["zen", "tra", "vo", "lix", "qua", "mor", "dex", "pha", "ri", "con", "tel", "nos"]
FILLER = [
    "the",
    "a",
    "of",
    "in",
    "on",
    "and",
    "to",
    "for",
    "with",
    "said",
    "company",
    "report",
    "market",
    "government",
    "week",
    "year",
    "staff",
    "technology",
    "research",
    "cloud",
    "chip",
    "software",
    "shares",
    "investors",
    "policy",
    "minister",
    "trade",
    "talks",
    "data",
    "services",
    "growth",
    "plans",
    "regional",
    "city",
    "council",
    "energy",
    "deal",
    "announced",
    "quarter",
    "revenue",
    "users",
]
EVENT_WORDS = [
    "closes",
    "shut",
    "down",
    "lab",
    "office",
    "research",
    "centre",
    "plant",
    "opens",
    "expands",
    "R&D",
    "layoffs",
]
PLACES = [
    "China",
    "Shanghai",
    "Beijing",
    "Shenzhen",
    "Canada",
    "London",
    "Vietnam",
    "India",
    "Japan",
]


def company_names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(SYLLABLES) for _ in range(5)).capitalize())
    return sorted(names)


def rule_text(index: int, companies: list[str]) -> str:
    """One rule; every fourth uses a score, every tenth a regex, the rest boolean structure."""
    names = ", ".join(companies)
    if index % 4 == 1:
        body = f"""  score:
    - {{any: [{names}], weight: 3}}
    - {{near: ["@closure_actions", "@facilities"], within: 6, weight: 2, title_weight: 3}}
    - {{list: china_places, weight: 1}}
    - {{in: [title], any: [open, expand], weight: -4}}
  threshold: 6"""
    else:
        extra = f'\n    - regex: "{companies[0].lower()}\\\\s+\\\\w+"' if index % 10 == 3 else ""
        body = f"""  all:
    - any: [{names}]
    - near: ["@closure_actions", "@facilities"]
      within: 6
    - at_least: 1
      of: ["@china_places", {{in: [title], any: [mainland]}}]{extra}
  none:
    - in: [title]
      near: [{{any: [open, expand, launch]}}, "@facilities"]
      within: 4"""
    return f"name: bench-{index}\nnotify: [c]\nmatch:\n{body}\n"


def build_rules(folder: Path, count: int, rng: random.Random) -> tuple[list[Rule], list[str]]:
    shutil.copytree(ROOT / "rules" / "lists", folder / "lists")
    every_company = company_names(rng, count * 3)
    rng.shuffle(every_company)
    for index in range(count):
        companies = every_company[index * 3 : index * 3 + 3]
        (folder / f"bench-{index}.yaml").write_text(rule_text(index, companies))
    return list(load_rules(folder, {"c"})), every_company


def news_items(count: int, companies: list[str], rng: random.Random) -> list[Item]:
    """Filler news; one item in twenty names a rule's company, many mention China or a closure."""
    items = []
    for index in range(count):
        words = [rng.choice(FILLER) for _ in range(50)]
        for _ in range(3):
            words[rng.randrange(50)] = rng.choice(EVENT_WORDS)
        words[rng.randrange(50)] = rng.choice(PLACES)
        if index % 20 == 0:
            words[rng.randrange(10)] = rng.choice(companies)
        title, summary = " ".join(words[:10]).capitalize(), " ".join(words[10:])
        items.append(
            Item(source="bench", title=title, url=f"https://e.org/{index}", summary=summary)
        )
    return items


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--sample", type=int, default=300, help="items for every-rule matching")
    parser.add_argument(
        "--scaling", action="store_true", help="100, 1,000 and 10,000 rules on the same items"
    )
    args = parser.parse_args()
    if args.scaling:
        scaling(args.items)
        return
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        rules, companies = build_rules(Path(scratch), args.rules, rng)
        load_seconds = time.perf_counter() - started
    items = news_items(args.items, companies, rng)

    started = time.perf_counter()
    rule_set = RuleSet(rules)
    index_seconds = time.perf_counter() - started

    baseline = re.compile(r"\b(?:shanghai|beijing)\b", re.IGNORECASE)
    started = time.perf_counter()
    for item in items:
        baseline.search(item.title)
        baseline.search(item.summary)
    baseline_seconds = time.perf_counter() - started

    started = time.perf_counter()
    matched = sum(len(rule_set.matches(item)) for item in items)
    prefilter_seconds = time.perf_counter() - started

    sample = items[: args.sample]
    started = time.perf_counter()
    every_rule = 0
    for item in sample:
        prepared = prepare(item)
        every_rule += sum(evaluate(rule, prepared) is not None for rule in rules)
    every_seconds = time.perf_counter() - started
    sampled = sum(len(rule_set.matches(item)) for item in sample)

    rate = len(items) / prefilter_seconds
    print(f"rules: {len(rules)} (loaded in {load_seconds:.1f} s, indexed in {index_seconds:.2f} s)")
    print(f"items: {len(items)}, matches: {matched}")
    print(f"baseline regex scan:       {len(items) / baseline_seconds:>10,.0f} items/s")
    print(f"with the prefilter:        {rate:>10,.0f} items/s")
    print(f"every rule on every item:  {len(sample) / every_seconds:>10,.0f} items/s (sample)")
    every_rate = len(sample) / every_seconds
    print(f"prefilter speed-up:        {rate / every_rate:>10.0f}x")
    print(f"same matches on the sample: {sampled == every_rule} ({sampled})")
    print(f"target 20,000 items/s:     {'met' if rate >= 20_000 else 'NOT met'}")


def scaling(item_count: int) -> None:
    """How the cost per item grows with the number of rules (target: 1,000 at most 3x 100)."""
    rates: dict[int, float] = {}
    for count in (100, 1000, 10000):
        rng = random.Random(7)
        with tempfile.TemporaryDirectory() as scratch:
            rules, companies = build_rules(Path(scratch), count, rng)
        items = news_items(item_count, companies, rng)
        rule_set = RuleSet(rules)
        started = time.perf_counter()
        matched = sum(len(rule_set.matches(item)) for item in items)
        rates[count] = len(items) / (time.perf_counter() - started)
        print(f"{count:>6} rules: {rates[count]:>10,.0f} items/s ({matched} matches)")
    print(f"cost of 1,000 rules / 100 rules: {rates[100] / rates[1000]:.2f}x (target <= 3)")
    print(f"10,000 rules: {'met' if rates[10000] >= 10_000 else 'NOT met'} (target 10,000 items/s)")


if __name__ == "__main__":
    main()
