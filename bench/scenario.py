"""What a bench scenario is: one pgbench script, its setup, and what it is compared with.

A domain adds its scenarios in its own module, ``bench/scenarios/<domain>.py``,
exposing ``SCENARIOS: list[Scenario]``; nothing else needs editing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
VARIABLE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
SETTING = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")
PROTOCOLS = ("simple", "extended", "prepared")
# Client counts every scenario is measured with unless it says otherwise.
DOMAIN_CLIENTS: tuple[int, ...] = (8,)

# Session settings that make every pgbench connection an API call as service_role:
# the role and the JWT claims PostgREST would set, fixed for the connection, so
# each transaction is the one statement under test (see bench/README.md).
SERVICE_ROLE_SESSION: Mapping[str, str] = {
    "role": "service_role",
    "request.jwt.claims": '{"role":"service_role"}',
}


@dataclass(frozen=True)
class Scenario:
    """One measured workload.

    * ``name``: unique across all modules, ``[a-z][a-z0-9_]*``.
    * ``script``: the pgbench script, as text, or a :class:`~pathlib.Path` to a
      ``.sql`` file (use :func:`sql_next_to` for a file beside the module).
    * ``setup``: SQL run once, as the superuser, in the fresh database each
      measured run gets (create rows, wallets, Vault secrets ...). It runs as one
      implicit transaction; ``vacuum analyze`` follows it.
    * ``variables``: pgbench ``-D name=value`` definitions the script reads as ``:name``.
    * ``baseline``: the name of the baseline scenario this one is reported against
      (TPS ratio at the same client count); ``None`` for the baselines themselves.
    * ``session``: settings every pgbench connection starts with (libpq
      ``PGOPTIONS=-c name=value``), e.g. :data:`SERVICE_ROLE_SESSION`.
    * ``protocol``: pgbench ``--protocol``; ``extended`` or ``prepared`` for
      scripts that use ``\\startpipeline``.
    * ``clients``: the client counts to measure with (domain scenarios: 8).
    * ``target_ratio``: optional floor the owning issue sets (``0.40`` = at least
      40% of the baseline's TPS); reported next to the ratio, never asserted.
    * ``description``: one line saying what the scenario measures.
    * ``smoke_setup`` and ``smoke_variables``: the same setup and variables at a
      size the test suite can afford, for a scenario whose setup loads volume
      (``None``: the suite runs ``setup`` and ``variables`` themselves); see
      :meth:`for_smoke_test`.
    """

    name: str
    script: str | Path
    baseline: str | None
    setup: str = ""
    variables: Mapping[str, str | int] = field(default_factory=dict)
    session: Mapping[str, str] = field(default_factory=dict)
    protocol: str = "simple"
    clients: tuple[int, ...] = DOMAIN_CLIENTS
    target_ratio: float | None = None
    description: str = ""
    smoke_setup: str | None = None
    smoke_variables: Mapping[str, str | int] | None = None

    def for_smoke_test(self) -> Scenario:
        """This scenario as the test suite runs it: its smoke setup and variables, if any."""
        return replace(
            self,
            setup=self.setup if self.smoke_setup is None else self.smoke_setup,
            variables=self.variables if self.smoke_variables is None else self.smoke_variables,
        )

    @property
    def is_baseline(self) -> bool:
        return self.baseline is None

    @property
    def script_text(self) -> str:
        if isinstance(self.script, Path):
            return self.script.read_text()
        return self.script

    def problems(self) -> list[str]:
        """What is wrong with this scenario on its own (the registry checks baselines)."""
        found: list[str] = []
        if not NAME.match(self.name):
            found.append(f"name {self.name!r} is not [a-z][a-z0-9_]* (at most 63 characters)")
        missing = isinstance(self.script, Path) and not self.script.is_file()
        text = "" if missing else self.script_text
        if missing:
            found.append(f"script file {self.script} does not exist")
        elif not text.strip():
            found.append("script is empty")
        if not self.clients or any(c < 1 for c in self.clients) or len(set(self.clients)) != len(self.clients):
            found.append(f"clients {self.clients!r} must be distinct positive counts")
        for key in self.variables:
            if not VARIABLE.match(key):
                found.append(f"variable {key!r} is not a valid pgbench variable name")
        if self.smoke_variables is not None and set(self.smoke_variables) != set(self.variables):
            found.append("smoke_variables must define the same names as variables")
        for key in self.session:
            if not SETTING.match(key):
                found.append(f"session setting {key!r} is not a valid setting name")
        if self.protocol not in PROTOCOLS:
            found.append(f"protocol {self.protocol!r} is not one of {', '.join(PROTOCOLS)}")
        elif self.protocol == "simple" and "\\startpipeline" in text:
            found.append("\\startpipeline needs protocol='extended' or 'prepared'")
        if self.target_ratio is not None and (self.is_baseline or not 0 < self.target_ratio):
            found.append("target_ratio needs a baseline and must be positive")
        return found


def sql_next_to(module_file: str, filename: str) -> Path:
    """The path of ``filename`` in the same folder as ``module_file`` (pass ``__file__``)."""
    return Path(module_file).resolve().with_name(filename)
