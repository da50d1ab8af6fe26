"""pg_cron on the target: is it there, can its jobs connect, and what to do when not.

The files in ``db/cron/`` schedule jobs by name. Their state is the database's,
not only the history's: a cron file whose jobs are missing from ``cron.job`` is
applied again by the next ``opsdb migrate`` (pg_cron added after the first
migrate, a job removed by hand), and where pg_cron is not installed the files
wait instead of being recorded as applied. The runner, ``opsdb status`` and
``opsdb audit`` share these answers.

pg_cron runs each job through a new libpq connection to ``cron.host`` (default
``localhost``) on the server's port, as the job's owner, without a password,
unless ``cron.use_background_workers`` is on. On a stock server whose
pg_hba.conf asks for a password on localhost, every job then fails with
``connection failed``; :func:`connection_problems` finds that before the first
run (from pg_hba.conf) and after it (from ``cron.job_run_details``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg

SCHEDULE_CALL = re.compile(r"schedule_job\(\s*'([^']+)'")
# private.schedule_job('name', 'schedule', $$command$$), as the db/cron/ files write it.
SCHEDULE_FULL = re.compile(r"schedule_job\(\s*'([^']+)',\s*'([^']*)',\s*\$\$(.*?)\$\$", re.S)
PASSWORD_METHODS = ("md5", "scram-sha-256", "password", "ldap", "radius", "pam", "bsd", "gss", "sspi", "cert")
# What pg_cron writes into cron.job_run_details.return_message when it cannot open the job's connection.
CONNECTION_FAILURES = ("connection failed", "job startup timeout", "could not start background process")
RESCHEDULE_HINT = "then run `.venv/bin/opsdb migrate` again: it schedules every job of db/cron/"


def job_names(sql: str) -> list[str]:
    """The job names a cron file schedules (``private.schedule_job('name', ...)``)."""
    return SCHEDULE_CALL.findall(sql)


@dataclass(frozen=True)
class CronJob:
    name: str  # pg_cron's job name (job_runs names it with _ for -)
    schedule: str  # cron expression, UTC
    command: str


def file_jobs(cron_dir: Path) -> list[CronJob]:
    """Every job the files of ``cron_dir`` (db/cron/) schedule, in file order."""
    return [
        CronJob(name, schedule, command)
        for path in sorted(cron_dir.glob("*.sql"))
        for name, schedule, command in SCHEDULE_FULL.findall(path.read_text())
    ]


def installed(conn: psycopg.Connection) -> bool:
    row = conn.execute("select exists (select from pg_catalog.pg_extension where extname = 'pg_cron')").fetchone()
    return bool(row and row[0])


@dataclass(frozen=True)
class Facts:
    """What decides whether pg_cron can live in a database."""

    database: str
    available: bool  # the server has the extension's files
    preloaded: bool  # pg_cron is in shared_preload_libraries
    cron_database: str | None  # cron.database_name; None when pg_cron is not loaded

    @property
    def creatable(self) -> bool:
        return self.available and self.preloaded and self.cron_database == self.database


def facts(conn: psycopg.Connection) -> Facts:
    # shared_preload_libraries and cron.database_name are readable by superusers and
    # pg_read_all_settings only (Supabase's postgres role is neither); anyone else sees
    # pg_cron by its extension, which exists only in the database pg_cron serves.
    row = conn.execute(
        """
        with reader as (
            select coalesce((select rolsuper from pg_catalog.pg_roles where rolname = current_user), false)
                or pg_catalog.pg_has_role(current_user, 'pg_read_all_settings', 'member') as may_read
        )
        select current_database(),
            exists (select from pg_catalog.pg_available_extensions where name = 'pg_cron'),
            case when reader.may_read
                then 'pg_cron' = any(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
                else exists (select from pg_catalog.pg_extension where extname = 'pg_cron')
            end,
            case when reader.may_read
                then current_setting('cron.database_name', true)
                when exists (select from pg_catalog.pg_extension where extname = 'pg_cron') then current_database()
            end
        from reader
        """
    ).fetchone()
    assert row is not None
    return Facts(database=row[0], available=row[1], preloaded=row[2], cron_database=row[3] or None)


def absence_advice(f: Facts) -> str:
    """Why pg_cron is not in this database, and the steps that put it there."""
    db = f.database
    if not f.available:
        steps = (
            "install the extension on the server (Debian: apt-get install postgresql-15-cron; Supabase: enable "
            f"pg_cron under Database > Extensions), add pg_cron to shared_preload_libraries, set "
            f"cron.database_name = '{db}', restart PostgreSQL"
        )
        why = "the server has no pg_cron"
    elif not f.preloaded:
        steps = (
            f"add pg_cron to shared_preload_libraries and set cron.database_name = '{db}' in postgresql.conf, restart"
        )
        why = "pg_cron is not in shared_preload_libraries"
    elif f.cron_database != db:
        steps = f"set cron.database_name = '{db}' in postgresql.conf and restart (pg_cron serves one database)"
        why = f"pg_cron runs in database {f.cron_database!r} (cron.database_name), not in {db!r}"
    else:
        steps = "nothing on the server: the extension only needs creating, which migrate does"
        why = "the extension is not created yet"
    return f"pg_cron is not installed in database {db!r}: {why}. To schedule the jobs: {steps}; {RESCHEDULE_HINT}."


def ensure_extension(conn: psycopg.Connection) -> bool:
    """Create pg_cron where the server allows it (as the first migration does); True when created now."""
    if installed(conn) or not facts(conn).creatable:
        return False
    # In pg_catalog, as Supabase registers it: its objects live in schema cron, the extension stays out of public.
    conn.execute("create extension if not exists pg_cron with schema pg_catalog")
    return True


def scheduled_jobs(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute("select jobname from cron.job where jobname is not null").fetchall()}


def unscheduled(conn: psycopg.Connection, files: Iterable[tuple[str, str]]) -> list[str]:
    """Of ``(name, sql)`` cron files, those with a job that ``cron.job`` lacks (pg_cron installed)."""
    present = scheduled_jobs(conn)
    return [name for name, sql in files if any(job not in present for job in job_names(sql))]


# -- can the jobs connect? ------------------------------------------------------------


@dataclass(frozen=True)
class HbaRule:
    line: int
    type: str
    databases: list[str]
    users: list[str]
    address: str | None
    netmask: str | None
    method: str


def _addresses(host: str) -> list[str]:
    if host == "localhost":
        return ["127.0.0.1", "::1"]
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
        except OSError:
            return []


def _address_matches(rule: HbaRule, addresses: list[str]) -> bool:
    if rule.address in (None, "all", "samehost", "samenet"):
        return True
    try:
        if rule.netmask:
            network = ipaddress.ip_network(f"{rule.address}/{rule.netmask}", strict=False)
        else:
            network = ipaddress.ip_network(rule.address, strict=False)
    except ValueError:
        return rule.address in addresses  # a host name in pg_hba.conf: compare literally
    return any(ipaddress.ip_address(a) in network for a in addresses if _same_family(a, network))


def _same_family(address: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return ipaddress.ip_address(address).version == network.version


def _first_match(
    rules: list[HbaRule], *, local: bool, addresses: list[str], database: str, user: str, roles: set[str]
) -> HbaRule | None:
    for rule in rules:
        if local != (rule.type == "local"):
            continue
        if rule.type in ("hostssl", "hostgssenc"):
            continue  # pg_cron's libpq connection asks for neither by default
        if not (set(rule.databases) & {"all", database, "sameuser" if database == user else ""}):
            continue
        if not ("all" in rule.users or user in rule.users or any(u[1:] in roles for u in rule.users if u[:1] == "+")):
            continue
        if not local and not _address_matches(rule, addresses):
            continue
        return rule
    return None


def _hba_rules(conn: psycopg.Connection) -> list[HbaRule] | None:
    """pg_hba.conf as the server parsed it; None when we may not read it (not a superuser)."""
    try:
        with conn.transaction():
            rows = conn.execute(
                "select line_number, type, database, user_name, address, netmask, auth_method"
                " from pg_catalog.pg_hba_file_rules where error is null order by line_number"
            ).fetchall()
    except psycopg.errors.InsufficientPrivilege:
        return None
    return [HbaRule(r[0], r[1], list(r[2] or []), list(r[3] or []), r[4], r[5], r[6]) for r in rows]


def _setting(conn: psycopg.Connection, name: str) -> str | None:
    row = conn.execute("select current_setting(%s, true)", (name,)).fetchone()
    return row[0] if row else None


def fixes(database: str, user: str, host: str) -> str:
    first = _addresses(host)[:1]
    if not first:
        where = host
    else:
        where = f"{first[0]}/{128 if ':' in first[0] else 32}"
    return (
        "fix one of: set cron.use_background_workers = on (and max_worker_processes high enough) and restart, "
        "so jobs run in background workers without a connection; or give the server's OS user a ~/.pgpass "
        f"entry for {host}:<port>:{database}:{user}; or add `host {database} {user} {where} trust` to pg_hba.conf "
        "above the line that asks for a password, and reload; or set cron.host to a Unix socket directory with a "
        f"`local {database} {user} peer` line"
    )


def configuration_problems(conn: psycopg.Connection) -> list[str]:
    """Reasons, read from the server's settings, why pg_cron could not open its jobs' connections."""
    if not installed(conn) or (_setting(conn, "cron.use_background_workers") or "off") == "on":
        return []
    host = _setting(conn, "cron.host") or "localhost"
    row = conn.execute(
        """
        select current_database(), current_user, current_setting('port'),
            coalesce(current_setting('unix_socket_directories', true), ''),
            array(select r.rolname from pg_catalog.pg_roles as r where pg_has_role(current_user, r.oid, 'member'))
        """
    ).fetchone()
    assert row is not None
    database, user, port, sockets, roles = row
    where = f"pg_cron connects to {host}:{port}/{database} as {user} (cron.host, no password)"
    local = host.startswith("/")
    if local and host not in [s.strip() for s in sockets.split(",")]:
        return [
            f"{where}, but the server's unix_socket_directories is {sockets!r}: every job fails with "
            f"'connection failed'; set cron.host to one of them, or cron.use_background_workers = on"
        ]
    rules = _hba_rules(conn)
    if rules is None:
        return []
    rule = _first_match(rules, local=local, addresses=_addresses(host), database=database, user=user, roles=set(roles))
    if rule is None:
        return [f"{where}, and no pg_hba.conf line accepts that connection: every job fails with 'connection failed'; "
                + fixes(database, user, host)]
    if rule.method == "reject" or rule.method in PASSWORD_METHODS:
        what = "rejects it" if rule.method == "reject" else f"asks for a password ({rule.method})"
        return [
            f"{where}, and pg_hba.conf line {rule.line} {what}: every job fails with 'connection failed' "
            f"unless the server's OS user has a ~/.pgpass entry; " + fixes(database, user, host)
        ]
    return []


def failing_connections(conn: psycopg.Connection, names: list[str]) -> list[str]:
    """Jobs of ``names`` whose latest run could not connect, with pg_cron's own message."""
    rows = conn.execute(
        """
        select j.jobname, d.return_message, d.start_time
        from cron.job as j
        cross join lateral (
            select r.status, r.return_message, r.start_time
            from cron.job_run_details as r
            where r.jobid = j.jobid and r.status in ('succeeded', 'failed')
            order by r.runid desc
            limit 1
        ) as d
        where j.jobname = any(%s) and d.status = 'failed' and d.return_message = any(%s)
        order by 1
        """,
        (names, list(CONNECTION_FAILURES)),
    ).fetchall()
    return [
        f"{name}: its last run ({f'{at:%Y-%m-%d %H:%M} UTC' if at else 'start time unknown'}) failed: {message}"
        for name, message, at in rows
    ]


def connection_problems(conn: psycopg.Connection, names: list[str]) -> list[str]:
    """Configuration reasons first, then the jobs that already failed to connect."""
    if not installed(conn):
        return []
    found = configuration_problems(conn)
    failed = failing_connections(conn, names)
    if failed and not found:
        host = _setting(conn, "cron.host") or "localhost"
        row = conn.execute("select current_database(), current_user").fetchone()
        assert row is not None
        found.append(f"pg_cron could not open its jobs' connections to {host}; " + fixes(row[0], row[1], host))
    return found + failed
