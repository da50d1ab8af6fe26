"""Jobs: each job's last runs and failed steps, and a run-now button (public.run_job)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness import pgcron, project
from harness.console.app import console, render
from harness.console.pages.common import action


def _jobs() -> dict[str, str]:
    """The jobs of db/cron/ (public.run_job runs each), by job_runs name, with pg_cron's schedule (UTC)."""
    return {job.name.replace("-", "_"): job.schedule for job in pgcron.file_jobs(project.db_dir() / "cron")}


def jobs(request: Request) -> Response:
    jobs = _jobs()
    with console(request).db.read("/jobs") as cur:
        runs = cur.execute(
            """
            select j.job_name, r.*
            from unnest(%s::text[]) as j (job_name)
            cross join lateral (
                select x.id, x.status, x.started_at, x.finished_at, x.started_by_role, x.errors, x.result,
                    extract(epoch from x.finished_at - x.started_at) as seconds
                from public.job_runs as x
                where x.job_name = j.job_name
                order by x.started_at desc
                limit 5
            ) as r
            """,
            (list(jobs),),
        ).fetchall()
    by_job = {name: [r for r in runs if r["job_name"] == name] for name in jobs}
    return render(request, "jobs.html", jobs=jobs, runs=by_job)


run_now = action(
    "run_job",
    lambda request, form: {"job_name": str(request.path_params["job_name"])},
    lambda a: f"{a['job_name']} ran",
    lambda _: "/jobs",
)


ROUTES = [Route("/jobs", jobs), Route("/jobs/{job_name}/run", run_now, methods=["POST"])]
