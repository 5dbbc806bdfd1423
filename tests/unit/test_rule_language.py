"""The rule language beyond plain terms: word forms, proximity, counts, scores, regexes, lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_rules
from monitor.config.yamlfile import parse_yaml
from monitor.errors import ConfigError
from monitor.match import Rule, evaluate, parse_rules, prepare
from monitor.match.expressions import AllOf, Near, NoneOf
from monitor.match.inflect import word_forms
from monitor.match.lists import TermList, read_list
from monitor.model import Item


def rule(match_yaml: str, lists: dict[str, TermList] | None = None) -> Rule:
    doc = parse_yaml(f"name: r\nnotify: [c]\nmatch:\n{match_yaml}", display="r.yaml")
    rules, problems = parse_rules(doc, {"c"}, lists)
    assert not problems, [str(p) for p in problems]
    return rules[0]


def problems(match_yaml: str) -> list[str]:
    doc = parse_yaml(f"name: r\nnotify: [c]\nmatch:\n{match_yaml}", display="r.yaml")
    return [str(p) for p in parse_rules(doc, {"c"})[1]]


def matches(r: Rule, title: str, summary: str = "") -> bool:
    return evaluate(r, prepare(Item(source="s", title=title, url="", summary=summary))) is not None


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("close", "IBM closes lab", True),
        ("close", "The lab closed", True),
        ("close", "Closing the lab", True),
        ("close", "The closure of the lab", True),
        ("close", "Closures everywhere", True),
        ("close", "A closer look", False),
        ("close", "Watched closely", False),
        ("lab", "Two labs shut", True),
        ("lab", "A label", False),
        ("shut down", "Amazon shuts down store", True),
        ("shut down", "Amazon is shutting down store", True),
        ("shut down", "The shutdown of the store", True),
        ("shut down", "Two shutdowns", True),
        ("lay off", "It laid off 900", True),
        ("lay off", "Layoffs hit staff", True),
        ("withdraw", "Yahoo withdrew from China", True),
        ("withdraw", "Its withdrawal from China", True),
        ("centre", "A research center", True),
        ("research centre", "Two research centers close", True),
        ("facility", "Facilities close", True),
        ("US", "It uses AI", False),
        ("US", "A US firm", True),
        ("=close", "IBM closes lab", False),
        ("=close", "IBM to close lab", True),
    ],
)
def test_lower_case_words_match_their_forms_and_names_do_not(
    term: str, text: str, expected: bool
) -> None:
    assert matches(rule(f'  any: ["{term}"]\n'), text) is expected


def test_word_forms_cover_regular_and_irregular_verbs_and_nouns() -> None:
    assert set(word_forms("relocate")) >= {"relocates", "relocated", "relocating", "relocation"}
    assert set(word_forms("shut")) >= {"shuts", "shutting"}
    assert set(word_forms("facility")) >= {"facilities"}
    assert set(word_forms("wind")) >= {"winds", "wound", "winding"}
    assert "closer" not in word_forms("close")


def test_near_needs_the_terms_within_n_words_in_one_field() -> None:
    r = rule("  near: [close, lab]\n  within: 3\n")
    assert matches(r, "Amazon closes its Shanghai lab")
    assert not matches(r, "Amazon closes a deal with a firm that runs a lab")
    assert not matches(r, "Amazon closes a deal", "It runs a lab")


def test_near_in_one_sentence() -> None:
    r = rule("  near: [close, lab]\n  sentence: true\n")
    assert matches(r, "x", "Amazon said on Monday that it will close the Shanghai research lab.")
    assert not matches(r, "x", "Amazon closes a deal. Its lab opens next year.")
    # the full stop of an abbreviation does not end the sentence
    assert matches(r, "x", "A U.S. firm will close its lab.")


def test_ordered_near_needs_the_written_order() -> None:
    r = rule('  near: ["=to", China]\n  within: 2\n  ordered: true\n')
    assert matches(r, "Moves staff to China")
    assert not matches(r, "Moves staff from China to Vietnam")


def test_at_least_counts_the_expressions_that_hold() -> None:
    r = rule("  at_least: 2\n  of: [lab, office, plant]\n")
    assert matches(r, "Its lab and office close")
    assert not matches(r, "Its lab closes")


def test_score_adds_weights_and_title_weights_and_reports_the_total() -> None:
    r = rule(
        "  score:\n"
        "    - {any: [close], weight: 1, title_weight: 3}\n"
        "    - {any: [lab], weight: 1}\n"
        "    - {any: [rumour], weight: -5}\n"
        "  threshold: 4\n"
    )
    assert matches(r, "Amazon closes lab")
    assert not matches(r, "Amazon news", "It closes a lab")
    assert not matches(r, "Amazon closes lab, rumour says")
    match = evaluate(r, prepare(Item(source="s", title="Amazon closes lab", url="")))
    assert match is not None
    assert match.score == 4.0
    assert [e.term for e in match.evidence] == ["close", "lab"]


def test_regex_terms_run_on_folded_text() -> None:
    r = rule(r'  regex: "\\bcl(?:o|ô)s(?:e|es|ed)\\b"' + "\n")
    assert matches(r, "IBM CLÔSES lab")
    assert not matches(r, "IBM enclosed lab")


@pytest.mark.parametrize(
    ("match_yaml", "expected"),
    [
        ('  regex: "clos(e"\n', "r.yaml:4:10: invalid regex: missing ), unterminated subpattern"),
        ('  regex: "a*"\n', "r.yaml:4:10: regex matches the empty string"),
        ('  regex: "(a+)+$"\n', "r.yaml:4:10: regex nests repeats (as in (a+)+)"),
        ('  regex: "(x|x)*y"\n', "r.yaml:4:10: regex repeats alternatives that can start alike"),
        ("  any: [lab, no]\n", "r.yaml:4:14: YAML read this term as False: put it in quotes"),
        ("  near: [lab]\n", "r.yaml:4:9: near: needs at least two expressions"),
        ("  near: [a, b]\n  within: 0\n", "r.yaml:5:11: within: needs a number of words"),
        ("  any: [a]\n  within: 3\n", "r.yaml:5:3: within: goes with near:"),
        ("  at_least: 3\n  of: [a, b]\n", "r.yaml:4:13: at_least: 3 of 2 can never hold"),
        ("  at_least: 1\n", "r.yaml:4:13: at_least: N needs of:"),
        ("  score: [a]\n", "r.yaml:4:10: score: needs threshold: N beside it"),
        ("  score: [{any: [a], weight: -1}]\n  threshold: 1\n", "r.yaml:4:10: score: needs at"),
        ('  any: ["@nowhere"]\n', "r.yaml:4:9: unknown list 'nowhere'"),
        ("  list: nowhere\n", "r.yaml:4:9: unknown list 'nowhere'"),
    ],
)
def test_language_problems_name_their_place(match_yaml: str, expected: str) -> None:
    found = problems(match_yaml)
    assert len(found) == 1, found
    assert found[0].startswith(expected)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_named_lists_with_aliases_report_the_entry_name(tmp_path: Path) -> None:
    write(tmp_path / "lists" / "tech.yaml", "terms:\n  - IBM\n  - AWS: [Amazon Web Services]\n")
    write(tmp_path / "r.yaml", 'name: r\nnotify: [c]\nmatch:\n  all: ["@tech", {list: tech}]\n')
    (found,) = load_rules(tmp_path, {"c"})
    item = Item(source="s", title="Amazon Web Services closes a lab", url="")
    match = evaluate(found, prepare(item))
    assert match is not None
    assert {(e.term, e.text) for e in match.evidence} == {("AWS", "Amazon Web Services")}


def test_list_problems_name_the_list_file(tmp_path: Path) -> None:
    write(tmp_path / "lists" / "tech.yaml", "terms:\n  - IBM\n  - '*'\n  - {A: [b], C: [d]}\n")
    listed, found = read_list(tmp_path / "lists" / "tech.yaml")
    assert listed is None
    assert [str(p) for p in found] == [
        f"{tmp_path}/lists/tech.yaml:4:5: an entry is a term or  NAME: [alias, ...]"
    ]
    write(tmp_path / "lists" / "tech.yaml", "terms:\n  - IBM\n  - '*'\n")
    write(tmp_path / "r.yaml", 'name: r\nnotify: [c]\nmatch: "@tech"\n')
    with pytest.raises(ConfigError) as exc:
        load_rules(tmp_path, {"c"})
    assert [str(p) for p in exc.value.problems] == [
        f"{tmp_path}/lists/tech.yaml:3:5: a term must contain a word"
    ]


def test_a_failing_example_makes_the_rule_invalid(tmp_path: Path) -> None:
    write(
        tmp_path / "r.yaml",
        "name: r\nnotify: [c]\nmatch: {all: [close, lab]}\n"
        "examples:\n  match: [IBM closes lab, IBM sells lab]\n"
        "  no_match: [IBM opens lab, Lab closed]\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_rules(tmp_path, {"c"})
    assert [str(p) for p in exc.value.problems] == [
        f"{tmp_path}/r.yaml:5:27: example should match rule 'r' but does not: 'IBM sells lab'",
        f"{tmp_path}/r.yaml:6:29: example should not match rule 'r' but does "
        "(matched: close, lab): 'Lab closed'",
    ]


def test_severity_is_checked_and_carried() -> None:
    doc = parse_yaml("name: r\nnotify: [c]\nseverity: critical\nmatch: lab\n", display="r.yaml")
    (found,), _ = parse_rules(doc, {"c"})
    assert found.severity == "critical"
    doc = parse_yaml("name: r\nnotify: [c]\nseverity: loud\nmatch: lab\n", display="r.yaml")
    rules, found_problems = parse_rules(doc, {"c"})
    assert rules == []
    assert str(found_problems[0]).startswith("r.yaml:3:11: ")


def test_clauses_say_which_part_failed_and_which_exclusion_vetoed() -> None:
    from monitor.match.clauses import clauses

    r = rule("  all:\n    - close\n    - any: [lab, office, plant, site]\n  none:\n    - opens\n")
    verdicts = clauses(r, prepare(Item(source="s", title="IBM opens a site", url="")))
    assert [(c.description, c.status) for c in verdicts] == [
        ('line 5: "close"', "failed"),
        ('line 6: any of ["lab", "office", "plant", …]', "held"),
        ('line 8: none: "opens"', "vetoed"),
    ]


def test_a_clause_repeated_through_an_alias_is_one_clause_and_matches_as_written() -> None:
    r = rule(
        "  all:\n"
        "    - &event {near: [close, lab], within: 3}\n"
        "    - near: [*event, China]\n"
        "      within: 8\n"
        "    - none: [{near: [*event, Vancouver], within: 8}]\n"
    )
    assert isinstance(r.expr, AllOf)
    event, in_china, elsewhere = r.expr.children
    assert isinstance(in_china, Near)
    assert isinstance(elsewhere, NoneOf)
    assert isinstance(elsewhere.children[0], Near)
    assert in_china.children[0] is event
    assert elsewhere.children[0].children[0] is event
    assert matches(r, "Intel closes its Shanghai lab in China")
    assert not matches(
        r, "Intel closes a lab near its offices; rivals in the region and firms from China"
    )
    assert not matches(r, "Intel closes lab in China and in Vancouver")
    assert not matches(r, "Intel opens lab in China")
