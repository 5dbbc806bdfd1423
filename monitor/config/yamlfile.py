"""Read YAML as untrusted input, keeping where every value came from.

Only YAML's plain types are built (no tags that construct objects), duplicate keys are errors that
name both lines, aliases are bounded by a node budget, files are capped in size, tabs in indentation
get a message a person understands. ``${NAME}`` in a string is replaced from the environment when
asked; an unset variable is an error at that position, and its value never appears in a message.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from monitor.errors import ConfigError, Problem

if TYPE_CHECKING:
    from pydantic import ValidationError

MAX_FILE_BYTES = 1024 * 1024
#: nodes built from one file, aliases counted each time they are expanded
MAX_NODES = 100_000
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}

Path_ = tuple[str | int, ...]


@dataclass
class Document:
    """A YAML file's data plus the 1-based (line, col) of every value and every mapping key."""

    path: str
    data: Any
    value_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def resolve(self, loc: Iterable[str | int]) -> Path_:
        """The real YAML path in a pydantic ``loc``, without the union tags pydantic inserts.

        A tag can spell the same as a key (a feed source's tag is ``feed``), so a part is skipped
        when the part after it exists beside it rather than below it.
        """
        parts = list(loc)
        known = self.value_marks.keys() | self.key_marks.keys()
        path: Path_ = ()
        for i, part in enumerate(parts):
            below = (*path, part)
            if below not in known:
                continue
            following = parts[i + 1] if i + 1 < len(parts) else None
            if (
                following is not None
                and (*below, following) not in known
                and (*path, following) in known
            ):
                continue
            path = below
        return path

    def mark(self, loc: Iterable[str | int], *, key: bool = False) -> tuple[int, int]:
        """The position of the deepest known node on ``loc``."""
        path = tuple(loc)
        if path not in self.value_marks:
            # a pydantic loc, with its union tags (a real path resolves to itself, and the
            # rule parser asks for the line of every term it reads)
            path = self.resolve(path)
        if key and path in self.key_marks:
            return self.key_marks[path]
        return self.value_marks.get(path, self.value_marks.get((), (1, 1)))

    def problem(self, loc: Iterable[str | int], message: str, *, key: bool = False) -> Problem:
        line, col = self.mark(loc, key=key)
        return Problem(self.path, line, col, message)


_STR_TAG = "tag:yaml.org,2002:str"
#: libyaml's loader where PyYAML was built with it (ten times faster on a thousand rule files)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Builder:
    def __init__(self, path: str, loader: yaml.SafeLoader, interpolate: bool) -> None:
        self.doc = Document(path=path, data=None)
        self.loader = loader
        self.interpolate = interpolate
        self.problems: list[Problem] = []
        self.nodes = 0

    def _at(self, node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def _fail(self, node: yaml.Node, message: str) -> None:
        line, col = self._at(node)
        self.problems.append(Problem(self.doc.path, line, col, message))

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig(node)
        self.doc.value_marks.setdefault(path, self._at(node))
        if node.tag not in _PLAIN_TAGS:
            self._fail(
                node, f"the tag {node.tag!r} is not allowed: only plain YAML values are read"
            )
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        try:
            # a string is its node's text (what PyYAML's constructor returns for it, by a much
            # longer way); most values of a config with thousands of sources are strings
            if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
                value = node.value
            else:
                value = self.loader.construct_object(node, deep=True)
        except ValueError as exc:
            # PyYAML builds dates and ints itself: "2024-13-01" or a 5,000-digit number fail here.
            self._fail(node, f"invalid value {str(node.value)[:40]!r}: {str(exc)[:100]}")
            return None
        if isinstance(value, str) and self.interpolate and "${" in value:
            value = self._interpolate(node, value)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._fail(key_node, "merge keys (<<) are not supported; write the keys out")
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._fail(key_node, "a mapping key must be a plain value")
                continue
            try:
                key = (
                    key_node.value
                    if key_node.tag == _STR_TAG
                    else self.loader.construct_object(key_node)
                )
            except ValueError:
                self._fail(key_node, "invalid mapping key")
                continue
            if not isinstance(key, str | int):
                key = str(key)
            line, _ = self._at(key_node)
            if key in first_line:
                self._fail(
                    key_node,
                    f"duplicate key {key!r} (first defined on line {first_line[key]})",
                )
                continue
            first_line[key] = line
            self.doc.key_marks[(*path, key)] = self._at(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _interpolate(self, node: yaml.Node, value: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                self._fail(node, f"environment variable {name} is not set")
                return ""
            return os.environ[name]

        return ENV_REFERENCE.sub(replace, value)


class _TooBig(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def _yaml_error_problem(path: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    if "'\\t'" in problem or "\t" in problem:
        message = "tab characters are not allowed for indentation"
    else:
        message = f"invalid YAML: {problem}"
        if exc.context:
            message += f" ({exc.context})"
    return Problem(path, line, col, message)


def read_yaml(path: Path, *, display: str | None = None, interpolate: bool = False) -> Document:
    """Read one YAML file; every problem in it is raised together as a ConfigError."""
    shown = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError.single(
                shown, 1, 1, f"file is {size} bytes, over the limit of {MAX_FILE_BYTES} bytes"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError.single(shown, 1, 1, f"cannot read file: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError.single(shown, line, 1, "file is not valid UTF-8") from exc
    return parse_yaml(text, display=shown, interpolate=interpolate)


def parse_yaml(text: str, *, display: str, interpolate: bool = False) -> Document:
    if _Loader is not yaml.SafeLoader:
        try:
            return _parse_with(_Loader, text, display=display, interpolate=interpolate)
        except ConfigError:
            # PyYAML's own scanner words errors better (a tab in indentation is named as such);
            # only a broken file pays for the second parse.
            pass
    return _parse_with(yaml.SafeLoader, text, display=display, interpolate=interpolate)


def _parse_with(loader_class: Any, text: str, *, display: str, interpolate: bool) -> Document:
    try:
        loader = loader_class(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise ConfigError.single(
            display, line, col, f"character {exc.character!r} is not allowed in YAML"
        ) from exc
    try:
        node = loader.get_single_node()
        builder = _Builder(display, loader, interpolate)
        if node is not None:
            builder.doc.data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_yaml_error_problem(display, exc)]) from exc
    except _TooBig as exc:
        line, col = exc.node.start_mark.line + 1, exc.node.start_mark.column + 1
        raise ConfigError.single(
            display, line, col, f"document expands to more than {MAX_NODES} values (alias bomb?)"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError.single(display, 1, 1, f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if builder.problems:
        raise ConfigError(builder.problems)
    return builder.doc


def validation_problems(
    doc: Document, exc: ValidationError, vocabulary: Iterable[str] = (), prefix: Path_ = ()
) -> list[Problem]:
    """Turn pydantic's errors into ``path:line:col`` problems, with a spelling hint for typos."""
    words = sorted(set(vocabulary))
    problems = []
    for error in exc.errors():
        loc = (*prefix, *error["loc"])
        if error["type"] == "extra_forbidden":
            name = str(error["loc"][-1])
            message = f"unknown field {name!r}"
            close = difflib.get_close_matches(name, words, n=1, cutoff=0.7)
            if close:
                message += f", did you mean {close[0]!r}?"
            problems.append(doc.problem(loc, message, key=True))
            continue
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = f"missing required field {error['loc'][-1]!r}"
            loc = loc[:-1]
        elif error["type"].endswith("_type") and error["input"] is not None:
            message += f" (got {type(error['input']).__name__} {error['input']!r}; quote the value)"
        shown = _dotted(doc.resolve(loc)[len(prefix) :])
        problems.append(doc.problem(loc, f"{shown}: {message}" if shown else message))
    return problems


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
