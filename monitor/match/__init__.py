"""The rule language. This docstring is its manual.

A rule file holds one rule, or a list of them under ``rules:``::

    rules:
      - name: foreign-tech-china-closure      # [a-z0-9_-], unique over all files
        description: A foreign tech firm closes a lab or office in China
        notify: [newsroom, analysts]          # channel names from monitor.yaml, or: all
        severity: warning                     # info (default), warning or critical
        match:
          all:
            - "@foreign_tech"                 # a named list, rules/lists/foreign_tech.yaml
            - near: [close, "@facilities"]    # within 10 words of each other
            - any: [China, Shanghai, Beijing]
          none:
            - in: [title]
              any: [open, expand]
        examples:                             # run by `monitor validate` and on every load
          match: ["Amazon closes its Shanghai AI lab"]
          no_match: ["Amazon opens a new lab in Shanghai"]

Expressions
    A string is a *term*: a word or phrase. A mapping combines expressions; when a mapping has
    several operators, all of them must hold.

    ``all: [e, ...]``            every expression holds
    ``any: [e, ...]``            at least one holds
    ``none: [e, ...]``           no expression holds
    ``at_least: N, of: [...]``   at least N of them hold
    ``near: [e, e, ...]``        all found in one field within ``within: N`` words (default 10)
                                 of each other, or in one sentence with ``sentence: true``
    ``score: [...]``             weighted expressions; holds when the weights of those that hold
                                 add up to ``threshold: N``. An entry is an expression, or a
                                 mapping with ``weight: W`` (negative to count against) and
                                 ``title_weight: W`` (its weight when found in the title)
    ``list: NAME`` or ``"@NAME"``  any term of a named list
    ``regex: PATTERN``           a regular expression, checked when rules load, run on the text
                                 with case and accents removed
    ``in: [fields]``             the fields the terms below look at (default: title, summary,
                                 content); any of title, summary, content, source, url, author,
                                 tags. ``content`` is the article's full text where it was fetched.

Terms
    Matched on whole words, ignoring case and accents (``cafe`` matches ``Café``); the words of a
    phrase may be separated by spaces or hyphens (``shut down`` matches ``shut-down``).

    A word written in lower case also matches its forms: ``close`` matches closes, closed,
    closing, closure; ``lab`` matches labs; ``shut down`` matches shuts down, shutting down,
    shutdown; ``centre`` matches center. A word with a capital letter is a name and matches as
    written (``US`` never matches "uses"). ``=word`` turns the forms off.

    A trailing ``*`` matches any ending (``relocat*``); a ``*`` on its own between two words
    matches any one word (``US * firm`` matches "US chip firm"). Terms in Chinese, Japanese or
    Korean script match inside words, as those scripts do not space words.

Named lists
    ``rules/lists/NAME.yaml`` holds ``terms:``, each a term or ``NAME: [alias, ...]``; evidence
    names the entry (``AWS``) whichever alias the story used (``Amazon Web Services``).

Evidence
    Every match reports, for each term that made it hold, the field it was found in and the span
    of the text, so an alert can say why it fired; a scored rule reports its score. ``none`` and
    negative weights contribute no evidence.

Invalid rules (unknown keys, lists, fields or channels, bad regexes, examples that fail) are
rejected when rules are loaded, never skipped when items are matched.
"""

from typing import TYPE_CHECKING, Any

from monitor.match.evaluate import PreparedItem, evaluate, prepare
from monitor.match.prefilter import RuleSet
from monitor.match.rule import Rule

if TYPE_CHECKING:
    from monitor.match.syntax import parse_rules

__all__ = ["PreparedItem", "Rule", "RuleSet", "evaluate", "parse_rules", "prepare"]


def __getattr__(name: str) -> Any:
    # the parser of rule files comes with pydantic's models, which matching never needs
    if name == "parse_rules":
        from monitor.match.syntax import parse_rules

        return parse_rules
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
