"""Usage-domain reads and calls: the metering tables as the superuser, and the rate limiter at chosen instants."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

# change_plan(workspace_id, plan_key, reason="test upgrade"): what subscription activation does.
ChangePlan = Callable[..., None]


class UsageReader:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def limits(self, workspace_id: Any, metric: str) -> dict[str, Any]:
        row = self.conn.execute(
            "select used, soft_limit, hard_limit, limit_state, plan_key, tier_snapshot_id"
            " from public.usage_limits where workspace_id = %s and metric = %s"
            " and period_start = private.usage_period()",
            (workspace_id, metric),
        ).fetchone()
        assert row is not None, f"no usage_limits row for {metric}"
        keys = ("used", "soft_limit", "hard_limit", "limit_state", "plan_key", "tier_snapshot_id")
        return dict(zip(keys, row))

    def event_total(self, workspace_id: Any, metric: str) -> Decimal:
        row = self.conn.execute(
            "select coalesce(sum(quantity), 0) from public.usage_events where workspace_id = %s and metric = %s",
            (workspace_id, metric),
        ).fetchone()
        assert row is not None
        return Decimal(row[0])

    def event_count(self, workspace_id: Any) -> int:
        row = self.conn.execute("select count(*) from public.usage_events where workspace_id = %s", (workspace_id,)).fetchone()
        assert row is not None
        return int(row[0])

    def alerts(self, workspace_id: Any, type_: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(
            "select id, dedupe_key, details from public.alerts where workspace_id = %s and type = %s order by id",
            (workspace_id, type_),
        ).fetchall()

    def snapshots(self, workspace_id: Any) -> list[tuple[Any, ...]]:
        return self.conn.execute(
            "select id, plan_key, reason from public.tier_snapshots where workspace_id = %s order by id",
            (workspace_id,),
        ).fetchall()


class Limiter:
    """check_rate_limit as service_role at an instant the test chooses (its ``at``).

    GCRA depends on time only through the instant it decides for, so a test that
    names the instants is exact and independent of the wall clock.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def check(self, workspace_id: Any, at: datetime, bucket: str = "api") -> dict[str, Any]:
        return self.check_with_headers(workspace_id, at, bucket)[0]

    def check_with_headers(
        self, workspace_id: Any, at: datetime, bucket: str = "api"
    ) -> tuple[dict[str, Any], dict[str, str]]:
        with self.conn.transaction():
            self.conn.execute("set local role service_role")
            row = self.conn.execute(
                "select private._check_rate_limit(%s, %s, %s)", (workspace_id, bucket, at)
            ).fetchone()
            raw = self.conn.execute("select current_setting('response.headers', true)").fetchone()
        assert row is not None and raw is not None
        headers: dict[str, str] = {}
        for item in json.loads(raw[0] or "[]"):
            headers.update(item)
        return row[0], headers

    def burst(self, workspace_id: Any, at: datetime, count: int, bucket: str = "api") -> list[dict[str, Any]]:
        return [self.check(workspace_id, at, bucket) for _ in range(count)]
