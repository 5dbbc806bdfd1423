"""The text of an HTML fragment (a feed item's summary or content), read from lxml's parser events.

Feed items carry HTML in most of their fields. bs4 read each as a document and then walked its
tree for the strings: about a tenth of a millisecond for a one-line summary, more than the rest
of reading the item. Here lxml's HTML parser (the one bs4 used) reports tags and text to a
target that keeps the text, with bs4's ``get_text(" ")`` rules: text between two tags is one
string, strings are joined by a space, and what a page does not show as text (scripts, styles,
templates, ruby readings, comments) is left out. tests/unit/test_html_text.py holds the two to
the same result on generated markup.
"""

from __future__ import annotations

import threading

from lxml import etree

#: elements whose text a reader does not see as text: code, styles, fallbacks, templates and the
#: readings of ruby annotations (bs4 keeps them apart from the page's strings too)
HIDDEN = frozenset({"script", "style", "noscript", "template", "rt", "rp"})


class _Strings:
    """A parser target: the visible strings of one document, in order."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        #: the pieces of the string being read: the parser may hand one string over in parts
        self.pieces: list[str] = []
        self.hidden = 0

    def _end_string(self) -> None:
        if self.pieces:
            if not self.hidden:
                self.strings.append("".join(self.pieces))
            self.pieces = []

    def start(self, tag: str, attrib: object) -> None:
        self._end_string()
        if tag in HIDDEN:
            self.hidden += 1

    def end(self, tag: str) -> None:
        self._end_string()
        if tag in HIDDEN and self.hidden:
            self.hidden -= 1

    def data(self, data: str) -> None:
        self.pieces.append(data)

    # A comment, processing instruction or doctype ends a string as a tag does.
    def comment(self, text: str) -> None:
        self._end_string()

    def pi(self, target: str, data: str | None = None) -> None:
        self._end_string()

    def doctype(self, *declaration: object) -> None:
        self._end_string()

    def close(self) -> list[str]:
        self._end_string()
        strings, self.strings, self.hidden = self.strings, [], 0
        return strings


class _Parsers(threading.local):
    """A parser per thread, made once: making one costs more than reading a summary with it."""

    def __init__(self) -> None:
        self.parser = _new_parser()


def _new_parser() -> etree.HTMLParser:
    return etree.HTMLParser(target=_Strings())


_parsers = _Parsers()


def visible_strings(markup: str) -> list[str] | None:
    """The strings of ``markup`` a reader sees, in order; None when the parser rejects it."""
    try:
        return _parse(markup)
    except UnicodeEncodeError:
        # a lone surrogate (JSON can escape one) cannot reach the parser
        return _parse(markup.encode("utf-8", "replace").decode("utf-8"))


def _parse(markup: str) -> list[str] | None:
    parser = _parsers.parser
    try:
        parser.feed(markup)
        strings: list[str] = parser.close()
    except BaseException as exc:
        # a parser that failed part way holds that document's state: start the next afresh
        _parsers.parser = _new_parser()
        if isinstance(exc, etree.LxmlError):
            return None
        raise
    return strings
