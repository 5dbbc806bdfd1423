"""Rule files -> Rule values with compiled terms; every problem reported at ``path:line:col``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.config.schema import NAME_PATTERN
from monitor.config.yamlfile import Document, Path_, validation_problems
from monitor.errors import Problem
from monitor.match.text import fold, is_cjk
from monitor.model import TEXT_FIELDS

DEFAULT_FIELDS = ("title", "summary", "content")
OPERATORS = ("all", "any", "none")
MAX_TERM_LENGTH = 200


@dataclass(frozen=True)
class Term:
    text: str
    fields: tuple[str, ...]
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class AllOf:
    children: tuple[Expr, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Expr, ...]


@dataclass(frozen=True)
class NoneOf:
    children: tuple[Expr, ...]


Expr = Term | AllOf | AnyOf | NoneOf


@dataclass(frozen=True)
class Rule:
    name: str
    notify: tuple[str, ...]
    expr: Expr
    description: str
    path: str
    line: int


class _RuleShape(BaseModel):
    """The keys of one rule; ``match`` is checked by this module's own parser."""

    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    notify: list[str] | Literal["all"] = Field(min_length=1)
    match: Any


RULE_KEYS = tuple(_RuleShape.model_fields)


def compile_term(text: str) -> re.Pattern[str]:
    """A phrase -> a regex over folded text, anchored on word boundaries except around CJK."""
    words = fold(text).split()
    parts = []
    for word in words:
        if word == "*":
            # one word of any spelling between two others: "US * firm" matches "US chip firm"
            parts.append(r"[\w'&.]+")
        elif word.endswith("*") and len(word) > 1:
            parts.append(re.escape(word[:-1]) + r"\w*")
        else:
            parts.append(re.escape(word))
    body = r"[\s\-]+".join(parts)
    start = "" if is_cjk(words[0][0]) else r"(?<!\w)"
    last = words[-1].rstrip("*")
    end = "" if words[-1].endswith("*") or is_cjk(last[-1]) else r"(?!\w)"
    return re.compile(start + body + end)


class _ExprParser:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def fail(self, path: Path_, message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, message, key=key))

    def parse(self, node: Any, path: Path_, fields: tuple[str, ...]) -> Expr | None:
        if isinstance(node, str):
            return self._term(node, path, fields)
        if isinstance(node, dict):
            return self._mapping(node, path, fields)
        self.fail(path, "an expression is a term (a string) or a mapping of all/any/none")
        return None

    def _term(self, text: str, path: Path_, fields: tuple[str, ...]) -> Term | None:
        stripped = text.strip()
        words = fold(stripped).split()
        if not words or all(w.rstrip("*") == "" for w in words):
            self.fail(path, "a term must contain a word")
            return None
        if words[0] == "*" or words[-1] == "*":
            self.fail(path, "a term cannot start or end with a * word: it would match anything")
            return None
        if len(stripped) > MAX_TERM_LENGTH:
            self.fail(path, f"a term is at most {MAX_TERM_LENGTH} characters")
            return None
        return Term(stripped, fields, compile_term(stripped))

    def _mapping(self, node: dict[Any, Any], path: Path_, fields: tuple[str, ...]) -> Expr | None:
        for key in node:
            if key not in (*OPERATORS, "in"):
                self.fail(
                    (*path, key), f"unknown operator {key!r}: use all, any, none or in", key=True
                )
        if "in" in node:
            fields = self._fields(node["in"], (*path, "in")) or fields
        parts: list[Expr] = []
        for operator in OPERATORS:
            if operator not in node:
                continue
            children = node[operator]
            where = (*path, operator)
            if isinstance(children, str | dict):
                children = [children]
            if not isinstance(children, list) or not children:
                self.fail(where, f"{operator}: needs a non-empty list of expressions")
                continue
            parsed = [self.parse(c, (*where, i), fields) for i, c in enumerate(children)]
            kept = tuple(p for p in parsed if p is not None)
            combined: Expr = (
                AllOf(kept)
                if operator == "all"
                else AnyOf(kept)
                if operator == "any"
                else NoneOf(kept)
            )
            parts.append(combined)
        if not parts:
            if not any(k not in (*OPERATORS, "in") for k in node):
                self.fail(path, "an expression mapping needs one of all, any or none")
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

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


def parse_rules(doc: Document, channels: set[str]) -> tuple[list[Rule], list[Problem]]:
    """The rules of one file, and every problem found in it (a rule with a problem is left out)."""
    data = doc.data
    base_path: Path_
    if isinstance(data, dict) and "rules" in data:
        extra = [k for k in data if k != "rules"]
        problems = [doc.problem((k,), f"unknown top-level key {k!r}", key=True) for k in extra]
        entries, base_path = data["rules"], ("rules",)
        if not isinstance(entries, list):
            return [], [*problems, doc.problem(base_path, "rules: must be a list of rules")]
    elif isinstance(data, dict):
        problems, entries, base_path = [], [data], ()
    else:
        return [], [doc.problem((), "a rule file is a rule mapping or a 'rules:' list")]

    rules = []
    for index, entry in enumerate(entries):
        path: Path_ = (*base_path, index) if base_path else ()
        rule, rule_problems = _parse_rule(doc, entry, path, channels)
        problems.extend(rule_problems)
        if rule is not None:
            rules.append(rule)
    return rules, problems


def _parse_rule(
    doc: Document, entry: Any, path: Path_, channels: set[str]
) -> tuple[Rule | None, list[Problem]]:
    try:
        shape = _RuleShape.model_validate(entry)
    except ValidationError as exc:
        return None, validation_problems(doc, exc, (*RULE_KEYS, *OPERATORS), prefix=path)
    notify = sorted(channels) if shape.notify == "all" else shape.notify
    problems = [
        doc.problem((*path, "notify", i), f"unknown channel {name!r}")
        for i, name in enumerate(notify)
        if name not in channels
    ]
    parser = _ExprParser(doc)
    expr = parser.parse(shape.match, (*path, "match"), DEFAULT_FIELDS)
    problems.extend(parser.problems)
    if problems or expr is None:
        return None, problems
    line, _ = doc.mark(path)
    return (
        Rule(shape.name, tuple(notify), expr, shape.description, doc.path, line),
        [],
    )
