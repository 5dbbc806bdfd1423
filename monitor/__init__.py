"""News monitor: watches feeds and pages, matches items against YAML rules, sends alerts."""

__version__ = "0.1.0"
