"""Which regexes could make Python's engine backtrack for exponential time (FAULTS C5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from monitor.match.backtracking import backtracking_problem

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+$",
        r"(a*)*b",
        r"(x|x)*y",
        r"(a|a)+",
        r"(\w+\s?)+$",
        r"(?:\w+)+x",
        r"(.*a)*",
        r"((ab)*)+c",
        r"(?:a|a?b)*c",
        r"(?:Ab|aB)+c",  # alike once case is folded
        r"(?:Äb|äc)+d",  # beyond the sample characters too
        r"x(?=(a+)+$)",  # inside a lookahead too
        r"(?:(?:\d+)+,)?",  # inside a group that is itself optional
    ],
)
def test_patterns_that_can_split_a_text_many_ways_are_refused(pattern: str) -> None:
    assert backtracking_problem(pattern) is not None


@pytest.mark.parametrize(
    "pattern",
    [
        r"\w+",
        r"clos(?:e|es|ed)\b",
        r"\b(?:us|u\.s\.|american)(?:-based)?\s+(?:[\w-]+\s+){0,2}?(?:tech\w*|firms?)\b",
        r"(?:a|b)*c",
        r"(?:a|ab)*c",
        r"(?:-\w+)*",
        r"(?:\s\w+)*",
        r"(?:\d+,)*",
        r"\d+(?:\.\d+)*",
        r"(?:a+)++",  # possessive: never gives anything back
        r"(a+){0,3}",  # bounded
    ],
)
def test_patterns_whose_repetitions_are_delimited_are_accepted(pattern: str) -> None:
    assert backtracking_problem(pattern) is None


def test_the_shipped_rules_regexes_are_accepted() -> None:
    found = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("regex"), str):
                found.append(node["regex"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    for path in (ROOT / "rules").rglob("*.yaml"):
        collect(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert found
    assert [p for p in found if backtracking_problem(p, re.IGNORECASE)] == []
