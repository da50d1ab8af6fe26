"""The public API's declarations (db/api.toml): one entry per function in ``public``.

Each entry gives what an app relies on: the parameters, the result, the roles
that may call it and a one-line contract. The migration runner hands them to
every ``*.sql.j2`` file as ``api``; the macro in
``db/functions/_public_api.sql.j2`` writes each ``public.x`` from its entry (a
security-invoker PL/pgSQL function over ``private._x``, its comment, revoke and
grants), and the API reference test checks ``docs/api.md`` against the same
entries.
"""

from __future__ import annotations

import re
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

FILE = "api.toml"
API_ROLES = ("anon", "authenticated", "service_role")
_PARAM = re.compile(r"^([a-z_][a-z0-9_]*) (.+?)(?: default (.+))?$")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None

    @property
    def sql(self) -> str:
        return f"{self.name} {self.type}" + (f" default {self.default}" if self.default is not None else "")


@dataclass(frozen=True)
class Declaration:
    """One public function. ``lock_subject`` (a SQL expression naming what was locked) makes a
    stuck row lock answer 503 ``lock_timeout`` through ``private.lock_timeout`` instead of a 500."""

    name: str
    params: tuple[Param, ...]
    returns: str
    roles: tuple[str, ...]
    contract: str
    volatility: str
    lock_subject: str | None
    language: str

    @property
    def implementation(self) -> str:
        return f"private._{self.name}"

    @property
    def types(self) -> str:
        """The argument types, as ``comment on function`` and ``grant`` name the function."""
        return ", ".join(p.type for p in self.params)

    @property
    def returns_set(self) -> bool:
        return self.returns.startswith(("setof ", "table"))

    @property
    def returns_sql(self) -> str:
        """The result as a function header writes it: a table's columns one per line."""
        if not self.returns.startswith("table("):
            return self.returns
        columns = _split_top_level(self.returns[len("table(") : -1])
        return "table (\n" + ",\n".join(f"    {c}" for c in columns) + "\n)"

    @property
    def contract_sql(self) -> str:
        """The contract as a SQL string literal, wrapped into adjacent literals (PostgreSQL joins them)."""
        quoted = self.contract.replace("'", "''")
        lines = textwrap.wrap(quoted, width=110, break_long_words=False, break_on_hyphens=False, drop_whitespace=False)
        return "\n".join(f"'{line}'" for line in lines)


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [*parts, current.strip()] if current.strip() else parts


def _param(text: str, where: str) -> Param:
    match = _PARAM.match(text.strip())
    if match is None:
        raise ValueError(f"{where}: a parameter reads `name type [default value]`, not {text!r}")
    return Param(match.group(1), match.group(2), match.group(3))


def parse(text: str, source: str = FILE) -> dict[str, Declaration]:
    declarations = {}
    for name, entry in tomllib.loads(text).items():
        where = f"{source} [{name}]"
        unknown = set(entry) - {"params", "returns", "roles", "contract", "volatility", "lock_subject", "language"}
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        roles = tuple(entry["roles"])
        if not roles or set(roles) - set(API_ROLES):
            raise ValueError(f"{where}: roles are some of {', '.join(API_ROLES)}")
        if entry.get("volatility", "volatile") not in ("volatile", "stable"):
            raise ValueError(f"{where}: volatility is volatile or stable")
        language = entry.get("language", "plpgsql")
        if language not in ("plpgsql", "sql") or (language == "sql" and "lock_subject" in entry):
            raise ValueError(f"{where}: language is plpgsql, or sql for a function without a lock_subject")
        declarations[name] = Declaration(
            name=name,
            params=tuple(_param(p, where) for p in entry.get("params", [])),
            returns=entry["returns"],
            roles=roles,
            contract=entry["contract"],
            volatility=entry.get("volatility", "volatile"),
            lock_subject=entry.get("lock_subject"),
            language=language,
        )
    return declarations


def load(db_dir: Path) -> dict[str, Declaration]:
    path = db_dir / FILE
    return parse(path.read_text(), f"db/{FILE}") if path.exists() else {}
