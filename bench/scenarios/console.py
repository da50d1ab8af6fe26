"""Console scenarios: what a console page costs in the database at volume.

A page of ``opsdb console`` is its queries plus a template render of a few
milliseconds; these measure the queries of the two heaviest pages, as the
platform admin the console acts as (role ``authenticated`` with the admin's
claims, as PostgREST would), on 2,000,000 ``webhook_queue`` rows (1% failed),
the volume a page must stay fast on:

* ``console_webhooks_page``: the Webhooks list, failed deliveries, newest first,
  a keyset page of 50 (``public.list_webhooks``) at a random cursor.
* ``console_webhook_detail``: one delivery's masked detail and history
  (``public.webhook_delivery``).

Reported against ``insert_unique_key`` as a yardstick of one round trip of work;
no target: the goal is under 300 ms a page, read as 1000 / TPS * clients.
Loading takes about a minute (generate_series, no triggers on this table); the
test suite runs the same setup with SMOKE_ROWS.
"""

from __future__ import annotations

from bench.scenario import Scenario

ROWS = 2_000_000
# The test suite's run of these scenarios (it checks that they run, and times nothing).
SMOKE_ROWS = 2_000
ADMIN = "00000000-0000-0000-0000-00000000ad01"

ADMIN_SESSION = {
    "role": "authenticated",
    "request.jwt.claims": f'{{"role":"authenticated","sub":"{ADMIN}","email":"oncall@example.test"}}',
}


def _setup(rows: int) -> str:
    return f"""
    insert into auth.users (id, email) values ('{ADMIN}', 'oncall@example.test');
    insert into public.user_roles (user_id, role) values ('{ADMIN}', 'admin');
    insert into public.webhook_queue (
        provider, event_type, idempotency_key, status, headers, payload, received_at, signature_valid,
        attempts, last_error, processed_at
    )
    select
        'twilio', 'twilio.sms', 'sms:SM' || md5(g::text) || ':received',
        case when g % 100 = 0 then 'failed' else 'processed' end,
        '{{"x-twilio-signature": "abc"}}',
        jsonb_build_object('From', '+1415555' || lpad((g % 10000)::text, 4, '0'), 'Body', 'hello ' || g,
                           'MessageSid', 'SM' || md5(g::text)),
        now() - (g || ' seconds')::interval, true,
        case when g % 100 = 0 then 1 else 0 end,
        case when g % 100 = 0 then 'sms store is down' end,
        case when g % 100 = 0 then null else now() end
    from generate_series(1, {rows}) as g;
"""


SETUP = _setup(ROWS)

SCENARIOS: list[Scenario] = [
    Scenario(
        name="console_webhooks_page",
        description="console Webhooks page: 50 failed deliveries after a random cursor, as a platform admin",
        baseline="insert_unique_key",
        session=ADMIN_SESSION,
        variables={"rows": ROWS},
        setup=SETUP,
        smoke_setup=_setup(SMOKE_ROWS),
        smoke_variables={"rows": SMOKE_ROWS},
        script="""
\\set g random(1, :rows)
select public.list_webhooks(status => 'failed', max_count => 50,
    before_received_at => now() - (:g || ' seconds')::interval, before_id => :g);
""",
    ),
    Scenario(
        name="console_webhook_detail",
        description="console webhook detail: one delivery masked, with its audit history, as a platform admin",
        baseline="insert_unique_key",
        session=ADMIN_SESSION,
        variables={"rows": ROWS},
        setup=SETUP,
        smoke_setup=_setup(SMOKE_ROWS),
        smoke_variables={"rows": SMOKE_ROWS},
        script="""
\\set id random(1, :rows)
select public.webhook_delivery(:id);
""",
    ),
]
