"""The rule language on values: terms, operators, fields, evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_rules
from monitor.config.yamlfile import parse_yaml
from monitor.match import Rule, evaluate, parse_rules, prepare
from monitor.model import Item


def rule(match_yaml: str) -> Rule:
    doc = parse_yaml(f"name: r\nnotify: [c]\nmatch:\n{match_yaml}", display="r.yaml")
    rules, problems = parse_rules(doc, {"c"})
    assert not problems, problems
    return rules[0]


def item(title: str, summary: str = "", **fields: str) -> Item:
    return Item(source="src", title=title, url="https://e.org/a", summary=summary, **fields)


def hits(r: Rule, it: Item) -> list[tuple[str, str, str]] | None:
    match = evaluate(r, prepare(it))
    return None if match is None else [(e.term, e.field, e.text) for e in match.evidence]


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("lab", "AWS closes its Shanghai lab", True),
        ("lab", "AWS closes its Shanghai laboratory", False),
        ("lab", "Collaboration deal signed", False),
        ("shut down", "The office was shut-down last week", True),
        ("shut down", "It was SHUT   DOWN", True),
        ("cafe", "A new Café opens", True),
        ("relocat*", "Staff relocation begins", True),
        ("relocat*", "Allocation of staff", False),
        ("R&D", "Closing its R&D centre", True),
        ("Xi'an", "Xi’an office to close", True),
        ("上海", "亚马逊关闭上海人工智能实验室", True),
        ("U.S. tech*", "U.S. technology firms retreat", True),
        ("US * firm*", "A US chip firm exits", True),
        ("US * firm*", "A US firm exits", False),
        ("US * firm*", "US chip design firm", False),
    ],
    ids=[
        "whole-word",
        "no-prefix-without-star",
        "no-substring",
        "hyphen-equals-space",
        "case-and-space-folded",
        "accents-folded",
        "star-matches-endings",
        "star-still-anchored-at-start",
        "ampersand-term",
        "curly-apostrophe",
        "cjk-inside-words",
        "dotted-abbreviation",
        "gap-word-matches-one-word",
        "gap-word-needs-a-word",
        "gap-word-is-exactly-one-word",
    ],
)
def test_term_matching(term: str, text: str, expected: bool) -> None:
    r = rule(f'  any: ["{term}"]\n')
    assert (hits(r, item(text)) is not None) is expected


@pytest.mark.parametrize("term", ["*", "* *", "* firm", "US *"])
def test_terms_that_would_match_anything_are_rejected(term: str) -> None:
    doc = parse_yaml(f'name: r\nnotify: [c]\nmatch: "{term}"\n', display="r.yaml")
    rules, problems = parse_rules(doc, {"c"})
    assert rules == []
    assert len(problems) == 1
    assert str(problems[0]).startswith("r.yaml:3:8: a term ")


def test_notify_all_means_every_configured_channel() -> None:
    doc = parse_yaml("name: r\nnotify: all\nmatch: x\n", display="r.yaml")
    (found,), _ = parse_rules(doc, {"slack", "mail"})
    assert found.notify == ("mail", "slack")


def test_all_any_none_combine_and_evidence_names_fields_and_spans() -> None:
    r = rule("  all:\n    - any: [closes, shuts]\n    - lab\n  none: [opens]\n")
    it = item("Company shuts Lab", "The lab had 40 staff")
    assert hits(r, it) == [
        ("shuts", "title", "shuts"),
        ("lab", "title", "Lab"),
        ("lab", "summary", "lab"),
    ]
    match = evaluate(r, prepare(it))
    assert match is not None
    first = match.evidence[0]
    assert it.title[first.start : first.end] == "shuts"


def test_none_vetoes_the_match() -> None:
    r = rule("  all: [lab]\n  none: [opens]\n")
    assert hits(r, item("Firm opens lab")) is None
    assert hits(r, item("Firm closes lab")) == [("lab", "title", "lab")]


def test_in_scopes_terms_to_fields() -> None:
    r = rule("  in: [title]\n  any: [lab]\n")
    assert hits(r, item("Nothing here", "the lab closed")) is None
    assert hits(r, item("lab news")) == [("lab", "title", "lab")]


def test_tags_and_author_fields_can_be_matched() -> None:
    r = rule("  all:\n    - {in: tags, any: [China]}\n    - {in: [author], any: [reporter]}\n")
    it = Item(source="s", title="t", url="", tags=("Cloud", "China"), author="Staff reporter")
    assert hits(r, it) == [("China", "tags", "China"), ("reporter", "author", "reporter")]


def test_offsets_stay_right_after_characters_that_fold_longer() -> None:
    r = rule("  any: [lab]\n")
    it = item("Straße ﬁrm shuts lab")
    match = evaluate(r, prepare(it))
    assert match is not None
    found = match.evidence[0]
    assert it.title[found.start : found.end] == "lab"


SHIPPED = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="module")
def shipped_rule() -> Rule:
    (found,) = load_rules(SHIPPED, {"console"})
    return found


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        (
            "Amazon Web Services shuts its AI lab in Shanghai",
            "The cloud unit cites a US-China realignment.",
        ),
        ("AWS to close Shanghai lablet", ""),
        ("Microsoft scales back its research centre in Beijing", ""),
        ("IBM winds down China R&D operations", "Hundreds of staff affected."),
        ("Oracle closes Chinese development center", "The US firm is laying off 900 people."),
        ("US cloud company shuts its Shanghai AI lab", ""),
        ("American chip maker to close R&D centre in Beijing", ""),
        ("Silicon Valley firm winds down its China office", ""),
    ],
)
def test_shipped_rule_catches_closures(shipped_rule: Rule, title: str, summary: str) -> None:
    assert hits(shipped_rule, item(title, summary)) is not None


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("Microsoft opens new AI lab in Beijing", "The US tech giant expands in China."),
        ("Shanghai stocks close higher as tech shares rally", "Apple suppliers gained."),
        ("Huawei closes research centre in Canada", "The Chinese company cited sanctions."),
        ("Google closes its lab in Zurich", "The move affects 50 researchers in Switzerland."),
        ("Typhoon closes schools across Guangdong", "Offices in Shenzhen shut for the day."),
        ("Chinese tech firm Huawei closes office in the US", "The company cited sanctions."),
        ("ByteDance closes its US lab", "The Chinese firm is moving staff."),
    ],
)
def test_shipped_rule_ignores_look_alikes(shipped_rule: Rule, title: str, summary: str) -> None:
    assert hits(shipped_rule, item(title, summary)) is None
