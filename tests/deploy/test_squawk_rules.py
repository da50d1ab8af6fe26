"""`opsdb lint` runs squawk over new migrations: one failing example per rule the project relies on."""

from __future__ import annotations

import pytest

from harness import project
from harness.deploy import squawk
from harness.migrate import discover
from tests.support.scratch import ScratchProject

NEW = "migrations/20260201000000_change_things.sql"
EXISTING = "migrations/20260101000000_create_things.sql"
# A table that exists before the migration under test (created by a landed file).
THINGS = "create table public.things (id bigint primary key, c integer, name text);\n"

RULES = {
    "ban-drop-table": "drop table public.things;",
    "ban-drop-column": "alter table public.things drop column c;",
    "ban-drop-constraint": "alter table public.things drop constraint things_pkey;",
    "changing-column-type": "alter table public.things alter column c type bigint;",
    "adding-not-nullable-field": "alter table public.things alter column c set not null;",
    "adding-required-field": "alter table public.things add column d text not null;",
    "renaming-column": "alter table public.things rename column name to title;",
    "renaming-table": "alter table public.things rename to stuff;",
    "require-concurrent-index-creation": "create index things_c_idx on public.things (c);",
    "constraint-missing-not-valid": "alter table public.things add constraint things_c_check check (c > 0);",
    "adding-foreign-key-constraint": (
        "alter table public.things add constraint things_c_fkey foreign key (c) references public.things (id);"
    ),
    "truncate": "truncate public.things;",
}
DESTRUCTIVE = {rule for rule in RULES if rule in squawk.DESTRUCTIVE_RULES}


def _judged(scratch: ScratchProject, sql: str) -> list[squawk.Finding]:
    scratch.write(EXISTING, THINGS)
    (scratch.root / ".squawk.toml").write_text(
        (scratch.root / ".squawk.toml")
        .read_text()
        .replace("excluded_paths = [\n", f'excluded_paths = [\n    "db/{EXISTING}",\n')
    )
    scratch.write(NEW, sql)
    return squawk.findings(scratch.root)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_fails_its_example(scratch: ScratchProject, rule: str) -> None:
    findings = _judged(scratch, RULES[rule] + "\n")

    assert rule in {f.rule for f in findings if f.accepted_by is None}
    assert all(f.file == f"db/{NEW}" and f.line == 1 for f in findings)


@pytest.mark.parametrize("rule", sorted(DESTRUCTIVE))
def test_the_destructive_marker_is_the_reviewed_override(scratch: ScratchProject, rule: str) -> None:
    findings = _judged(scratch, f"-- opsdb:destructive reviewed: {rule}\n{RULES[rule]}\n")

    assert [f.accepted_by for f in findings if f.rule == rule] == [f"reviewed: {rule}"]
    assert [f for f in findings if not f.accepted_by] == []


@pytest.mark.parametrize("rule", ["require-concurrent-index-creation", "constraint-missing-not-valid"])
def test_the_marker_does_not_excuse_a_locking_change(scratch: ScratchProject, rule: str) -> None:
    findings = _judged(scratch, f"-- opsdb:destructive not a reason for locks\n{RULES[rule]}\n")

    assert rule in {f.rule for f in findings if f.accepted_by is None}


def test_a_marker_without_a_reason_accepts_nothing(scratch: ScratchProject) -> None:
    findings = _judged(scratch, "-- opsdb:destructive\ndrop table public.things;\n")

    assert [(f.rule, f.accepted_by) for f in findings] == [("ban-drop-table", None)]


def test_the_safe_forms_pass(scratch: ScratchProject) -> None:
    assert (
        _judged(
            scratch,
            "-- New tables may be built any way; existing ones get NOT VALID (VALIDATE in the next file).\n"
            "create table public.fresh (id bigint primary key, thing_id bigint not null);\n"
            "create index fresh_thing_id_idx on public.fresh (thing_id);\n"
            "alter table public.things add constraint things_c_check check (c > 0) not valid;\n"
            "comment on table public.fresh is 'do not truncate; drop table is in a string';\n",
        )
        == []
    )


def test_a_no_transaction_file_builds_its_index_concurrently(scratch: ScratchProject) -> None:
    scratch.write(EXISTING, THINGS)
    scratch.write(
        "migrations/20260301000000_index_things.sql",
        "-- opsdb:no-transaction\ncreate index concurrently if not exists things_c_idx on public.things (c);\n",
    )
    concurrent_in_a_transaction = "create index concurrently things_name_idx on public.things (name);\n"

    assert squawk.findings(scratch.root, [f for f in discover(scratch.db) if "index_things" in f.name]) == []
    assert "concurrently-in-transaction" in {f.rule for f in _judged(scratch, concurrent_in_a_transaction)}


def test_squawk_ignore_may_not_silence_a_destructive_rule(scratch: ScratchProject) -> None:
    findings = _judged(scratch, "-- squawk-ignore ban-drop-table\ndrop table public.things;\n")

    assert [(f.rule, f.line) for f in findings] == [("squawk-ignore", 1)]
    assert "opsdb:destructive" in findings[0].message


def test_a_landed_migration_squawk_would_refuse_today_is_accepted_as_landed() -> None:
    # 20261122030400 dropped five constraints and two primary keys with no marker.
    trim = [f for f in discover(project.db_dir()) if f.name.startswith("migrations/20261122030400_")]

    today = squawk.findings(project.root(), trim)

    assert len([f for f in today if f.rule == "ban-drop-constraint" and not f.accepted_by]) == 7
    assert f"db/{trim[0].name}" in squawk.accepted(project.root())
    assert trim[0] not in squawk.new_migrations(project.root())


def test_accept_records_clean_new_files_and_refuses_while_one_fails(scratch: ScratchProject) -> None:
    _judged(scratch, "drop table public.things;\n")
    with pytest.raises(RuntimeError, match="cannot accept: 1 squawk finding"):
        squawk.accept(scratch.root)
    scratch.write(NEW, "-- opsdb:destructive things are retired\ndrop table public.things;\n")

    assert squawk.accept(scratch.root) == [f"db/{NEW}"]

    assert squawk.new_migrations(scratch.root) == []
    assert f"db/{NEW}" in squawk.accepted(scratch.root)
