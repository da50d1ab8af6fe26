"""docs/api.md agrees with the database, both ways.

Every function in public that an API role may execute has one entry, with the
catalog's parameter names, types and defaults and the roles that hold EXECUTE;
every entry names a function that exists; each entry's errors are words the SQL
raises, with PostgREST's HTTP status; each request names real parameters and
every required one; the metrics and buckets are the live tables'; links resolve.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness import api_declarations, project
from harness.rpc import http_status

API_ROLES = ("anon", "authenticated", "service_role")
DOC = project.root() / "docs" / "api.md"
HEADING = re.compile(r"^### (\w+)\((.*)\)\s*$")


@dataclass
class Param:
    name: str
    type: str
    has_default: bool


@dataclass
class Entry:
    name: str
    params: list[Param]
    body: str
    callers: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return self.name, tuple(p.type for p in self.params)


def _split_args(text: str) -> list[str]:
    """Top-level commas only (defaults such as '{}' or quoted text keep theirs)."""
    parts, depth, quoted, current = [], 0, False, ""
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def _parse_doc(text: str) -> list[Entry]:
    entries: list[Entry] = []
    current: Entry | None = None
    for line in text.splitlines():
        match = HEADING.match(line)
        if match:
            params = []
            for arg in _split_args(match.group(2)):
                name, _, rest = arg.partition(" ")
                type_, has_default, _ = rest.partition(" default ")
                params.append(Param(name, type_.strip(), bool(has_default)))
            current = Entry(match.group(1), params, "")
            entries.append(current)
        elif line.startswith("#"):
            current = None  # any other heading ends the entry
        elif current is not None:
            current.body += line + "\n"
    for entry in entries:
        callers = re.search(r"^\*\*Callers:\*\*(.*)$", entry.body, re.M)
        entry.callers = set(re.findall(r"`(\w+)`", callers.group(1))) & set(API_ROLES) if callers else set()
    return entries


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    return _parse_doc(DOC.read_text())


def _catalog(db: psycopg.Connection) -> dict[tuple[str, tuple[str, ...]], tuple[list[Param], set[str]]]:
    rows = db.execute(
        """
        select p.proname,
            coalesce(p.proargnames[1:p.pronargs], '{}'),
            array(select t::regtype::text from unnest(p.proargtypes) as t),
            p.pronargdefaults,
            array(select r from unnest(%s::text[]) as r where has_function_privilege(r, p.oid, 'execute'))
        from pg_proc as p
        where p.pronamespace = 'public'::regnamespace
        """,
        (list(API_ROLES),),
    ).fetchall()
    found = {}
    for name, names, types, defaults, roles in rows:
        if not roles:
            continue
        first_default = len(types) - defaults
        params = [Param(n, t, i >= first_default) for i, (n, t) in enumerate(zip(names, types, strict=True))]
        found[(name, tuple(types))] = (params, set(roles))
    return found


def _normalised(db: psycopg.Connection, entry: Entry) -> Entry:
    """The entry with its types as the database spells them (timestamptz -> timestamp with time zone)."""
    params = []
    for p in entry.params:
        row = db.execute("select %s::regtype::text", (p.type,)).fetchone()
        assert row is not None
        params.append(Param(p.name, str(row[0]), p.has_default))
    return Entry(entry.name, params, entry.body, entry.callers)


def test_every_callable_function_is_documented_and_every_entry_exists(
    db: psycopg.Connection, entries: list[Entry]
) -> None:
    catalog = _catalog(db)
    documented = [_normalised(db, e) for e in entries]
    keys = [e.key for e in documented]

    assert len(keys) == len(set(keys)), "one entry per function"
    missing = sorted(f"{name}({', '.join(types)})" for name, types in catalog.keys() - set(keys))
    unknown = sorted(f"{name}({', '.join(types)})" for name, types in set(keys) - catalog.keys())
    assert missing == [], "callable by an API role but not in docs/api.md"
    assert unknown == [], "in docs/api.md but not a function an API role may call"
    for entry in documented:
        params, roles = catalog[entry.key]
        assert [(p.name, p.has_default) for p in entry.params] == [(p.name, p.has_default) for p in params], entry.name
        assert entry.callers == roles, f"{entry.name}: **Callers:** names {entry.callers}, EXECUTE is held by {roles}"


def test_the_reference_documents_each_declaration_of_db_api_toml_as_declared(db: psycopg.Connection) -> None:
    declared = api_declarations.load(project.db_dir())
    assert declared, "db/api.toml declares the public functions"
    documented = {e.name: _normalised(db, e) for e in _parse_doc(DOC.read_text())}
    for name, f in declared.items():
        entry = documented[name]
        assert [(p.name, p.has_default) for p in entry.params] == [(p.name, p.default is not None) for p in f.params], name
        declared_types = _normalised(db, Entry(name, [Param(p.name, p.type, False) for p in f.params], ""))
        assert [p.type for p in entry.params] == [p.type for p in declared_types.params], name
        assert entry.callers == set(f.roles), name


def test_each_entry_has_its_parts(entries: list[Entry]) -> None:
    for entry in entries:
        assert "**Returns**" in entry.body, entry.name
        assert "**Errors**" in entry.body, entry.name
        assert f"/rest/v1/rpc/{entry.name}\"" in entry.body, f"{entry.name}: no PostgREST request"


def _request_arguments(entry: Entry) -> dict[str, Any]:
    block = entry.body.split("```sh", 1)[1].split("```", 1)[0]
    words = shlex.split(block.replace("\\\n", " "))
    if "-d" in words:
        return dict(json.loads(words[words.index("-d") + 1]))
    pairs = [words[i + 1] for i, w in enumerate(words) if w == "--data-urlencode"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_each_request_names_real_parameters_and_every_required_one(entries: list[Entry]) -> None:
    for entry in entries:
        sent = _request_arguments(entry)
        names = {p.name for p in entry.params}
        required = {p.name for p in entry.params if not p.has_default}
        assert set(sent) <= names, f"{entry.name}: the request sends {set(sent) - names}"
        assert required <= set(sent), f"{entry.name}: the request leaves out {required - set(sent)}"


# Answers the SQL gives through PostgREST's `raise sqlstate 'PGRST'` form, which sets
# the HTTP status itself instead of PostgREST's SQLSTATE table (private.lock_timeout).
PGRST_ANSWERS = {"55P03": 503}


def test_documented_errors_are_raised_by_the_sql_with_postgrest_status(entries: list[Entry]) -> None:
    sources = "\n".join(p.read_text() for p in (project.db_dir() / "functions").rglob("*.sql*"))
    for entry in entries:
        rows = re.findall(r"^\| (\w{5}) \| (\w+) \| (\d{3}) \|", entry.body, re.M)
        if "none of its own" not in entry.body:
            assert rows, f"{entry.name}: an errors table, or 'none of its own'"
        for sqlstate, word, status in rows:
            assert re.search(rf"'{sqlstate}'", sources) and re.search(rf"'{word}'", sources), (entry.name, word)
            expected = PGRST_ANSWERS.get(sqlstate) or http_status(sqlstate, authenticated=True)
            assert int(status) == expected, (entry.name, sqlstate, status)


def test_the_metrics_and_buckets_are_the_live_ones(db: psycopg.Connection) -> None:
    text = DOC.read_text()
    metrics_section = text.split("## Metrics and rate-limit buckets", 1)[1].split("\n## ", 1)[0]
    limits = db.execute("select plan_key, metric, soft_limit, hard_limit from public.plan_limits").fetchall()
    rates = db.execute("select plan_key, bucket, max_requests from public.plan_rate_limits").fetchall()

    metrics_text, buckets_text = metrics_section.split("Rate-limit buckets", 1)

    def table(part: str) -> dict[str, dict[str, str]]:
        rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", part, re.M)
        return {name: dict(zip(["free", "pro", "business"], (c.strip() for c in cells), strict=True))
                for name, *cells in rows}

    metrics, buckets = table(metrics_text), table(buckets_text)
    assert set(metrics) == {metric for _, metric, _, _ in limits}
    assert set(buckets) == {bucket for _, bucket, _ in rates}
    for plan, metric, soft, hard in limits:
        assert metrics[metric][plan] == f"{soft:,} / {hard:,}", (plan, metric)
    for plan, bucket, max_requests in rates:
        assert buckets[bucket][plan] == f"{max_requests:,}", (plan, bucket)


def _anchor(heading: str) -> str:
    """GitHub's: lowercase, punctuation but - and _ dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_inside_the_reference_resolve() -> None:
    text = DOC.read_text()
    anchors = {_anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert links
    assert sorted(set(links) - anchors) == []


# What a clone does not have: the owner's documents beside the repository.
OUTSIDE = re.compile(r"\.\./shared|\b(CONTRACT|PRODUCT|STYLE)\.md")
SKIPPED_DIRS = {".git", ".venv", ".opsdb", "__pycache__", ".pytest_cache", "build", "results"}


def test_the_readme_points_at_the_reference_and_nothing_points_outside_the_repository() -> None:
    assert "(docs/api.md)" in (project.root() / "README.md").read_text()
    offending = []
    for folder, dirs, files in os.walk(project.root()):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            offending += [f"{path.relative_to(project.root())}: {m.group(0)}" for m in OUTSIDE.finditer(text)]
    assert offending == []
