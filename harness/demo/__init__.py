"""``opsdb demo``: an end-to-end story told by numbered steps.

Each module in ``harness/demo/steps/`` (named ``sNN_topic.py``) has a ``TITLE``
and a ``run(ctx)`` function; they run in name order on one database, and each
prints what it did. A capability adds its own step file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from harness import rpc as rpc_module
from harness.demo import steps
from harness.factories import Factories
from harness.rpc import SERVICE_ROLE, Jwt


@dataclass
class DemoContext:
    """What steps share: the database, an RPC caller, factories, and notes for later steps."""

    url: str
    conn: psycopg.Connection
    out: Callable[[str], None]
    factories: Factories
    notes: dict[str, Any] = field(default_factory=dict)

    def rpc(self, name: str, args: dict[str, Any] | None = None, *, as_: Jwt | str = SERVICE_ROLE) -> Any:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return rpc_module.call(conn, name, args, as_=as_).data

    def say(self, line: str) -> None:
        self.out(f"  {line}")


def step_modules() -> list[Any]:
    names = sorted(m.name for m in pkgutil.iter_modules(steps.__path__) if m.name.startswith("s"))
    return [importlib.import_module(f"{steps.__name__}.{name}") for name in names]


def run(url: str, out: Callable[[str], None] = print) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        ctx = DemoContext(url=url, conn=conn, out=out, factories=Factories(conn))
        for number, module in enumerate(step_modules(), start=1):
            out(f"\n== {number}. {module.TITLE}")
            module.run(ctx)
    out("\ndemo finished")
