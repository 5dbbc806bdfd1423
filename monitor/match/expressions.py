"""The ``match:`` expression of a rule: its value types and its parser.

The parser reports every problem at ``path:line:col`` and leaves the faulty part out, so one run of
``monitor validate`` lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Any

from monitor.config.yamlfile import Document, Path_
from monitor.errors import Problem
from monitor.match.keyindex import ChildIndex
from monitor.match.lists import TermList
from monitor.match.terms import LazyPattern, TermError, compile_regex, compile_term
from monitor.model import TEXT_FIELDS

DEFAULT_FIELDS = ("title", "summary", "content")
MAX_TERM_LENGTH = 200
DEFAULT_WITHIN = 10
#: keys that combine expressions; the others (in, of, within, ...) qualify them
OPERATORS = ("all", "any", "none", "at_least", "near", "score", "list", "regex")
QUALIFIERS = ("in", "of", "within", "sentence", "ordered", "threshold")
ENTRY_KEYS = ("weight", "title_weight")


@dataclass(frozen=True)
class Term:
    #: what evidence names: the term as written, or a list entry's name
    label: str
    fields: tuple[str, ...]
    pattern: LazyPattern
    keys: frozenset[str] | None
    #: where the expression is written in its file, for explanations
    line: int = 0

    @cached_property
    def literals(self) -> tuple[str, ...] | None:
        """The keys as plain text, one of which every match holds (``relocat*`` as
        ``relocat``); None when the term has no keys."""
        if self.keys is None:
            return None
        return tuple(k[:-1] if k.endswith("*") and len(k) > 1 else k for k in self.keys)

    def may_match(self, text: str) -> bool:
        """False when ``text`` holds none of the term's keys, so the term cannot match it."""
        literals = self.literals
        return literals is None or any(literal in text for literal in literals)


@dataclass(frozen=True)
class AllOf:
    children: tuple[Expr, ...]
    line: int = 0


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Expr, ...]
    #: the named list this stands for, if any
    name: str = ""
    line: int = 0

    @cached_property
    def child_index(self) -> ChildIndex:
        return _child_index(self.children)


@dataclass(frozen=True)
class NoneOf:
    children: tuple[Expr, ...]
    line: int = 0


@dataclass(frozen=True)
class AtLeast:
    count: int
    children: tuple[Expr, ...]
    line: int = 0

    @cached_property
    def child_index(self) -> ChildIndex:
        return _child_index(self.children)


@dataclass(frozen=True)
class Near:
    """Every child found in one field, within ``within`` words or in one sentence."""

    children: tuple[Expr, ...]
    within: int
    sentence: bool
    #: the children must appear in the order they are written
    ordered: bool = False
    line: int = 0


@dataclass(frozen=True)
class Weighted:
    expr: Expr
    weight: float
    #: the weight when the expression holds in the title; None means ``weight``
    title_weight: float | None


@dataclass(frozen=True)
class Scored:
    entries: tuple[Weighted, ...]
    threshold: float
    line: int = 0


Expr = Term | AllOf | AnyOf | NoneOf | AtLeast | Near | Scored


def share_equal(expr: Expr, shared: dict[object, Expr] | None = None) -> Expr:
    """``expr`` with equal parts made one object: a clause repeated through a YAML alias
    (``*event``) is then evaluated once per item (evaluate._Evaluation keeps results by
    object)."""
    shared = {} if shared is None else shared
    if isinstance(expr, Term):
        return shared.setdefault(expr, expr)
    # Parts are made one from the leaves up, so two parts are equal when they are of one kind,
    # with the same settings and the very same parts: a key that is quick to hash.
    if isinstance(expr, Scored):
        entries = tuple(replace(e, expr=share_equal(e.expr, shared)) for e in expr.entries)
        changed = any(a.expr is not b.expr for a, b in zip(entries, expr.entries, strict=True))
        key: object = (
            Scored,
            tuple((id(e.expr), e.weight, e.title_weight) for e in entries),
            expr.threshold,
            expr.line,
        )
    else:
        settings = tuple(getattr(expr, f.name) for f in fields(expr) if f.name != "children")
        if _is_list_terms(expr.children):
            # a named list's terms are one tuple for every use of the list already
            # (_list_terms): going through its hundreds of terms again for each rule that
            # uses it cost seconds
            children, changed = expr.children, False
            key = (type(expr), id(children), settings)
        else:
            children = tuple(share_equal(child, shared) for child in expr.children)
            changed = any(a is not b for a, b in zip(children, expr.children, strict=True))
            key = (type(expr), tuple(id(child) for child in children), settings)
    found = shared.get(key)
    if found is not None:
        return found
    if changed:
        expr = (
            replace(expr, entries=entries)
            if isinstance(expr, Scored)
            else replace(expr, children=children)
        )
    shared[key] = expr
    return expr


#: the index of a children tuple that several expressions share (a list used in many places),
#: built once: id -> (the tuple, kept alive so that its id is not reused, its index)
_SHARED_INDEXES: dict[int, tuple[tuple[Expr, ...], ChildIndex]] = {}
#: the terms of a list for some fields, shared by every use of the list in a load
_LIST_TERMS: dict[
    tuple[int, tuple[str, ...]], tuple[TermList, tuple[Term, ...], list[Problem]]
] = {}
#: those terms' tuples, by id (kept alive here, so that the id is not reused)
_LIST_TERM_TUPLES: dict[int, tuple[Term, ...]] = {}
_SHARED_MAX = 4096


def _child_index(children: tuple[Expr, ...]) -> ChildIndex:
    shared = _SHARED_INDEXES.get(id(children))
    if shared is not None and shared[0] is children:
        return shared[1]
    index = ChildIndex([c.keys if isinstance(c, Term) else None for c in children])
    if len(_SHARED_INDEXES) >= _SHARED_MAX:
        _SHARED_INDEXES.clear()  # rules reloaded many times: start over
    _SHARED_INDEXES[id(children)] = (children, index)
    return index


def _is_list_terms(children: tuple[Expr, ...]) -> bool:
    """Whether ``children`` is the terms of a named list, as ``_list_terms`` made them."""
    return _LIST_TERM_TUPLES.get(id(children)) is children


def _list_terms(found: TermList, fields: tuple[str, ...]) -> tuple[tuple[Term, ...], list[Problem]]:
    """The terms of ``found`` for ``fields``, compiled once for every use of the list."""
    cached = _LIST_TERMS.get((id(found), fields))
    if cached is not None and cached[0] is found:
        return cached[1], cached[2]
    terms = []
    problems = []
    for entry in found.entries:
        try:
            compiled = compile_term(entry.term)
        except TermError as exc:
            problems.append(Problem(found.path, entry.line, entry.col, str(exc)))
            continue
        terms.append(Term(entry.label, fields, compiled.pattern, compiled.keys))
    if len(_LIST_TERMS) >= _SHARED_MAX:
        _LIST_TERMS.clear()
        _LIST_TERM_TUPLES.clear()
    made = tuple(terms)
    _LIST_TERMS[(id(found), fields)] = (found, made, problems)
    _LIST_TERM_TUPLES[id(made)] = made
    return made, problems


class ExprParser:
    def __init__(self, doc: Document, lists: dict[str, TermList]) -> None:
        self.doc = doc
        self.lists = lists
        self.problems: list[Problem] = []

    def fail(self, path: Path_, message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, message, key=key))

    def parse(
        self, node: Any, path: Path_, fields: tuple[str, ...] = DEFAULT_FIELDS
    ) -> Expr | None:
        if isinstance(node, str):
            if node.startswith("@"):
                return self._list(node[1:], path, fields)
            return self._term(node, path, fields)
        if isinstance(node, dict):
            return self._mapping(node, path, fields)
        if isinstance(node, bool | int | float):
            # YAML reads no, yes, on, off as booleans and 2024 as a number
            self.fail(path, f"YAML read this term as {node!r}: put it in quotes to mean the word")
            return None
        self.fail(path, "an expression is a term (a string) or a mapping such as all/any/none")
        return None

    def _term(self, text: str, path: Path_, fields: tuple[str, ...]) -> Term | None:
        if len(text) > MAX_TERM_LENGTH:
            self.fail(path, f"a term is at most {MAX_TERM_LENGTH} characters")
            return None
        try:
            compiled = compile_term(text)
        except TermError as exc:
            self.fail(path, str(exc))
            return None
        line = self.doc.mark(path)[0]
        return Term(text.strip().lstrip("="), fields, compiled.pattern, compiled.keys, line)

    def _list(self, name: Any, path: Path_, fields: tuple[str, ...]) -> Expr | None:
        found = self.lists.get(name) if isinstance(name, str) else None
        if found is None:
            known = ", ".join(sorted(self.lists)) or "none in rules/lists/"
            self.fail(path, f"unknown list {name!r} (lists: {known})")
            return None
        terms, problems = _list_terms(found, fields)
        self.problems.extend(problems)
        return AnyOf(terms, found.name, self.doc.mark(path)[0]) if terms else None

    def _children(self, node: Any, path: Path_, fields: tuple[str, ...]) -> tuple[Expr, ...]:
        if isinstance(node, str | dict):
            node = [node]
        if not isinstance(node, list) or not node:
            self.fail(path, f"{path[-1]}: needs a non-empty list of expressions")
            return ()
        parsed = [self.parse(child, (*path, i), fields) for i, child in enumerate(node)]
        return tuple(p for p in parsed if p is not None)

    def _mapping(self, node: dict[Any, Any], path: Path_, fields: tuple[str, ...]) -> Expr | None:
        for key in node:
            if key not in (*OPERATORS, *QUALIFIERS):
                self.fail(
                    (*path, key),
                    f"unknown operator {key!r}: use one of {', '.join((*OPERATORS, 'in'))}",
                    key=True,
                )
        if "in" in node:
            fields = self._fields(node["in"], (*path, "in")) or fields
        self._check_qualifiers(node, path)
        parts = [
            part
            for operator in OPERATORS
            if operator in node
            for part in [self._operator(operator, node, path, fields)]
            if part is not None
        ]
        if not parts:
            if not any(key in OPERATORS for key in node):
                self.fail(
                    path, "an expression mapping needs all, any, none, near or another operator"
                )
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def _check_qualifiers(self, node: dict[Any, Any], path: Path_) -> None:
        needs = {
            "of": "at_least",
            "within": "near",
            "sentence": "near",
            "ordered": "near",
            "threshold": "score",
        }
        for qualifier, operator in needs.items():
            if qualifier in node and operator not in node:
                self.fail((*path, qualifier), f"{qualifier}: goes with {operator}:", key=True)

    def _operator(
        self, operator: str, node: dict[Any, Any], path: Path_, fields: tuple[str, ...]
    ) -> Expr | None:
        expr = self._operator_expr(operator, node, path, fields)
        if expr is None:
            return None
        return replace(expr, line=self.doc.mark((*path, operator), key=True)[0])

    def _operator_expr(
        self, operator: str, node: dict[Any, Any], path: Path_, fields: tuple[str, ...]
    ) -> Expr | None:
        where = (*path, operator)
        value = node[operator]
        if operator == "list":
            return self._list(value, where, fields)
        if operator == "regex":
            return self._regex(value, where, fields)
        if operator == "at_least":
            return self._at_least(value, node, path, fields)
        if operator == "score":
            return self._score(value, node, path, fields)
        children = self._children(value, where, fields)
        if not children:
            return None
        if operator == "near":
            return self._near(children, node, path)
        if operator == "all":
            return AllOf(children)
        return AnyOf(children) if operator == "any" else NoneOf(children)

    def _regex(self, value: Any, path: Path_, fields: tuple[str, ...]) -> Term | None:
        if not isinstance(value, str):
            self.fail(path, "regex: needs a pattern string")
            return None
        try:
            compiled = compile_regex(value)
        except TermError as exc:
            self.fail(path, str(exc))
            return None
        return Term(f"/{value}/", fields, compiled.pattern, compiled.keys)

    def _at_least(
        self, count: Any, node: dict[Any, Any], path: Path_, fields: tuple[str, ...]
    ) -> Expr | None:
        if "of" not in node:
            self.fail((*path, "at_least"), "at_least: N needs of: [expressions]")
            return None
        children = self._children(node["of"], (*path, "of"), fields)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            self.fail((*path, "at_least"), "at_least: needs a whole number of at least 1")
            return None
        if children and count > len(children):
            self.fail((*path, "at_least"), f"at_least: {count} of {len(children)} can never hold")
            return None
        return AtLeast(count, children) if children else None

    def _near(self, children: tuple[Expr, ...], node: dict[Any, Any], path: Path_) -> Expr | None:
        if len(children) < 2:
            self.fail((*path, "near"), "near: needs at least two expressions")
            return None
        within = node.get("within", DEFAULT_WITHIN)
        sentence = node.get("sentence", False)
        ordered = node.get("ordered", False)
        if not isinstance(within, int) or isinstance(within, bool) or within < 1:
            self.fail((*path, "within"), "within: needs a number of words, at least 1")
            return None
        for key, value in (("sentence", sentence), ("ordered", ordered)):
            if not isinstance(value, bool):
                self.fail((*path, key), f"{key}: is true or false")
                return None
        return Near(children, within, sentence, ordered)

    def _score(
        self, entries: Any, node: dict[Any, Any], path: Path_, fields: tuple[str, ...]
    ) -> Expr | None:
        threshold = node.get("threshold")
        if not isinstance(threshold, int | float) or isinstance(threshold, bool):
            self.fail((*path, "score"), "score: needs threshold: N beside it")
            return None
        if not isinstance(entries, list) or not entries:
            self.fail((*path, "score"), "score: needs a non-empty list of weighted expressions")
            return None
        weighted = []
        for index, entry in enumerate(entries):
            item = self._weighted(entry, (*path, "score", index), fields)
            if item is not None:
                weighted.append(item)
        if not any(w.weight > 0 or (w.title_weight or 0) > 0 for w in weighted) and weighted:
            self.fail((*path, "score"), "score: needs at least one positive weight")
            return None
        return Scored(tuple(weighted), float(threshold)) if weighted else None

    def _weighted(self, entry: Any, path: Path_, fields: tuple[str, ...]) -> Weighted | None:
        if not isinstance(entry, dict):
            expr = self.parse(entry, path, fields)
            return Weighted(expr, 1.0, None) if expr is not None else None
        rest = {k: v for k, v in entry.items() if k not in ENTRY_KEYS}
        numbers = {k: entry[k] for k in ENTRY_KEYS if k in entry}
        for key, value in numbers.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                self.fail((*path, key), f"{key}: needs a number")
                return None
        expr = self.parse(rest, path, fields)
        if expr is None:
            return None
        title_weight = numbers.get("title_weight")
        return Weighted(
            expr,
            float(numbers.get("weight", 1)),
            float(title_weight) if title_weight is not None else None,
        )

    def _fields(self, value: Any, path: Path_) -> tuple[str, ...] | None:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names:
            self.fail(path, "in: needs a field name or a list of them")
            return None
        unknown = [n for n in names if n not in TEXT_FIELDS]
        if unknown:
            self.fail(path, f"unknown field {unknown[0]!r}: use one of {', '.join(TEXT_FIELDS)}")
            return None
        return tuple(names)
