"""Workspaces and memberships: who may create, join, re-role and leave."""

from __future__ import annotations

import psycopg
import pytest

from harness.factories import Factories, Workspace, acting_as


@pytest.fixture
def ws(factories: Factories) -> Workspace:
    return factories.workspace()


def role_of(db: psycopg.Connection, ws: Workspace, user_id: object) -> str | None:
    row = db.execute(
        "select role from public.workspace_users where workspace_id = %s and user_id = %s", (ws.id, user_id)
    ).fetchone()
    return row[0] if row else None


def test_signed_in_user_creates_a_workspace_and_becomes_its_owner(db: psycopg.Connection, factories: Factories) -> None:
    me = factories.user()
    with acting_as(db, me.jwt):
        # supabase-js insert().select(): the new row must be readable at once.
        row = db.execute(
            "insert into public.workspaces (name, owner_id) values ('Mine', %s) returning id, plan_key, status",
            (me.id,),
        ).fetchone()
    assert row is not None and row[1:] == ("free", "active")
    assert db.execute(
        "select user_id, role from public.workspace_users where workspace_id = %s", (row[0],)
    ).fetchall() == [(me.id, "owner")]


def test_nobody_creates_a_workspace_on_a_paid_plan_or_for_someone_else(
    db: psycopg.Connection, factories: Factories
) -> None:
    me, other = factories.user(), factories.user()
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, me.jwt):
        db.execute("insert into public.workspaces (name, owner_id, plan_key) values ('x', %s, 'business')", (me.id,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, me.jwt):
        db.execute("insert into public.workspaces (name, owner_id) values ('x', %s)", (other.id,))
    assert db.execute("select count(*) from public.workspaces").fetchone() == (0,)


def test_workspace_admin_adds_members_but_never_an_owner(
    db: psycopg.Connection, factories: Factories, ws: Workspace
) -> None:
    admin = factories.member(ws, "admin")
    newcomer, would_be_owner = factories.user(), factories.user()
    with acting_as(db, admin.jwt):
        db.execute(
            "insert into public.workspace_users (workspace_id, user_id, role) values (%s, %s, 'member')",
            (ws.id, newcomer.id),
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, admin.jwt):
        db.execute(
            "insert into public.workspace_users (workspace_id, user_id, role) values (%s, %s, 'owner')",
            (ws.id, would_be_owner.id),
        )
    assert (role_of(db, ws, newcomer.id), role_of(db, ws, would_be_owner.id)) == ("member", None)


def test_admins_cannot_promote_to_owner_nor_demote_or_remove_the_owner(
    db: psycopg.Connection, factories: Factories, ws: Workspace
) -> None:
    admin = factories.member(ws, "admin")
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, admin.jwt):
        db.execute(
            "update public.workspace_users set role = 'owner' where workspace_id = %s and user_id = %s",
            (ws.id, admin.id),
        )
    with acting_as(db, admin.jwt):
        demoted = db.execute(
            "update public.workspace_users set role = 'member' where workspace_id = %s and user_id = %s",
            (ws.id, ws.owner.id),
        ).rowcount
        removed = db.execute(
            "delete from public.workspace_users where workspace_id = %s and user_id = %s", (ws.id, ws.owner.id)
        ).rowcount
    assert (demoted, removed) == (0, 0)
    assert (role_of(db, ws, admin.id), role_of(db, ws, ws.owner.id)) == ("admin", "owner")


def test_members_cannot_add_or_re_role_anyone(db: psycopg.Connection, factories: Factories, ws: Workspace) -> None:
    member, colleague = factories.member(ws, "member"), factories.member(ws, "member")
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, member.jwt):
        db.execute(
            "insert into public.workspace_users (workspace_id, user_id, role) values (%s, %s, 'member')",
            (ws.id, factories.user().id),
        )
    with acting_as(db, member.jwt):
        changed = db.execute(
            "update public.workspace_users set role = 'admin' where workspace_id = %s", (ws.id,)
        ).rowcount
    assert changed == 0
    assert (role_of(db, ws, member.id), role_of(db, ws, colleague.id)) == ("member", "member")


def test_a_member_may_leave_but_the_owner_may_not(db: psycopg.Connection, factories: Factories, ws: Workspace) -> None:
    member = factories.member(ws, "member")
    with acting_as(db, member.jwt):
        left = db.execute(
            "delete from public.workspace_users where workspace_id = %s and user_id = %s", (ws.id, member.id)
        ).rowcount
    with acting_as(db, ws.owner.jwt):
        owner_left = db.execute(
            "delete from public.workspace_users where workspace_id = %s and user_id = %s", (ws.id, ws.owner.id)
        ).rowcount
    assert (left, owner_left) == (1, 0)
    assert role_of(db, ws, ws.owner.id) == "owner"


def test_members_see_only_their_workspaces(db: psycopg.Connection, factories: Factories) -> None:
    mine, theirs = factories.workspace(), factories.workspace()
    member = factories.member(mine, "member")
    with acting_as(db, member.jwt):
        visible = db.execute("select id from public.workspaces").fetchall()
        people = db.execute("select distinct workspace_id from public.workspace_users").fetchall()
    assert visible == [(mine.id,)] and people == [(mine.id,)]
    assert theirs.id not in {v for (v,) in visible}
