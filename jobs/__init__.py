"""Background jobs: a job table, an API to enqueue and to read status, and two runners.

* :func:`enqueue` adds a job (kind + JSON parameters) to the current transaction; once it
  commits, the configured runner gets it: RQ on Redis (``CBT_JOBS_RUNNER=rq``, or ``auto``
  with ``CBT_REDIS_URL``; ``cbt worker`` runs the jobs) or a worker thread in the app process.
* A kind's code is registered with :func:`register` by the package that owns the work
  (analytics registers calibration and rescoring); it reports progress through its
  :class:`JobContext`, which writes it on the job's row.
* A failed job records why in words (:class:`JobFailed`, a domain error's message), never a
  traceback.

This package sits low (beside the cbt base, below analytics): it knows no domain package.
"""

from jobs.models import Job, JobStatus
from jobs.service import (
    JobContext,
    JobFailed,
    enqueue,
    execute,
    get_job,
    job_dict,
    register,
    registered_kinds,
    runner_name,
)

__all__ = [
    "Job",
    "JobContext",
    "JobFailed",
    "JobStatus",
    "enqueue",
    "execute",
    "get_job",
    "job_dict",
    "register",
    "registered_kinds",
    "runner_name",
]
