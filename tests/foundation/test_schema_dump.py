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
    out = schema_dump.normalise(raw)
    assert "restrict" not in out and "SET " not in out and "set_config" not in out
    assert "-- Name: t; Type: TABLE" in out and "CREATE TABLE public.t (id integer);" in out
    assert "\n\n\n" not in out
