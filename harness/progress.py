"""Progress for long commands: say what is running, and keep saying it while it runs.

``heartbeat(out, "dumping opsdb")`` prints nothing for a step that ends quickly;
a step that runs longer than ``every`` seconds prints ``... still dumping opsdb
(30 s)`` at that interval, plus whatever ``detail()`` adds (bytes written so
far, say), so a DBA watching a 5-minute drill knows it is alive and where it is.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Out = Callable[[str], None]


def default_interval() -> float:
    """Seconds between heartbeats: $OPSDB_PROGRESS_SECONDS, else 10."""
    try:
        return max(0.05, float(os.environ.get("OPSDB_PROGRESS_SECONDS", "10")))
    except ValueError:
        return 10.0


@contextmanager
def heartbeat(
    out: Out, what: str, *, every: float | None = None, detail: Callable[[], str] | None = None
) -> Iterator[None]:
    """Print ``... still <what>`` every ``every`` seconds until the block ends."""
    interval = default_interval() if every is None else every
    done = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not done.wait(interval):
            extra = ""
            if detail is not None:
                try:
                    extra = f", {detail()}"
                except OSError:  # a file not written yet, say
                    extra = ""
            out(f"  ... still {what} ({time.monotonic() - started:.0f} s{extra})")

    thread = threading.Thread(target=beat, name=f"heartbeat: {what}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def megabytes(path: os.PathLike[str] | str) -> str:
    return f"{os.stat(path).st_size / 1_000_000:,.1f} MB written"
