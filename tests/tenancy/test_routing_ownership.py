"""A workspace routes only its own deliveries: its admins cannot reach another tenant's agents or numbers.

Ingestion finds a delivery's workspace by agents.phone_number (Twilio) and by
agent_channels (channel_type, external_id) (Meta), and a channel's agent decides
whether a number's deliveries are acted on. Those keys are provisioning's
(service_role), and a channel's agent is always of the channel's workspace.
"""

from __future__ import annotations

import psycopg
import pytest

from harness.factories import Agent, Factories, Workspace, acting_as
from harness.rows import one, scalar
from harness.rpc import SERVICE_ROLE


@pytest.fixture
def mine(factories: Factories) -> Workspace:
    return factories.workspace(name="W1")


@pytest.fixture
def theirs(factories: Factories) -> Workspace:
    return factories.workspace(name="W2")


def skip_reason(db: psycopg.Connection, number: str, channel_type: str = "sms") -> tuple[object, ...]:
    row = db.execute(
        "select workspace_id, skip_reason from private.resolve_agent_number(%s, %s)", (number, channel_type)
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_admin_cannot_attach_a_channel_to_another_workspaces_agent(
    db: psycopg.Connection, factories: Factories, mine: Workspace, theirs: Workspace
) -> None:
    victim = factories.agent(theirs, phone_number="+15550100001")
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as err, acting_as(db, mine.owner.jwt):
        db.execute(
            "insert into public.agent_channels (workspace_id, agent_id, channel_type, is_active)"
            " values (%s, %s, 'sms', false)",
            (mine.id, victim.id),
        )
    assert err.value.diag.constraint_name == "agent_channels_agent_in_workspace_fkey"
    # Nor by re-pointing a channel the admin already has.
    own = factories.channel(mine, factories.agent(mine), channel_type="sms")
    with pytest.raises(psycopg.errors.ForeignKeyViolation), acting_as(db, mine.owner.jwt):
        db.execute("update public.agent_channels set agent_id = %s where id = %s", (victim.id, own.id))
    assert skip_reason(db, "+15550100001") == (theirs.id, None)  # W2's SMS are still acted on


def test_admin_cannot_take_another_workspaces_number(
    db: psycopg.Connection, factories: Factories, mine: Workspace, theirs: Workspace
) -> None:
    number = "+15550100002"
    paused = factories.agent(theirs, phone_number=number)
    db.execute("update public.agents set is_active = false, status = 'paused' where id = %s", (paused.id,))
    own = factories.agent(mine)
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as err, acting_as(db, mine.owner.jwt):
        db.execute("update public.agents set phone_number = %s where id = %s", (number, own.id))
    assert "permission denied for table agents" in str(err.value)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, mine.owner.jwt):
        db.execute(
            "insert into public.agents (workspace_id, user_id, agent_id, phone_number) values (%s, %s, %s, %s)",
            (mine.id, mine.owner.id, f"pending-{mine.owner.id}", number),
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, mine.owner.jwt):
        db.execute("update public.agents set provider_number_id = 'PN-theirs' where id = %s", (own.id,))
    # W2 resumes its agent and gets its number's deliveries again.
    with acting_as(db, theirs.owner.jwt):
        db.execute("update public.agents set is_active = true, status = 'active' where id = %s", (paused.id,))
    assert skip_reason(db, number) == (theirs.id, None)


def test_admin_cannot_claim_a_channel_id(
    db: psycopg.Connection, factories: Factories, mine: Workspace, theirs: Workspace
) -> None:
    own = factories.channel(mine, factories.agent(mine), channel_type="whatsapp")
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, mine.owner.jwt):
        db.execute("update public.agent_channels set external_id = 'wa-theirs' where id = %s", (own.id,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, mine.owner.jwt):
        db.execute(
            "insert into public.agent_channels (workspace_id, agent_id, channel_type, external_id)"
            " values (%s, %s, 'messenger', 'page-theirs')",
            (mine.id, own.agent_id),
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, mine.owner.jwt):
        db.execute("update public.agent_channels set channel_type = 'messenger' where id = %s", (own.id,))


def test_workspace_admin_manages_agents_and_channels_and_provisioning_routes_them(
    db: psycopg.Connection, factories: Factories, mine: Workspace
) -> None:
    admin = factories.member(mine, "admin")
    other_id = factories.agent(mine).id
    with acting_as(db, admin.jwt):
        agent_id = scalar(
            db,
            "insert into public.agents (workspace_id, user_id, agent_id, nickname) values (%s, %s, %s, 'Desk')"
            " returning id",
            (mine.id, admin.id, f"pending-{admin.id}"),
        )
        channel_id = scalar(
            db,
            "insert into public.agent_channels (workspace_id, agent_id, channel_type, config, secret_ref)"
            " values (%s, %s, 'whatsapp', '{\"greeting\": \"hi\"}', 'wa_token_w1') returning id",
            (mine.id, agent_id),
        )
        db.execute("update public.agents set nickname = 'Front desk', is_active = false, status = 'paused'"
                   " where id = %s", (agent_id,))  # fmt: skip
        db.execute("update public.agents set is_active = true, status = 'active' where id = %s", (agent_id,))
        db.execute(
            "update public.agent_channels set config = '{}', is_active = false, agent_id = %s where id = %s",
            (other_id, channel_id),
        )
        db.execute("update public.agent_channels set agent_id = %s, is_active = true where id = %s",
                   (agent_id, channel_id))  # fmt: skip
    with acting_as(db, SERVICE_ROLE):
        db.execute(
            "update public.agents set agent_id = 'agent_w1', phone_number = '+15550100003', provider = 'twilio',"
            " provider_number_id = 'PN1', provisioned_by = 'provisioner' where id = %s",
            (agent_id,),
        )
        db.execute("update public.agent_channels set external_id = 'wa-w1' where id = %s", (channel_id,))
    assert skip_reason(db, "+15550100003", "whatsapp")[0] == mine.id
    assert db.execute("select workspace_id from private.resolve_channel('whatsapp', 'wa-w1')").fetchone() == (
        mine.id,
    )
    with acting_as(db, admin.jwt):
        assert db.execute("delete from public.agent_channels where id = %s", (channel_id,)).rowcount == 1
        assert db.execute("delete from public.agents where id = %s", (agent_id,)).rowcount == 1


def test_conversations_stay_in_their_agents_workspace(
    db: psycopg.Connection, factories: Factories, mine: Workspace, theirs: Workspace
) -> None:
    agent: Agent = factories.agent(theirs)
    channel = factories.channel(theirs, agent, channel_type="sms")
    insert = (
        "insert into public.conversations (workspace_id, agent_id, channel_id, channel_type, external_thread_id)"
        " values (%s, %s, %s, 'sms', %s) returning id"
    )
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute(insert, (mine.id, agent.id, None, "t1"))
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute(insert, (mine.id, None, channel.id, "t2"))
    (conversation,) = one(db, insert, (theirs.id, agent.id, channel.id, "t3"))
    # Deleting the agent clears the conversation's reference and keeps its workspace.
    db.execute("delete from public.agents where id = %s", (agent.id,))
    assert db.execute(
        "select workspace_id, agent_id, channel_id from public.conversations where id = %s", (conversation,)
    ).fetchone() == (theirs.id, None, None)


def test_users_create_pending_agents_and_only_provisioning_sets_the_provider_id(
    db: psycopg.Connection, factories: Factories, mine: Workspace, theirs: Workspace
) -> None:
    owner = mine.owner
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as err, acting_as(db, owner.jwt):
        # The id theirs' provisioning is about to write: reserving it would block that.
        db.execute(
            "insert into public.agents (workspace_id, user_id, agent_id) values (%s, %s, 'agent_theirs_001')",
            (mine.id, owner.id),
        )
    assert err.value.diag.message_primary == "agent_id_reserved_for_provisioning"
    with acting_as(db, owner.jwt):
        row = db.execute(
            "insert into public.agents (workspace_id, user_id, agent_id) values (%s, %s, %s) returning id",
            (mine.id, owner.id, f"pending-{owner.id}"),
        ).fetchone()
    assert row is not None
    with acting_as(db, SERVICE_ROLE):
        db.execute(
            "insert into public.agents (workspace_id, user_id, agent_id) values (%s, %s, 'agent_theirs_001')",
            (theirs.id, theirs.owner.id),
        )
        db.execute("update public.agents set agent_id = 'agent_mine_001' where id = %s", (row[0],))
    assert db.execute("select agent_id from public.agents where id = %s", (row[0],)).fetchone() == ("agent_mine_001",)
