"""db/schema.sql is the committed, normalised dump of what the migrations build."""

from __future__ import annotations

import psycopg

from harness import project, schema_dump


def test_committed_schema_dump_matches_the_migrated_database(db: psycopg.Connection, db_url: str) -> None:
    committed = (project.db_dir() / "schema.sql").read_text()
    fresh = schema_dump.dump(db_url)
    assert fresh == committed, "db/schema.sql is stale: run `make schema` (opsdb schema) and commit it"


def test_normalisation_drops_what_varies_between_runs() -> None:
    raw = (
        "--\n-- PostgreSQL database dump\n--\n\\restrict abc123\nSET statement_timeout = 0;\n"
        "SELECT pg_catalog.set_config('search_path', '', false);\n\n\n\n"
        "-- Name: t; Type: TABLE; Schema: public; Owner: -\n\nCREATE TABLE public.t (id integer);\n\\unrestrict abc123\n"
    )
    out = schema_dump.normalise(raw, {})
    assert "restrict" not in out and "SET " not in out and "set_config" not in out
    assert "-- Name: t; Type: TABLE" in out and "CREATE TABLE public.t (id integer);" in out
    assert "\n\n\n" not in out


def test_function_bodies_give_way_to_the_file_that_holds_them() -> None:
    raw = (
        "-- Name: f(integer); Type: FUNCTION; Schema: private; Owner: -\n\n"
        "CREATE FUNCTION private.f(x integer) RETURNS integer\n    LANGUAGE sql\n    SET search_path TO ''\n"
        "    AS $_$\nselect $1 + 1;\n$_$;\n\n"
        "-- Name: g(); Type: FUNCTION; Schema: public; Owner: -\n\n"
        "CREATE FUNCTION public.g() RETURNS integer\n    LANGUAGE sql\n    AS $$ select 1 $$;\n\n"
        "-- Name: t; Type: TABLE; Schema: public; Owner: -\n\nCREATE TABLE public.t (id integer);\n\n"
        "-- Name: TABLE t; Type: COMMENT; Schema: public; Owner: -\n\nCOMMENT ON TABLE public.t IS 'T.';\n"
    )
    out = schema_dump.normalise(raw, {"private.f": "db/functions/x/f.sql"})
    assert "select" not in out
    assert "    SET search_path TO '';\n    -- body: db/functions/x/f.sql\n" in out
    assert "    LANGUAGE sql;\n    -- body: db/migrations\n" in out
    assert "-- Name: t; Type: TABLE; Schema: public\nCREATE TABLE public.t (id integer);\nCOMMENT ON TABLE public.t IS 'T.';\n" in out
    assert "Type: COMMENT" not in out


def test_every_routine_in_the_dump_names_a_file_of_db_functions() -> None:
    committed = (project.db_dir() / "schema.sql").read_text()
    named = [line.split("-- body: ", 1)[1] for line in committed.splitlines() if "-- body: " in line]
    routines = [line for line in committed.splitlines() if line.startswith(("CREATE FUNCTION", "CREATE PROCEDURE"))]
    assert len(named) == len(routines)
    assert all((project.root() / path).is_file() for path in named), sorted(set(named))
    assert "$$" not in committed
