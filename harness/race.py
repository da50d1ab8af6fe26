"""Race real connections: every worker released at one instant, each on its own thread.

Concurrency rules are proven by running the contending calls for real, on
separate connections, as close together as threads allow. :func:`race` is the
one way the tests and the demo do it, so a hung or failing worker is reported
the same way everywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Long enough for a slow CI machine to finish any race the tests run; a worker
# still running then is waiting on something that will not come (a lock, a peer).
DEFAULT_TIMEOUT = 120.0


class WorkerHung(AssertionError):
    """A worker was still running when the race's time was up (an AssertionError, so the test fails)."""


def _name(worker: Callable[[], object], index: int) -> str:
    return f"worker {index} ({getattr(worker, '__name__', repr(worker))})"


def race(workers: Sequence[Callable[[], T]], *, timeout: float = DEFAULT_TIMEOUT) -> list[T]:
    """Run every worker on its own thread, all released together; return their results in order.

    A worker that raises makes the race raise that exception (the lowest-numbered
    failing worker's, once every worker has ended). A worker still running
    ``timeout`` seconds after the release fails the race with :class:`WorkerHung`
    naming it; its thread is a daemon, so it never keeps the process alive.
    """
    barrier = threading.Barrier(len(workers))
    results: dict[int, T] = {}
    failures: dict[int, BaseException] = {}

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = workers[index]()
        except BaseException as exc:  # re-raised by race() in the test's thread
            failures[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    hung = [_name(workers[i], i) for i, thread in enumerate(threads) if thread.is_alive()]
    if hung:
        raise WorkerHung(f"still running after {timeout:g} s: {', '.join(hung)}")
    if failures:
        first = min(failures)
        raise failures[first]
    return [results[i] for i in range(len(workers))]


def race_each(items: Sequence[T], work: Callable[[T], R], *, timeout: float = DEFAULT_TIMEOUT) -> list[R]:
    """:func:`race` of ``work(item)`` for every item (typically one connection each)."""
    return race([_bind(work, item) for item in items], timeout=timeout)


def _bind(work: Callable[[T], R], item: T) -> Callable[[], R]:
    def bound() -> R:
        return work(item)

    bound.__name__ = getattr(work, "__name__", "work")
    return bound
