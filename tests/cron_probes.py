"""pg_cron jobs that the scheduler itself runs, scheduled once at the start of the session.

pg_cron 1.4 fires on minute boundaries only. So the probes are scheduled in the
embedded cluster's cron database (``opsdb_cron``) before the first test, and by the
time the tests that read them run, the scheduler has usually run them already. A
test waits only for a bound derived from pg_cron's own rule, not from where the
wall clock happens to be: a job scheduled at t has run by the second minute boundary
after t (the first may pass before the launcher reloads its jobs), plus a grace for
a busy machine.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from harness.rows import scalar

CRON_DATABASE = "opsdb_cron"
GRACE = timedelta(seconds=45)


@dataclass(frozen=True)
class CronProbes:
    url: str
    scheduled_at: datetime  # the server's clock when the probes were scheduled
    sweeper_row: int  # a due failed delivery to an unknown number, for the sweeper probe
    unknown_number: str

    @property
    def deadline(self) -> datetime:
        first_boundary = self.scheduled_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return first_boundary + timedelta(minutes=1) + GRACE

    def wait_until(self, conn: psycopg.Connection, done: Callable[[], bool]) -> None:
        """Poll ``done`` until it holds or the server's clock passes the deadline."""
        while not done():
            now = scalar(conn, "select now()")
            if now > self.deadline:
                return
            time.sleep(0.5)

    def runs(self, conn: psycopg.Connection, jobname: str) -> list[tuple[Any, ...]]:
        return conn.execute(
            "select d.status from cron.job_run_details as d join cron.job as j using (jobid)"
            " where j.jobname = %s and d.status in ('succeeded', 'failed')",
            (jobname,),
        ).fetchall()


def schedule(url: str) -> CronProbes:
    """Schedule the probes in the cron database at ``url``."""
    number = "+1415" + str(uuid.uuid4().int)[:7]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table if not exists public.cron_probe (at timestamptz default now())")
        conn.execute(
            "select private.schedule_job('probe-every-minute', '* * * * *', 'insert into public.cron_probe default values')"
        )
        # The scheduled sweeper's own command, under a probe name (jobs cloned from the
        # template still target it), so pg_cron itself runs it: no JWT, as the job's owner.
        command = conn.execute("select command from cron.job where jobname = 'webhook-retry-sweeper'").fetchone()
        assert command is not None
        payload = {"MessageSid": "SM" + uuid.uuid4().hex, "To": number, "From": "+12025550100", "Body": "hi",
                   "SmsStatus": "received", "AccountSid": "AC" + uuid.uuid4().hex, "NumSegments": "1"}  # fmt: skip
        row = conn.execute(
            "insert into public.webhook_queue (provider, event_type, idempotency_key, status, payload, url,"
            " signature_valid, attempts, last_error, next_attempt_at)"
            " values ('twilio', 'twilio.sms', %s, 'failed', %s, 'https://api.example.test/sms', true, 1,"
            " 'P0001: simulated outage', now() - interval '1 second') returning id",
            (f"sms:{payload['MessageSid']}:received", Jsonb(payload)),
        ).fetchone()
        assert row is not None
        conn.execute("select private.schedule_job('webhook-retry-sweeper-probe', '* * * * *', %s)", (command[0],))
        scheduled_at = scalar(conn, "select now()")
    return CronProbes(url, scheduled_at, row[0], number)
