"""``cbt worker``: an RQ worker for this deployment's job queue."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then stop (tests, cron).")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run background jobs (calibration, rescoring) from the RQ queue on Redis."""
    from rq import SimpleWorker

    from jobs.runners import rq_queue

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("cbt worker needs CBT_REDIS_URL (the RQ queue lives in Redis)")
    queue = rq_queue(current_app._get_current_object())  # type: ignore[attr-defined]
    # SimpleWorker runs each job in this process, inside the app context pushed above: no fork,
    # so no database connection is shared between processes.
    worker = SimpleWorker([queue], connection=queue.connection)
    click.echo(f"cbt worker: queue {queue.name}{' (burst)' if burst else ''}", err=True)
    worker.work(burst=burst, with_scheduler=False)
