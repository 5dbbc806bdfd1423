"""The rule language. This docstring is its manual.

A rule file holds one rule, or a list of them under ``rules:``::

    rules:
      - name: foreign-tech-china-closure      # [a-z0-9_-], unique over all files
        description: A foreign tech firm closes a lab or office in China
        notify: [newsroom, analysts]          # channel names from monitor.yaml, or: all
        match:
          all:
            - any: [closes, closed, shuts down]
            - any: [lab, "research centre", office]
            - any: [China, Shanghai, Beijing]
          none:
            - in: [title]
              any: [opens, expands]

Expressions
    A string is a *term*: a word or phrase. A mapping combines expressions with operators; when a
    mapping has several operators, all of them must hold.

    ``all: [e, ...]``   every expression holds
    ``any: [e, ...]``   at least one holds
    ``none: [e, ...]``  no expression holds
    ``in: [fields]``    the fields the terms below look at (default: title, summary, content);
                        one of title, summary, content, source, url, author, tags

Terms
    Matched on whole words, ignoring case and accents (``cafe`` matches ``Café``); the words of a
    phrase may be separated by spaces or hyphens (``shut down`` matches ``shut-down``). A trailing
    ``*`` matches any ending (``relocat*`` matches relocate, relocates, relocation); a ``*`` on its
    own between two words matches any one word (``US * firm`` matches "US chip firm"). Terms in
    Chinese, Japanese or Korean script match inside words, as those scripts do not space words.

Evidence
    Every match reports, for each term that made it hold, the field it was found in and the span
    of the text, so an alert can say why it fired. ``none`` contributes no evidence.

Invalid rules (unknown keys, unknown fields or channels, empty lists) are rejected when rules are
loaded, never skipped when items are matched.
"""

from monitor.match.evaluate import evaluate, prepare
from monitor.match.syntax import Rule, parse_rules

__all__ = ["Rule", "evaluate", "parse_rules", "prepare"]
