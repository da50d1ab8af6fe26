"""The Supabase compatibility layer imitates Supabase, and steps aside on Supabase."""

from __future__ import annotations

import json

import psycopg
import pytest

from harness import compat


def _as(conn: psycopg.Connection, role: str, claims: object | None, query: str, *params: object) -> object:
    with conn.transaction():
        conn.execute(f"set local role {role}")
        if claims is not None:
            conn.execute(
                "select set_config('request.jwt.claims', %s, true)",
                (claims if isinstance(claims, str) else json.dumps(claims),),
            )
        row = conn.execute(query, params or None).fetchone()
        return row[0] if row else None


def test_auth_uid_and_jwt_follow_the_claims(db: psycopg.Connection) -> None:
    claims = {"sub": "9b1f8a52-45a3-4c39-9a57-2a1d27f3c0de", "role": "authenticated", "email": "a@example.test"}

    assert _as(db, "authenticated", claims, "select auth.uid()::text") == claims["sub"]
    assert _as(db, "authenticated", claims, "select auth.role()") == "authenticated"
    assert _as(db, "authenticated", claims, "select auth.email()") == "a@example.test"
    assert _as(db, "authenticated", claims, "select auth.jwt()") == claims


def test_legacy_sub_claim_wins_like_supabase(db: psycopg.Connection) -> None:
    with db.transaction():
        db.execute("select set_config('request.jwt.claim.sub', '11111111-1111-1111-1111-111111111111', true)")
        db.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps({"sub": "22222222-2222-2222-2222-222222222222"}),))
        assert db.execute("select auth.uid()::text").fetchone() == ("11111111-1111-1111-1111-111111111111",)


def test_empty_settings_read_as_null(db: psycopg.Connection) -> None:
    assert _as(db, "anon", "", "select auth.uid()") is None
    assert _as(db, "anon", "", "select auth.jwt()") is None
    assert _as(db, "anon", "", "select auth.role()") is None
    with db.transaction():
        db.execute("select set_config('request.jwt.claim.sub', '', true)")
        assert db.execute("select auth.uid(), auth.jwt()").fetchone() == (None, None)


def test_service_role_bypasses_rls_and_authenticated_does_not(db: psycopg.Connection) -> None:
    db.execute("create table public.rls_probe (id int)")
    db.execute("alter table public.rls_probe enable row level security")
    db.execute("grant select on public.rls_probe to authenticated, service_role")
    db.execute("insert into public.rls_probe values (1), (2)")

    assert _as(db, "service_role", {"role": "service_role"}, "select count(*) from public.rls_probe") == 2
    assert _as(db, "authenticated", {"role": "authenticated"}, "select count(*) from public.rls_probe") == 0


def test_roles_match_supabase(db: psycopg.Connection) -> None:
    rows = {
        name: flags
        for name, *flags in db.execute(
            "select rolname, rolcanlogin, rolbypassrls, rolinherit from pg_roles"
            " where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')"
        ).fetchall()
    }
    assert rows == {
        "anon": [False, False, False],
        "authenticated": [False, False, False],
        "service_role": [False, True, False],
        "authenticator": [True, False, False],
    }
    members = db.execute(
        "select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid"
        " join pg_roles u on u.oid = m.member where u.rolname = 'authenticator' order by 1"
    ).fetchall()
    assert [m[0] for m in members] == ["anon", "authenticated", "service_role"]
    settings = db.execute(
        "select s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole"
        " where r.rolname = 'authenticator' and s.setdatabase = 0"
    ).fetchone()
    assert settings is not None and "pgrst.db_schemas=public" in settings[0]


def test_vault_round_trips_a_secret_only_for_service_role(db: psycopg.Connection) -> None:
    secret_id = _as(
        db, "service_role", {"role": "service_role"}, "select vault.create_secret('s3cr3t-value', 'probe_secret', 'a probe')"
    )
    assert secret_id is not None
    assert (
        _as(
            db,
            "service_role",
            {"role": "service_role"},
            "select decrypted_secret from vault.decrypted_secrets where name = 'probe_secret'",
        )
        == "s3cr3t-value"
    )
    stored = db.execute("select secret from vault.secrets where name = 'probe_secret'").fetchone()
    assert stored is not None and "s3cr3t-value" not in stored[0]

    for role in ("anon", "authenticated"):
        for query in (
            "select decrypted_secret from vault.decrypted_secrets",
            "select secret from vault.secrets",
            "select vault._decrypt('x')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                _as(db, role, {"role": role}, query)


def test_vault_key_lives_in_a_file_not_in_any_table(db: psycopg.Connection) -> None:
    db.execute("select vault.create_secret('another-secret', 'probe_two')")
    key = db.execute("select vault._key()").fetchone()
    assert key is not None and len(key[0]) == 64
    assert db.execute("select (pg_stat_file('opsdb_vault.key', true)).size > 0").fetchone() == (True,)
    tables = db.execute(
        "select format('%I.%I', schemaname, tablename) from pg_tables"
        " where schemaname not in ('pg_catalog', 'information_schema')"
    ).fetchall()
    for (table,) in tables:
        hit = db.execute(f"select count(*) from {table} t where t::text like '%%' || %s || '%%'", (key[0],)).fetchone()
        assert hit == (0,), table
    for role in ("service_role", "authenticated"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _as(db, role, {"role": role}, "select vault._key()")


def test_layer_installs_on_a_plain_database(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert compat.install(conn) is True
        assert compat.is_compat_layer(conn)
        assert conn.execute("select to_regclass('auth.users') is not null, to_regclass('vault.secrets') is not null").fetchone() == (True, True)


def test_layer_is_skipped_when_supabase_objects_exist(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        # A stand-in for Supabase's own auth schema, with its own uid().
        conn.execute("create schema auth")
        conn.execute("create function auth.uid() returns uuid language sql as $$ select '00000000-0000-0000-0000-0000000000aa'::uuid $$")

        assert compat.install(conn) is False

        assert not compat.is_compat_layer(conn)
        assert conn.execute("select auth.uid()::text").fetchone() == ("00000000-0000-0000-0000-0000000000aa",)
        assert conn.execute("select to_regclass('auth.users'), to_regnamespace('vault')").fetchone() == (None, None)


def _s2k_mode(db: psycopg.Connection, name: str) -> int:
    """The S2K type of a stored secret (byte 4 of its first packet, RFC 4880)."""
    row = db.execute("select get_byte(decode(secret, 'base64'), 4) from vault.secrets where name = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def test_vault_secrets_are_salted_not_stretched_and_old_ones_are_re_encrypted(db: psycopg.Connection) -> None:
    db.execute("select vault.create_secret('new-value', 'probe_new')")
    db.execute("select vault.update_secret((select id from vault.secrets where name = 'probe_new'), 'newer-value')")
    # A secret written by a layer installed before its writers used s2k-mode 1: the default, stretched form.
    db.execute(
        "insert into vault.secrets (name, secret) values"
        " ('probe_old', encode(extensions.pgp_sym_encrypt('old-value', vault._key()), 'base64'))"
    )
    assert (_s2k_mode(db, "probe_new"), _s2k_mode(db, "probe_old")) == (1, 3)
    decrypted = "select name, decrypted_secret from vault.decrypted_secrets where name like 'probe_%' order by name"
    assert db.execute(decrypted).fetchall() == [("probe_new", "newer-value"), ("probe_old", "old-value")]
    # The integrity check is kept: the data packet is tag 18, with MDC (new-format header 0xD2).
    data_tag = db.execute(
        "select get_byte(decode(secret, 'base64'), 2 + get_byte(decode(secret, 'base64'), 1))"
        " from vault.secrets where name = 'probe_new'"
    ).fetchone()
    assert data_tag == (0xD2,)

    untouched = db.execute("select secret from vault.secrets where name = 'probe_new'").fetchone()
    assert compat.upgrade(db) is True
    assert (_s2k_mode(db, "probe_new"), _s2k_mode(db, "probe_old")) == (1, 1)
    assert db.execute(decrypted).fetchall() == [("probe_new", "newer-value"), ("probe_old", "old-value")]
    assert db.execute("select secret from vault.secrets where name = 'probe_new'").fetchone() == untouched


def test_the_vault_upgrade_leaves_a_database_without_the_layer_alone(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("create schema auth")  # Supabase's own
        assert compat.upgrade(conn) is False
        assert conn.execute("select to_regnamespace('vault')").fetchone() == (None,)
