"""agent_channels.config and connectors.config_jsonb refuse secret-looking keys (22023)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.types.json import Jsonb

from harness.factories import Factories, Workspace, acting_as
from harness.rows import scalar

SECRET_CONFIGS = [
    {"token": "abc"},
    {"Secret": "abc"},
    {"PASSWORD": "abc"},
    {"api_key": "abc"},
    {"apiKey": "abc"},
    {"X-Api-Key": "abc"},
    {"access_key": "abc"},
    {"accessToken": "abc"},
    {"private_key": "abc"},
    {"Authorization": "Bearer abc"},
    {"client_secret": "abc"},
    {"webhook": {"signing_secret": "abc"}},
    {"headers": {"nested": {"deeper": {"authorization": "Bearer abc"}}}},
    {"accounts": [{"name": "main"}, {"credentials": {"user": "u"}}]},
]

HARMLESS_CONFIGS = [
    {},
    {"greeting": "Hello", "language": "ar"},
    {"max_tokens": 512, "keyboard_layout": "qwerty", "tokenizer": "cl100k"},
    {"phone_number_id": "123", "nested": {"list": [1, 2, {"label": "x"}]}},
    {"note": "the password is stored in Vault"},
]


@pytest.fixture
def ws(factories: Factories) -> Workspace:
    return factories.workspace()


def _agent(db: psycopg.Connection, ws: Workspace) -> object:
    row = db.execute(
        "insert into public.agents (workspace_id, user_id, agent_id) values (%s, %s, %s) returning id",
        (ws.id, ws.owner.id, f"pending-{ws.owner.id}"),
    ).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("config", SECRET_CONFIGS)
def test_channel_config_refuses_secret_keys_at_any_depth(db: psycopg.Connection, ws: Workspace, config: dict) -> None:
    agent_id = _agent(db, ws)
    with pytest.raises(psycopg.errors.InvalidParameterValue) as err:
        db.execute(
            "insert into public.agent_channels (workspace_id, agent_id, channel_type, config)"
            " values (%s, %s, 'sms', %s)",
            (ws.id, agent_id, Jsonb(config)),
        )
    assert err.value.diag.message_primary == "secret_in_config"
    assert "agent_channels.config" in (err.value.diag.message_detail or "")
    # The error names the path, never the value.
    assert "abc" not in (err.value.diag.message_detail or "")
    assert db.execute("select count(*) from public.agent_channels").fetchone() == (0,)


@pytest.mark.parametrize("config", SECRET_CONFIGS)
def test_connector_config_refuses_secret_keys_at_any_depth(
    db: psycopg.Connection, ws: Workspace, config: dict
) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue) as err:
        db.execute(
            "insert into public.connectors (workspace_id, name, connector_type, config_jsonb)"
            " values (%s, 'CRM', 'hubspot', %s)",
            (ws.id, Jsonb(config)),
        )
    assert err.value.diag.message_primary == "secret_in_config"
    assert db.execute("select count(*) from public.connectors").fetchone() == (0,)


def test_secret_key_added_by_update_is_refused_and_nothing_changes(db: psycopg.Connection, ws: Workspace) -> None:
    connector_id = scalar(
        db,
        "insert into public.connectors (workspace_id, name, connector_type, config_jsonb)"
        " values (%s, 'CRM', 'hubspot', '{\"region\": \"eu\"}') returning id",
        (ws.id,),
    )
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        db.execute(
            "update public.connectors set config_jsonb = config_jsonb || '{\"auth\": {\"refresh_token\": \"x\"}}'"
            " where id = %s",
            (connector_id,),
        )
    assert db.execute("select config_jsonb from public.connectors where id = %s", (connector_id,)).fetchone() == (
        {"region": "eu"},
    )


@pytest.mark.parametrize("config", HARMLESS_CONFIGS)
def test_non_secret_config_is_accepted(db: psycopg.Connection, ws: Workspace, config: dict) -> None:
    agent_id = _agent(db, ws)
    db.execute(
        "insert into public.agent_channels (workspace_id, agent_id, channel_type, config) values (%s, %s, 'sms', %s)",
        (ws.id, agent_id, Jsonb(config)),
    )
    db.execute(
        "insert into public.connectors (workspace_id, name, connector_type, config_jsonb, secret_ref)"
        " values (%s, 'CRM', 'hubspot', %s, 'connector:crm')",
        (ws.id, Jsonb(config)),
    )


def test_secret_in_config_is_refused_for_workspace_admins_too(db: psycopg.Connection, ws: Workspace) -> None:
    agent_id = _agent(db, ws)
    with pytest.raises(psycopg.errors.InvalidParameterValue), acting_as(db, ws.owner.jwt):
        db.execute(
            "insert into public.agent_channels (workspace_id, agent_id, channel_type, config)"
            " values (%s, %s, 'whatsapp', '{\"meta\": {\"accessToken\": \"EAAG\"}}')",
            (ws.id, agent_id),
        )
    assert db.execute("select count(*) from public.agent_channels").fetchone() == (0,)
