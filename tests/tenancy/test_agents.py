"""Agents carry the checklist's canonical fields, with the rules the database enforces."""

from __future__ import annotations

import time

import psycopg
import pytest

from harness.factories import Factories, Workspace, acting_as
from harness.rows import one


@pytest.fixture
def ws(factories: Factories) -> Workspace:
    return factories.workspace()


def insert_agent(db: psycopg.Connection, ws: Workspace, **values: object) -> object:
    values = {"workspace_id": ws.id, "user_id": ws.owner.id, "agent_id": f"pending-{ws.owner.id}", **values}
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    row = db.execute(
        f"insert into public.agents ({columns}) values ({placeholders}) returning id", list(values.values())
    ).fetchone()
    assert row is not None
    return row[0]


def test_agent_has_every_canonical_checklist_field(db: psycopg.Connection) -> None:
    columns = {
        name
        for (name,) in db.execute(
            "select column_name from information_schema.columns where table_schema = 'public' and table_name = 'agents'"
        ).fetchall()
    }
    canonical = {
        "phone_number", "user_id", "agent_id", "provider_number_id", "deploy_request_id", "nickname",
        "status", "is_active", "created_at", "updated_at", "provisioned_by", "provider",
    }  # fmt: skip
    assert canonical <= columns


@pytest.mark.parametrize("phone", ["01001234567", "+0201001234567", "+20 100 123 4567", "+12345", "+1234567890123456"])
def test_phone_number_must_be_e164(db: psycopg.Connection, ws: Workspace, phone: str) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue) as err:
        insert_agent(db, ws, phone_number=phone)
    assert err.value.diag.message_primary == "invalid_phone_number"
    assert db.execute("select count(*) from public.agents").fetchone() == (0,)


def test_e164_number_is_accepted(db: psycopg.Connection, ws: Workspace) -> None:
    insert_agent(db, ws, phone_number="+201001234567")


def test_agent_id_holds_the_pending_placeholder_of_its_own_user_only(
    db: psycopg.Connection, factories: Factories, ws: Workspace
) -> None:
    other = factories.user()
    with pytest.raises(psycopg.errors.CheckViolation):
        insert_agent(db, ws, agent_id=f"pending-{other.id}")
    agent = insert_agent(db, ws)
    db.execute(
        "update public.agents set agent_id = 'agent_abc', status = 'active', provider_number_id = 'PN1',"
        " deploy_request_id = 'dr-1', provisioned_by = 'provisioner' where id = %s",
        (agent,),
    )


def test_a_phone_number_belongs_to_at_most_one_active_agent(db: psycopg.Connection, factories: Factories) -> None:
    ws_a, ws_b = factories.workspace(), factories.workspace()
    first = insert_agent(db, ws_a, phone_number="+201001234567")
    with pytest.raises(psycopg.errors.UniqueViolation):
        insert_agent(db, ws_b, phone_number="+201001234567")
    db.execute("update public.agents set is_active = false where id = %s", (first,))
    insert_agent(db, ws_b, phone_number="+201001234567")  # released numbers can move


def test_a_moved_number_leaves_its_old_agent_so_switching_it_back_on_takes_nothing(
    db: psycopg.Connection, factories: Factories
) -> None:
    ws_a, ws_b = factories.workspace(), factories.workspace()
    number = "+201001234568"
    old = insert_agent(db, ws_a, phone_number=number)
    db.execute("update public.agents set is_active = false, status = 'paused' where id = %s", (old,))
    new = insert_agent(db, ws_b, user_id=ws_b.owner.id, agent_id=f"pending-{ws_b.owner.id}", phone_number=number)
    db.execute("update public.agents set is_active = false, status = 'paused' where id = %s", (new,))  # B pauses

    with acting_as(db, ws_a.owner.jwt):  # A switches its old agent back on
        db.execute("update public.agents set is_active = true, status = 'active' where id = %s", (old,))
    db.execute("update public.agents set is_active = true, status = 'active' where id = %s", (new,))  # B resumes

    assert db.execute("select phone_number from public.agents where id = %s", (old,)).fetchone() == (None,)
    routed = db.execute("select workspace_id from private.resolve_agent_number(%s, 'sms')", (number,)).fetchone()
    assert routed == (ws_b.id,)


def test_updated_at_is_maintained_by_trigger_for_every_writer(db: psycopg.Connection, ws: Workspace) -> None:
    agent = insert_agent(db, ws)
    read = "select updated_at from public.agents where id = %s"
    (created,) = one(db, read, (agent,))
    time.sleep(0.01)
    with acting_as(db, ws.owner.jwt):
        db.execute("update public.agents set nickname = 'Reception', updated_at = '2000-01-01' where id = %s", (agent,))
    (updated,) = one(db, read, (agent,))
    assert updated > created


def test_channel_types_are_the_five_supported(db: psycopg.Connection, factories: Factories, ws: Workspace) -> None:
    agent = factories.agent(ws)
    for channel_type in ("whatsapp", "messenger", "webchat", "sms", "voice"):
        factories.channel(ws, agent, channel_type=channel_type)
    with pytest.raises(psycopg.errors.CheckViolation):
        factories.channel(ws, agent, channel_type="telegram")
