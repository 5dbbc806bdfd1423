"""Precision and recall of the shipped rules on the labelled corpus, with every miss listed.

    .venv/bin/python bench/rule_quality.py [--corpus tests/corpus/foreign_tech_china_closure.yaml]

The corpus is written for this project (tests/corpus/); the test suite asserts the same figures
(precision >= 0.95, recall >= 0.90). Per-kind counts show which shapes of story are weakest.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from monitor.config import load_rules
from monitor.match import evaluate, prepare
from monitor.match.corpus import load_corpus, measure

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT / "tests" / "corpus" / "foreign_tech_china_closure.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rule", default="foreign-tech-china-closure")
    args = parser.parse_args()
    rule = next(r for r in load_rules(ROOT / "rules", {"console"}) if r.name == args.rule)
    corpus = load_corpus(args.corpus)
    quality = measure(rule, corpus)
    positives = sum(x.positive for x in corpus)
    print(f"rule {rule.name}: {len(corpus)} items, {positives} positive")
    print(quality.report())
    right: Counter[tuple[bool, str]] = Counter()
    total: Counter[tuple[bool, str]] = Counter()
    for entry in corpus:
        matched = evaluate(rule, prepare(entry.item)) is not None
        total[entry.positive, entry.kind] += 1
        right[entry.positive, entry.kind] += matched == entry.positive
    for (positive, kind), count in sorted(total.items()):
        label = "positive" if positive else "negative"
        print(f"  {label:8} {kind:18} {right[positive, kind]:>3}/{count} right")


if __name__ == "__main__":
    main()
