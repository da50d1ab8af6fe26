"""Message and SMS bodies: members read their workspace's in full; platform staff see them masked."""

from __future__ import annotations

import psycopg
import pytest

from harness.factories import Factories, Message, User, Workspace, acting_as

BODY = "Call me on +201001234567 or mail mona@example.com"


@pytest.fixture
def ws(factories: Factories) -> Workspace:
    return factories.workspace()


@pytest.fixture
def message(factories: Factories, ws: Workspace) -> Message:
    return factories.message(factories.conversation(ws, contact_address="+201001234567"), body=BODY, sender="Mona")


def read(db: psycopg.Connection, who: User, query: str) -> list[tuple]:
    with acting_as(db, who.jwt):
        return db.execute(query).fetchall()


def test_members_read_their_workspace_message_bodies_in_full(
    db: psycopg.Connection, factories: Factories, ws: Workspace, message: Message
) -> None:
    member = factories.member(ws, "member")
    assert read(db, member, "select body from public.messages") == [(BODY,)]


@pytest.mark.parametrize("staff", ["platform_admin", "support"])
def test_platform_staff_see_bodies_masked(
    db: psycopg.Connection, factories: Factories, message: Message, staff: str
) -> None:
    who = factories.platform_admin() if staff == "platform_admin" else factories.support()
    assert read(db, who, "select body from public.messages") == []
    [(body, sender)] = read(db, who, "select body, sender from public.messages_masked")
    assert body == "C*** m* o* +************ o* m*** m***************"
    assert sender == "M***"
    assert "1234567" not in body and "example.com" not in body
    [(address,)] = read(db, who, "select contact_address from public.conversations_masked")
    assert address == "+************"


@pytest.fixture
def sms(db: psycopg.Connection, ws: Workspace) -> None:
    db.execute(
        "insert into public.sms_events (workspace_id, message_sid, sms_status, direction, from_number, to_number, body)"
        " values (%s, 'SM1', 'received', 'inbound', '+201001234567', '+15550100001', %s)",
        (ws.id, BODY),
    )


def test_members_read_their_workspace_sms_in_full(
    db: psycopg.Connection, factories: Factories, ws: Workspace, sms: None
) -> None:
    member = factories.member(ws, "member")
    assert read(db, member, "select body, from_number from public.sms_events") == [(BODY, "+201001234567")]
    assert read(db, factories.workspace().owner, "select body from public.sms_events") == []


@pytest.mark.parametrize("staff", ["platform_admin", "support"])
def test_platform_staff_see_sms_bodies_and_numbers_masked(
    db: psycopg.Connection, factories: Factories, ws: Workspace, sms: None, staff: str
) -> None:
    who = factories.platform_admin() if staff == "platform_admin" else factories.support()
    assert read(db, who, "select body from public.sms_events") == []
    [(workspace_id, status, body, sender, receiver)] = read(
        db, who, "select workspace_id, sms_status, body, from_number, to_number from public.sms_events_masked"
    )
    assert (workspace_id, status) == (ws.id, "received")
    assert body == "C*** m* o* +************ o* m*** m***************"
    assert (sender, receiver) == ("+************", "+***********")


def test_members_and_other_workspaces_get_nothing_from_the_staff_views(
    db: psycopg.Connection, factories: Factories, ws: Workspace, message: Message
) -> None:
    for who in (ws.owner, factories.workspace().owner):
        assert read(db, who, "select * from public.messages_masked") == []
        assert read(db, who, "select * from public.conversations_masked") == []
        assert read(db, who, "select * from public.sms_events_masked") == []


def test_anon_cannot_read_the_staff_views(db: psycopg.Connection, message: Message) -> None:
    from harness.rpc import ANON

    for view in ("messages_masked", "sms_events_masked"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, ANON):
            db.execute(f"select * from public.{view}")


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (None, None),
        ("", ""),
        ("ok", "o*"),
        ("مرحبا بك", "م**** ب*"),
        ("line one\nline two", "l*** o**\nl*** t**"),
    ],
)
def test_mask_keeps_shape_but_not_content(db: psycopg.Connection, raw: str | None, masked: str | None) -> None:
    assert db.execute("select private.mask_pii(%s)", (raw,)).fetchone() == (masked,)
