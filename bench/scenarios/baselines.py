"""The three baselines every domain scenario is reported against.

Plain SQL on tables of their own in schema ``bench``: what the server does for
the simplest statement of each shape, so a domain scenario's ratio says how much
its rules cost on top of the write it is built around.
"""

from __future__ import annotations

from bench.scenario import Scenario

BASELINE_CLIENTS = (1, 8)
# Rows the spread UPDATE chooses from: the "1,000 wallets/workspaces" of domain scenarios.
SPREAD_ROWS = 1000

SCENARIOS: list[Scenario] = [
    Scenario(
        name="insert_unique_key",
        description="INSERT one row with a fresh random uuid key into a two-column table",
        baseline=None,
        clients=BASELINE_CLIENTS,
        setup="""
            create schema if not exists bench;
            create table bench.unique_rows (
                key uuid primary key,
                value bigint not null
            );
        """,
        script="""\\set value random(1, 1000000)
insert into bench.unique_rows (key, value) values (gen_random_uuid(), :value);
""",
    ),
    Scenario(
        name="update_hot_row",
        description="UPDATE the same single row from every client (row-lock contention)",
        baseline=None,
        clients=BASELINE_CLIENTS,
        setup="""
            create schema if not exists bench;
            create table bench.counters (
                id integer primary key,
                n bigint not null default 0
            );
            insert into bench.counters (id) values (1);
        """,
        script="""update bench.counters set n = n + 1 where id = 1;
""",
    ),
    Scenario(
        name="update_spread",
        description="UPDATE one of 1,000 rows chosen at random (little contention)",
        baseline=None,
        clients=BASELINE_CLIENTS,
        setup=f"""
            create schema if not exists bench;
            create table bench.counters (
                id integer primary key,
                n bigint not null default 0
            );
            insert into bench.counters (id) select g from generate_series(1, {SPREAD_ROWS}) as g;
        """,
        variables={"rows": SPREAD_ROWS},
        script="""\\set id random(1, :rows)
update bench.counters set n = n + 1 where id = :id;
""",
    ),
]
