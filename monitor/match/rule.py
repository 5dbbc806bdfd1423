"""A rule as matching uses it: plain values, apart from the parsing of rule files
(monitor.match.syntax), so that a process that only matches never imports the parser's models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.match.expressions import Expr


@dataclass(frozen=True)
class Example:
    text: str
    should_match: bool
    #: where the example is written, for the problem a failing example causes
    line: int
    col: int


@dataclass(frozen=True)
class Rule:
    name: str
    notify: tuple[str, ...]
    expr: Expr
    description: str
    path: str
    line: int
    severity: str = "info"
    examples: tuple[Example, ...] = ()
