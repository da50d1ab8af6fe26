"""One audit check: a rule, and a function that lists what breaks it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import psycopg

Severity = Literal["fail", "warn"]
Find = Callable[[psycopg.Connection], list[str]]


@dataclass(frozen=True)
class Check:
    """``find(conn)`` returns one line per finding; no findings means the rule holds.

    A ``fail`` finding makes ``opsdb audit`` exit non-zero; a ``warn`` is reported
    and left to the operator (a missing secret on a staging database, say).
    """

    name: str
    rule: str
    find: Find
    severity: Severity = "fail"


@dataclass(frozen=True)
class Result:
    check: Check
    findings: list[str]
    # Set when the check itself could not run (a missing schema, no privilege).
    error: str | None = None

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "ERROR"
        if not self.findings:
            return "PASS"
        return "FAIL" if self.check.severity == "fail" else "WARN"


class Checks(list[Check]):
    """Checks in the order their functions are defined, each registered beside its query.

    ``@checks.rule("name", "the rule")`` above a finding function adds it, unchanged.
    """

    def rule(self, name: str, rule: str, *, severity: Severity = "fail") -> Callable[[Find], Find]:
        def register(find: Find) -> Find:
            self.append(Check(name, rule, find, severity))
            return find

        return register
