"""Test data factories: users, workspaces, memberships, platform admins.

Each factory writes through the superuser connection (as a backend seeding data
would), returns plain values, and is meant to be extended by each domain.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import psycopg

from harness.rpc import Jwt, user

_counter = itertools.count(1)


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str

    @property
    def jwt(self) -> Jwt:
        """The JWT this user's requests carry."""
        return user(self.id, self.email)


@dataclass(frozen=True)
class Workspace:
    id: uuid.UUID
    name: str
    owner: User


class Factories:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def user(self, email: str | None = None) -> User:
        n = next(_counter)
        user_id = uuid.uuid4()
        email = email or f"user{n}-{user_id.hex[:6]}@example.test"
        self.conn.execute(
            "insert into auth.users (id, aud, role, email) values (%s, 'authenticated', 'authenticated', %s)",
            (user_id, email),
        )
        return User(user_id, email)

    def workspace(self, owner: User | None = None, name: str | None = None, plan_key: str = "free") -> Workspace:
        owner = owner or self.user()
        name = name or f"Workspace {next(_counter)}"
        row = self.conn.execute(
            "insert into public.workspaces (name, owner_id, plan_key) values (%s, %s, %s) returning id",
            (name, owner.id, plan_key),
        ).fetchone()
        assert row is not None
        return Workspace(row[0], name, owner)

    def member(self, workspace: Workspace, role: str = "member", member: User | None = None) -> User:
        member = member or self.user()
        self.conn.execute(
            "insert into public.workspace_users (workspace_id, user_id, role) values (%s, %s, %s)"
            " on conflict (workspace_id, user_id) do update set role = excluded.role",
            (workspace.id, member.id, role),
        )
        return member

    def platform_admin(self, admin: User | None = None) -> User:
        admin = admin or self.user()
        self.conn.execute("insert into public.user_roles (user_id, role) values (%s, 'admin')", (admin.id,))
        return admin
