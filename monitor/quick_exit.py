"""Leaving the process without the interpreter's teardown.

After a pass over many feeds the interpreter holds millions of objects (the config, the rules,
SQLAlchemy, aiohttp), and tearing it down frees them one by one: a fifth of a second or more
of a command that has finished its work. Everything that matters is closed by then (the store,
the workers, the HTTP clients), so the exit handlers run, the output is flushed, and the
process ends at once. The interpreter's usual exit is kept whenever it would do more than
that: while a thread that is not a daemon still runs, Python would wait for it, and under a
profiler or tracer, which reports as the interpreter unwinds.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

#: the status Python itself gives when flushing the output fails at exit
FLUSH_FAILED = 120


def exit_code(exc: SystemExit) -> int:
    """The status Python would exit with for ``exc``."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def can_skip_teardown() -> bool:
    # a profiler or tracer (``python -m cProfile``, coverage) writes its report as the
    # interpreter unwinds, after the exit handlers
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return False
    main = threading.main_thread()
    return all(t is main or t.daemon or not t.is_alive() for t in threading.enumerate())


def leave(code: int) -> None:
    """End the process with ``code`` once the exit handlers have run and output is flushed;
    returns (to let the interpreter exit as usual) when a thread that is not a daemon runs."""
    if not can_skip_teardown():
        return
    atexit._run_exitfuncs()  # logging's flush and multiprocessing's cleanup among them
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or FLUSH_FAILED
    os._exit(code)
