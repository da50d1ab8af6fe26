"""The splitter must never cut a statement at a semicolon that is not a terminator."""

from harness.sqlsplit import split


def test_splits_on_terminators_and_reports_start_lines() -> None:
    script = "create table a (x int);\n\n-- comment; not a statement\ninsert into a values (1);\n"
    statements = split(script)
    assert [s.text for s in statements] == [
        "create table a (x int);",
        "-- comment; not a statement\ninsert into a values (1);",
    ]
    assert [s.line for s in statements] == [1, 3]


def test_semicolons_inside_quotes_comments_and_dollar_bodies_do_not_split() -> None:
    script = """
select 'a;b', "weird;name" from t;
/* block; /* nested; */ still comment; */ select 1;
create function f() returns int language plpgsql as $body$
begin
    perform 1; return $$x;$$::text::int;
end
$body$;
select $1;
"""
    statements = split(script)
    assert len(statements) == 4
    assert statements[2].text.startswith("create function f()")
    assert statements[2].text.endswith("$body$;")
    assert statements[2].line == 4
    assert statements[3].text == "select $1;"


def test_trailing_statement_without_semicolon_and_comment_only_tail() -> None:
    statements = split("select 1;\nselect 2\n-- done\n")
    assert [s.text for s in statements] == ["select 1;", "select 2\n-- done"]
    assert split("-- only a comment\n") == []
