"""The worker process: `chorus worker`. Preloads the app once, then serves the RQ queues; a ticker
thread runs the periodic tasks (chorus.services.periodic) that re-start whatever is owed."""

from __future__ import annotations

import threading

from rq import SimpleWorker

from chorus import queues
from chorus.extensions import redis_store
from chorus.workers import jobs


def run(burst: bool = False) -> bool:
    """Run jobs in this process. SimpleWorker forks no child per job, so the app and its connection
    pools are built once; each job pushes its own app context (jobs.with_app_context)."""
    from chorus.app import create_app
    from chorus.services import periodic

    app = create_app()
    jobs.set_worker_app(app)
    with app.app_context():
        # Pick up what a dead worker left at once, before the ticker's first period comes round.
        queues.kick_supporter_mail()
        queues.kick_delivery()
        queues.kick_webhooks()
        worker = SimpleWorker([queues.queue(name) for name in queues.QUEUES], connection=redis_store.client)
    if not burst:
        stop = threading.Event()
        threading.Thread(target=periodic.run_forever, args=(app, stop), name="chorus-ticker", daemon=True).start()
    return worker.work(burst=burst)
