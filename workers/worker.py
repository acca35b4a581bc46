"""The worker process: `chorus worker`. Preloads the app once, then serves the RQ queues."""

from __future__ import annotations

from rq import SimpleWorker

from chorus.extensions import redis_store
from chorus.workers import jobs

QUEUES = ("mail", "default")


def run(burst: bool = False) -> bool:
    """Run jobs in this process. SimpleWorker forks no child per job, so the app and its connection
    pools are built once; each job pushes its own app context (jobs.with_app_context)."""
    from chorus.app import create_app

    app = create_app()
    jobs.set_worker_app(app)
    with app.app_context():
        connection = redis_store.client
        jobs.queue("mail").enqueue(jobs.send_confirmation_mails)  # sweep what a dead worker left
        worker = SimpleWorker([jobs.queue(name) for name in QUEUES], connection=connection)
    return worker.work(burst=burst, with_scheduler=False)
