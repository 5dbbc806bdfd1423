"""The prefilter only skips rules that cannot match: with it or without, the same matches."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.config.yamlfile import parse_yaml
from monitor.match import Rule, RuleSet, evaluate, parse_rules, prepare
from monitor.match.expressions import AnyOf, Term
from monitor.match.keyindex import MIN_KEYED_CHILDREN, KeyScanner
from monitor.match.lists import ListEntry, TermList
from monitor.match.prefilter import required_keys
from monitor.match.text import fold, fold_with_offsets, is_cjk
from monitor.model import TEXT_FIELDS, Item

WORDS = [
    "close",
    "closes",
    "lab",
    "labs",
    "shut down",
    "shutdown",
    "China",
    "Shanghai",
    "US",
    "uses",
    "relocat*",
    "office",
    "opens",
    "上海",
    "Café",
    "cafe",
    "R&D",
    "x",
]
TEXT_WORDS = [*WORDS, "relocation", "closure", "the", "a", "in", ".", "-", "CLOSED", "Ünïcode"]

terms = st.sampled_from([w for w in WORDS if w != "x"]).map(lambda w: f'"{w}"')


def expressions(depth: int = 2, leaves: st.SearchStrategy[str] = terms) -> st.SearchStrategy[str]:
    if depth == 0:
        return leaves
    inner = st.lists(expressions(depth - 1, leaves), min_size=1, max_size=3).map(", ".join)
    return st.one_of(
        leaves,
        inner.map(lambda x: "{all: [" + x + "]}"),
        inner.map(lambda x: "{any: [" + x + "]}"),
        inner.map(lambda x: "{none: [" + x + "]}"),
        st.tuples(
            expressions(depth - 1, leaves), expressions(depth - 1, leaves), st.integers(1, 4)
        ).map(lambda t: "{near: [" + t[0] + ", " + t[1] + f"], within: {t[2]}" + "}"),
        st.tuples(expressions(depth - 1, leaves), expressions(depth - 1, leaves)).map(
            lambda t: (
                "{score: [{any: [" + t[0] + "], weight: 2}, {any: [" + t[1] + "], "
                "weight: -1}], threshold: 1}"
            )
        ),
        st.just('{regex: "lab|office"}'),
    )


def parse(expression: str, index: int, lists: dict[str, TermList] | None = None) -> Rule:
    doc = parse_yaml(f"name: r{index}\nnotify: [c]\nmatch: {expression}\n", display="r.yaml")
    rules, problems = parse_rules(doc, {"c"}, lists)
    assert not problems, problems
    return rules[0]


texts = st.lists(st.sampled_from(TEXT_WORDS), max_size=12).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(expressions(), min_size=1, max_size=6), texts, texts)
def test_rule_set_finds_exactly_what_evaluating_every_rule_finds(
    expressions_: list[str], title: str, summary: str
) -> None:
    rules = [parse(e, i) for i, e in enumerate(expressions_)]
    item = Item(source="s", title=title, url="", summary=summary)
    assert_same_matches(rules, item)


def assert_same_matches(rules: list[Rule], item: Item) -> None:
    """The rule set finds what evaluating each rule on its own finds, with the same evidence
    and score: its shortcuts skip only what could not hold, in any part of a rule."""
    prepared = prepare(item)
    alone = [(r.name, evaluate(r, prepared)) for r in rules]
    everything = [(name, m.evidence, m.score) for name, m in alone if m is not None]
    assert [(r.name, m.evidence, m.score) for r, m in RuleSet(rules).matches(item)] == everything


def _term_list(name: str, words: list[str]) -> TermList:
    return TermList(name, f"lists/{name}.yaml", tuple(ListEntry(w, w, 1, 1) for w in words))


#: two named lists, as every rule file of a folder shares them
LISTS = {
    "places": _term_list("places", ["China", "Shanghai", "上海", "office"]),
    "acts": _term_list("acts", ["close", "closes", "shut down", "relocat*", "R&D"]),
}
with_lists = st.one_of(terms, st.sampled_from(['"@places"', '"@acts"']))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(expressions(leaves=with_lists), min_size=1, max_size=6), texts, texts)
def test_rules_sharing_named_lists_find_exactly_what_evaluating_every_rule_finds(
    expressions_: list[str], title: str, summary: str
) -> None:
    # each rule parsed as its own file: the lists' terms are one tuple in all of them, which
    # share_equal and the rule index each work out once
    rules = [parse(e, i, LISTS) for i, e in enumerate(expressions_)]
    item = Item(source="s", title=title, url="", summary=summary)
    assert_same_matches(rules, item)


def test_a_named_list_is_one_tuple_of_terms_in_every_rule_that_uses_it() -> None:
    first, second = parse('{all: ["@places", x]}', 0, LISTS), parse('"@places"', 1, LISTS)
    assert isinstance(second.expr, AnyOf)
    listed = [c for c in first.expr.children if isinstance(c, AnyOf)]
    assert listed
    assert listed[0].children is second.expr.children
    keys = required_keys(second.expr)
    assert keys is not None
    assert {"china", "shanghai", "上海", "office"} <= keys


def test_the_prefilter_skips_rules_whose_keys_are_absent() -> None:
    rules = [parse('{all: [close, "Shanghai"]}', 0), parse("{none: [lab]}", 1)]
    assert required_keys(rules[0].expr) == frozenset({"shanghai"})
    assert required_keys(rules[1].expr) is None
    rule_set = RuleSet(rules)
    assert [r.name for r in rule_set.candidates(prepare(Item(source="s", title="x", url="")))] == [
        "r1"
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(terms, min_size=MIN_KEYED_CHILDREN, max_size=2 * MIN_KEYED_CHILDREN),
    st.sampled_from(["any", "at_least"]),
    texts,
    texts,
)
def test_a_long_list_finds_the_same_evidence_when_it_skips_absent_terms(
    chosen: list[str], operator: str, title: str, summary: str
) -> None:
    def rule(children: list[str], index: int) -> Rule:
        listed = ", ".join(children)
        return parse(
            "{any: [" + listed + "]}"
            if operator == "any"
            else "{at_least: 2, of: [" + listed + "]}",
            index,
        )

    indexed = rule(chosen, 0)
    # a term wrapped in `all:` has no keys of its own in the list, so every one is run
    every_term = rule(["{all: [" + term + "]}" for term in chosen], 1)
    prepared = prepare(Item(source="s", title=title, url="", summary=summary))
    found, reference = evaluate(indexed, prepared), evaluate(every_term, prepared)
    assert (found is None) == (reference is None)
    if found is not None and reference is not None:
        assert found.evidence == reference.evidence


def test_a_long_list_runs_only_the_terms_whose_keys_occur() -> None:
    rule = parse("{any: [" + ", ".join(f'"{w}"' for w in WORDS if w != "x") + "]}", 0)
    assert isinstance(rule.expr, AnyOf)
    text = prepare(Item(source="s", title="The office in Shanghai", url="")).text
    tried = [rule.expr.children[i] for i in rule.expr.child_index.to_try(text)]
    assert {t.label for t in tried if isinstance(t, Term)} == {"office", "Shanghai"}


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_fast_folding_equals_folding_one_character_at_a_time(text: str) -> None:
    assert fold(text) == fold_with_offsets(text)[0]


_FIELD_TEXT = st.text() | st.sampled_from(["", "Café", "e\u0301", "\u0301", "ﬁ", "İ", "ǅ", "’"])


@settings(max_examples=500, deadline=None)
@given(
    st.tuples(_FIELD_TEXT, _FIELD_TEXT, _FIELD_TEXT, _FIELD_TEXT, _FIELD_TEXT, _FIELD_TEXT),
    st.lists(_FIELD_TEXT, max_size=3),
)
@example(("Cafe", "\u0301 at the start", "", "s", "", "ends in e"), ["\u0301"])
def test_all_fields_folded_at_once_are_each_field_folded(
    fields: tuple[str, str, str, str, str, str], tags: list[str]
) -> None:
    title, summary, content, source, url, author = fields
    item = Item(
        source=source,
        title=title,
        url=url,
        summary=summary,
        content=content,
        author=author,
        tags=tuple(tags),
    )
    prepared = prepare(item)
    each = [fold(item.field_text(name)) for name in TEXT_FIELDS]
    assert prepared.text == "\n".join(each)
    assert [prepared.folded[name] for name in TEXT_FIELDS] == each


@pytest.mark.parametrize("text", ["Café", "ﬁrm", "Straße", "İstanbul", "ǅ", "’s"])
def test_folding_known_characters(text: str) -> None:
    assert fold(text) == fold_with_offsets(text)[0]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([w for w in WORDS if w != "x"]), texts, texts)
@example("relocat*", "plans a relocation", "relocat")
def test_a_field_is_searched_for_a_term_only_when_it_holds_a_key_and_finds_the_same(
    word: str, title: str, summary: str
) -> None:
    rule = parse(f'"{word}"', 0)
    term = rule.expr
    assert isinstance(term, Term)
    prepared = prepare(Item(source="s", title=title, url="", summary=summary))
    for field in ("title", "summary"):
        searched = tuple(h.span() for h in term.pattern.finditer(prepared.folded[field]))
        assert prepared.find(term, field) == searched


def _found_by_regex(keys: dict[str, list[int]], text: str) -> set[int]:
    """What KeyScanner promises, key by key: a whole word, or a word's start for ``key*``;
    a CJK end needs no boundary."""
    found: set[int] = set()
    for key, values in keys.items():
        prefix = key.endswith("*") and len(key) > 1
        literal = key[:-1] if prefix else key
        before = "" if is_cjk(literal[0]) else r"(?<!\w)"
        after = "" if prefix or is_cjk(literal[-1]) else r"(?!\w)"
        if re.search(before + re.escape(literal) + after, text):
            found.update(values)
    return found


KEY_WORDS = ["us", "arm", "u.s.", "r&d", "shut down", "relocat*", "上海", "中", "a_b", "x1", "café"]
TEXT_PIECES = ["us", "arm", "pharma", "u.s.", "r&d", "shut down", "relocation", "上海市", "中国"]
TEXT_PIECES += ["a_b", "a_bc", "x1", "x12", "café", "cafés", " ", ", ", "-", "_", "\n", "business"]
# keys beyond ASCII are looked for only in text beyond ASCII: texts of both kinds are drawn
KEY_WORDS += ["über", "xi'an", "中国apple", "arm*"]
TEXT_PIECES += ["über", "uber", "xi'an", "apple", "é"]


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(st.sampled_from(KEY_WORDS), st.lists(st.integers(0, 5), max_size=2)),
    st.lists(st.sampled_from(TEXT_PIECES), max_size=15).map("".join),
)
def test_the_scanner_finds_a_key_exactly_where_its_boundaries_hold(
    keys: dict[str, list[int]], text: str
) -> None:
    assert KeyScanner(keys).found(text) == _found_by_regex(keys, text)
