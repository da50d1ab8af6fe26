"""The splitter must never cut a statement at a semicolon that is not a terminator."""

from pglast import parser

from harness import project
from harness.migrate import discover
from harness.sqlsplit import split


def test_splits_on_terminators_and_reports_start_lines() -> None:
    script = "create table a (x int);\n\n-- comment; not a statement\ninsert into a values (1);\n"
    statements = split(script)
    assert [s.text.splitlines()[-1] for s in statements] == ["create table a (x int)", "insert into a values (1)"]
    assert [s.line for s in statements] == [1, 3]


def test_semicolons_inside_quotes_comments_and_bodies_do_not_split() -> None:
    script = """
select 'a;b', "weird;name", E'it\\'s; here' from t;
/* block; /* nested; */ still comment; */ select 1;
create function f() returns int language plpgsql as $body$
begin
    perform 1; return $$x;$$::text::int;
end
$body$;
create function g() returns int language sql begin atomic select 1; select 2; end;
select $1;
"""
    statements = split(script)
    assert len(statements) == 5
    assert statements[0].text.endswith("from t")
    assert statements[2].text.startswith("create function f()")
    assert statements[2].text.endswith("$body$")
    assert statements[2].line == 4
    assert statements[3].text.endswith("select 2; end")
    assert statements[4].text == "select $1"


def test_trailing_statement_without_semicolon_and_comment_only_tail() -> None:
    statements = split("select 1;\nselect 2\n-- done\n")
    assert [s.text.splitlines()[0] for s in statements] == ["select 1", "select 2"]
    assert split("-- only a comment\n") == []


def test_a_syntax_error_still_splits_every_statement_so_the_server_names_the_line() -> None:
    # The parser cannot split this script; the scanner does, keeping the bad statement.
    statements = split("select 'é→';\n-- c;\nselec 2 $$a;b$$;\nselect 3")
    assert [(s.text, s.line) for s in statements] == [("select 'é→'", 1), ("selec 2 $$a;b$$", 3), ("select 3", 4)]


def _tokens(sql: str) -> list[str]:
    return [sql[t.start : t.end + 1] for t in parser.scan(sql) if t.name not in ("SQL_COMMENT", "C_COMMENT")]


def test_every_project_file_splits_exactly() -> None:
    for f in discover(project.db_dir()):
        statements = split(f.sql)
        for stmt in statements:
            assert len(parser.parse_sql(stmt.text)) == 1, (f.name, stmt.line)
            assert f.sql.splitlines()[stmt.line - 1].strip(), (f.name, stmt.line)
        joined = [tok for stmt in statements for tok in [*_tokens(stmt.text), ";"]]
        assert joined == _tokens(f.sql.rstrip().rstrip(";") + ";"), f.name
