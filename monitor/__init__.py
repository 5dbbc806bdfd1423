"""News monitor: watches feeds and pages, matches items against YAML rules, sends alerts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("news-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
