"""The one way the monitor starts processes: from a forkserver that imported it once.

Forking the monitor itself would copy threads' locks in whatever state they are; a forkserver
is a clean, single-threaded process, and with the parsers, rules and store imported in advance
each process it starts is ready in milliseconds.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import ForkServerContext


def context() -> ForkServerContext:
    forkserver = multiprocessing.get_context("forkserver")
    # takes effect when the forkserver starts, with the first process
    forkserver.set_forkserver_preload(["monitor.workers", "monitor.store.process"])
    return forkserver
