"""db/api.toml declares every public function, and the database agrees with it.

The macro in db/functions/_public_api.sql.j2 writes each function from its
declaration; these tests check the result in the catalog (the shape every
public function shares, the parameters, the result, the grants, the comment);
tests/foundation/test_api_reference.py checks docs/api.md against the same file.
"""

from __future__ import annotations

import psycopg
import pytest

from harness import api_declarations, project
from harness.api_declarations import API_ROLES, Declaration


@pytest.fixture(scope="module")
def declared() -> dict[str, Declaration]:
    return api_declarations.load(project.db_dir())


def test_every_public_function_is_declared_and_written_in_the_one_shape(
    db: psycopg.Connection, declared: dict[str, Declaration]
) -> None:
    rows = db.execute(
        """
        select p.proname, l.lanname, p.prosecdef, p.proconfig, p.provolatile,
            pg_catalog.pg_get_function_arguments(p.oid), pg_catalog.pg_get_function_result(p.oid),
            array(select r from unnest(%s::text[]) as r where has_function_privilege(r, p.oid, 'execute')),
            obj_description(p.oid, 'pg_proc')
        from pg_proc as p join pg_language as l on l.oid = p.prolang
        where p.pronamespace = 'public'::regnamespace
        """,
        (list(API_ROLES),),
    ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(declared)
    for name, language, definer, config, volatility, arguments, result, roles, comment in rows:
        f = declared[name]
        assert (language, definer, config) == (f.language, False, ['search_path=""']), name
        assert volatility == {"volatile": "v", "stable": "s"}[f.volatility], name
        assert [a.split(" ", 1)[0] for a in arguments.split(", ") if a] == [p.name for p in f.params], name
        assert set(roles) == set(f.roles), name
        assert comment == f.contract, name
        if not f.returns_set:
            assert result == str(_one(db, "select pg_catalog.format_type(%s::regtype, null)", f.returns)), name


def test_a_declared_lock_subject_answers_a_stuck_lock_through_the_lock_timeout_helper(
    db: psycopg.Connection, declared: dict[str, Declaration]
) -> None:
    assert _one(db, "select pg_catalog.to_regprocedure('private.lock_timeout(text, text)') is not null")
    with_subject = sorted(name for name, f in declared.items() if f.lock_subject)
    assert with_subject, "the write paths that take row locks declare a lock_subject"
    for name in with_subject:
        source = str(_one(db, "select prosrc from pg_proc where oid = %s::regproc", f"public.{name}"))
        assert "exception when lock_not_available then" in source, name
        assert f"return private.lock_timeout('{name}', " in source, name


def _one(db: psycopg.Connection, query: str, *args: object) -> object:
    row = db.execute(query, args).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('[f]\nparams = ["x"]\nreturns = "jsonb"\nroles = ["service_role"]\ncontract = "c"', "name type"),
        ('[f]\nreturns = "jsonb"\nroles = ["postgres"]\ncontract = "c"', "roles are"),
        ('[f]\nreturns = "jsonb"\nroles = []\ncontract = "c"', "roles are"),
        ('[f]\nreturns = "jsonb"\nroles = ["anon"]\ncontract = "c"\nsecurity = "definer"', "unknown key"),
        ('[f]\nreturns = "jsonb"\nroles = ["anon"]\ncontract = "c"\nvolatility = "immutable"', "volatility"),
        ('[f]\nreturns = "jsonb"\nroles = ["anon"]\ncontract = "c"\nlanguage = "sql"\nlock_subject = "x"', "language"),
    ],
)
def test_a_malformed_declaration_is_refused_with_its_name(toml: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as raised:
        api_declarations.parse(toml)
    assert "[f]" in str(raised.value)


def test_a_declaration_reads_its_parameters_and_defaults() -> None:
    f = api_declarations.parse(
        '[g]\nparams = ["a uuid", "b text default \'api\'", "c text[] default \'{}\'"]\n'
        'returns = "setof public.t"\nroles = ["anon", "service_role"]\ncontract = "It\'s g."\nvolatility = "stable"'
    )["g"]
    assert [(p.name, p.type, p.default) for p in f.params] == [("a", "uuid", None), ("b", "text", "'api'"), ("c", "text[]", "'{}'")]
    assert f.types == "uuid, text, text[]" and f.returns_set and f.implementation == "private._g"
