"""Rule files -> Rule values; every problem reported at ``path:line:col``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.config.schema import NAME_PATTERN, Severity
from monitor.config.yamlfile import Document, Path_, validation_problems
from monitor.errors import Problem
from monitor.match.expressions import OPERATORS, ExprParser, share_equal
from monitor.match.lists import TermList
from monitor.match.rule import Example, Rule


class _Examples(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    match: list[str] = []
    no_match: list[str] = []


class _RuleShape(BaseModel):
    """The keys of one rule; ``match`` is checked by the expression parser."""

    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    notify: list[str] | Literal["all"] = Field(min_length=1)
    severity: Severity = "info"
    match: Any
    examples: _Examples = _Examples()


RULE_KEYS = (*_RuleShape.model_fields, *_Examples.model_fields)


def parse_rules(
    doc: Document, channels: set[str], lists: dict[str, TermList] | None = None
) -> tuple[list[Rule], list[Problem]]:
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
        rule, rule_problems = _parse_rule(doc, entry, path, channels, lists or {})
        problems.extend(rule_problems)
        if rule is not None:
            rules.append(rule)
    return rules, problems


def _examples(doc: Document, shape: _RuleShape, path: Path_) -> tuple[Example, ...]:
    found = []
    for key, should_match in (("match", True), ("no_match", False)):
        for index, text in enumerate(getattr(shape.examples, key)):
            line, col = doc.mark((*path, "examples", key, index))
            found.append(Example(text, should_match, line, col))
    return tuple(found)


def _parse_rule(
    doc: Document, entry: Any, path: Path_, channels: set[str], lists: dict[str, TermList]
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
    parser = ExprParser(doc, lists)
    expr = parser.parse(shape.match, (*path, "match"))
    problems.extend(parser.problems)
    if problems or expr is None:
        return None, problems
    line, _ = doc.mark(path)
    rule = Rule(
        shape.name,
        tuple(notify),
        share_equal(expr),
        shape.description,
        doc.path,
        line,
        severity=shape.severity,
        examples=_examples(doc, shape, path),
    )
    return rule, []
