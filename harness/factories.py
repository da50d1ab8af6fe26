"""Test data factories: users, workspaces, memberships, platform admins, agents,
channels, connectors, conversations, messages and API keys.

Each factory writes through the superuser connection (as a backend seeding data
would) and returns plain values; ``api_key`` goes through ``create_api_key`` as
the workspace owner, since only the database may mint a key. ``acting_as`` runs
SQL as a JWT's role with its claims, the way PostgREST does for table requests.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from harness.rpc import Jwt, call, user

_counter = itertools.count(1)
# A row a factory returns: a dataclass whose first field is the row's id, the rest its columns.
_Row = TypeVar("_Row", "Agent", "Channel", "Connector", "Conversation", "Message")


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


@dataclass(frozen=True)
class Agent:
    id: uuid.UUID
    workspace_id: uuid.UUID
    agent_id: str
    phone_number: str | None


@dataclass(frozen=True)
class Channel:
    id: uuid.UUID
    workspace_id: uuid.UUID
    agent_id: uuid.UUID
    channel_type: str
    external_id: str | None


@dataclass(frozen=True)
class Connector:
    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str


@dataclass(frozen=True)
class Conversation:
    id: uuid.UUID
    workspace_id: uuid.UUID
    channel_type: str


@dataclass(frozen=True)
class Message:
    id: uuid.UUID
    workspace_id: uuid.UUID
    conversation_id: uuid.UUID
    body: str | None


@dataclass(frozen=True)
class ApiKey:
    id: uuid.UUID
    workspace_id: uuid.UUID
    raw: str  # shown once by create_api_key; never stored by the database
    prefix: str


@contextmanager
def acting_as(conn: psycopg.Connection, jwt: Jwt) -> Iterator[psycopg.Connection]:
    """One transaction as ``jwt``'s role with its claims (rolled back on error).

    ``conn`` must be in autocommit mode; statements inside run as the API role,
    so grants and RLS apply exactly as they would to a PostgREST request.
    """
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(jwt.role)))
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(jwt.claims()),))
        yield conn


class Factories:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def _insert(self, row: type[_Row], table: str, **values: Any) -> _Row:
        """One row of ``public.<table>`` (a None value leaves the column to its default), returned as ``row``:
        its id as the database chose it, its other fields as inserted."""
        columns = [c for c, v in values.items() if v is not None]
        query = sql.SQL("insert into public.{} ({}) values ({}) returning id").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        params = [Jsonb(values[c]) if isinstance(values[c], dict) else values[c] for c in columns]
        inserted = self.conn.execute(query, params).fetchone()
        assert inserted is not None
        return row(inserted[0], *(values[f.name] for f in fields(row)[1:]))

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

    def support(self, staff: User | None = None) -> User:
        staff = staff or self.user()
        self.conn.execute("insert into public.user_roles (user_id, role) values (%s, 'support')", (staff.id,))
        return staff

    def agent(
        self,
        workspace: Workspace,
        phone_number: str | None = None,
        agent_id: str | None = None,
        status: str = "active",
        provider: str | None = "twilio",
    ) -> Agent:
        """An agent of ``workspace``; ``agent_id`` defaults to a provisioned-looking id."""
        agent_id = agent_id or f"agent_{uuid.uuid4().hex[:12]}"
        return self._insert(
            Agent,
            "agents",
            workspace_id=workspace.id,
            user_id=workspace.owner.id,
            agent_id=agent_id,
            phone_number=phone_number,
            provider=provider,
            status=status,
        )

    def channel(
        self,
        workspace: Workspace,
        agent: Agent | None = None,
        channel_type: str = "whatsapp",
        external_id: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> Channel:
        agent = agent or self.agent(workspace)
        return self._insert(
            Channel,
            "agent_channels",
            workspace_id=workspace.id,
            agent_id=agent.id,
            channel_type=channel_type,
            external_id=external_id,
            config=config or {},
        )

    def connector(
        self,
        workspace: Workspace,
        name: str = "CRM",
        connector_type: str = "hubspot",
        config: dict[str, Any] | None = None,
        secret_ref: str | None = None,
    ) -> Connector:
        return self._insert(
            Connector,
            "connectors",
            workspace_id=workspace.id,
            name=name,
            connector_type=connector_type,
            config_jsonb=config or {},
            secret_ref=secret_ref,
        )

    def conversation(
        self,
        workspace: Workspace,
        channel: Channel | None = None,
        channel_type: str = "whatsapp",
        contact_address: str | None = "+201001234567",
    ) -> Conversation:
        return self._insert(
            Conversation,
            "conversations",
            workspace_id=workspace.id,
            agent_id=channel.agent_id if channel else None,
            channel_id=channel.id if channel else None,
            channel_type=channel.channel_type if channel else channel_type,
            external_thread_id=f"thread-{uuid.uuid4().hex[:12]}",
            contact_address=contact_address,
        )

    def message(
        self,
        conversation: Conversation,
        body: str | None = "Hello",
        direction: str = "inbound",
        sender: str | None = None,
        at: datetime | None = None,
    ) -> Message:
        """A message of ``conversation``; ``at`` sets both when it was written and sent (default: now)."""
        return self._insert(
            Message,
            "messages",
            workspace_id=conversation.workspace_id,
            conversation_id=conversation.id,
            direction=direction,
            sender=sender,
            body=body,
            created_at=at,
            sent_at=at,
        )

    def api_key(
        self,
        workspace: Workspace,
        name: str = "Backend",
        scopes: list[str] | None = None,
        expires_at: str | None = None,
        by: User | None = None,
    ) -> ApiKey:
        """A key minted by ``create_api_key`` as the owner (or ``by``, an owner/admin)."""
        args: dict[str, Any] = {"workspace_id": str(workspace.id), "name": name, "scopes": scopes or []}
        if expires_at is not None:
            args["expires_at"] = expires_at
        result = call(self.conn, "create_api_key", args, as_=(by or workspace.owner).jwt).data
        return ApiKey(uuid.UUID(result["key_id"]), workspace.id, result["api_key"], result["prefix"])
