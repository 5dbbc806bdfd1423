"""What every worker process starts with: imported once by the forkserver, then frozen.

The workers are forked from the forkserver after these imports. ``gc.freeze`` takes the objects
they made out of the collector's reach: each full collection in a worker would otherwise walk
all of them again, and touching their headers would copy the forkserver's memory pages into
every worker.
"""

import gc

import monitor.sources.feed
import monitor.store.process
import monitor.store.repository
import monitor.workers  # noqa: F401

gc.freeze()
