"""The volume bench's console pages (bench/volume/console_pages.py) run: on a tiny
loaded history every page answers 200 through the real app, and every GET route
of the console has its timed page, so a new page cannot go unmeasured. How fast
they are is `make bench-volume`'s business, not this test's."""

from __future__ import annotations

import psycopg
from starlette.routing import Route

from bench.volume import load as shape
from bench.volume.console_pages import PAGES, console_of
from bench.volume.operations import OPERATIONS, Context
from bench.volume.run import add_staff
from harness.console.pages import ROUTES

TINY = 0.001  # 10 workspaces, 5,000 usage events, 2,000 webhook rows


def test_every_console_page_renders_on_the_loaded_history(db: psycopg.Connection, db_url: str) -> None:
    volume = shape.Volume().scaled(TINY)
    shape.load(db, volume, out=lambda _line: None)
    add_staff(db)
    ctx = Context(db_url, volume, runs=1, fast_run=0)
    names = {name for name, _description, _path in PAGES}
    try:
        timed = {op.name: op.run(ctx) for op in OPERATIONS if op.name in names}
        ids = console_of(ctx).ids
        assert ids.run and ids.delivery  # the deep pages point at real rows
        paths = [path(ids) for _name, _description, path in PAGES]
    finally:
        ctx.close()

    assert set(timed) == names
    assert all(r.seconds is not None and r.seconds > 0 and r.detail.endswith("KB") for r in timed.values())
    pages = [r for r in ROUTES if isinstance(r, Route) and r.methods and "GET" in r.methods]
    unmeasured = [r.path for r in pages if not any(r.path_regex.match(p.split("?")[0]) for p in paths)]
    assert unmeasured == []
