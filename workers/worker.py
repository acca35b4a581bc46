"""The worker process: `chorus worker`. Preloads the app once, then serves the RQ queues; a ticker
thread runs the periodic tasks (chorus.services.periodic) that re-start whatever is owed."""

from __future__ import annotations

import logging
import os
import threading
import time

from redis.exceptions import RedisError
from rq import SimpleWorker
from sqlalchemy import select

from chorus import queues
from chorus.extensions import db, redis_store
from chorus.workers import jobs

log = logging.getLogger("chorus.worker")

#: Seconds to wait before serving the queues again after Redis went away.
RECONNECT_AFTER = 2


class _Worker(SimpleWorker):
    """Remembers a SIGTERM/SIGINT: an idle RQ worker leaves `work()` on one without any mark of it, and
    the loop below must not take that for Redis going away."""

    stop_signalled = False

    def request_stop(self, signum, frame):
        self.stop_signalled = True
        super().request_stop(signum, frame)


def run(burst: bool = False) -> bool:
    """Run jobs in this process. SimpleWorker forks no child per job, so the app and its connection
    pools are built once; each job pushes its own app context (jobs.with_app_context).

    A worker runs below the web's CPU priority (CHORUS_WORKER_NICE): on cores it shares with the web,
    a surge's confirmation mails wait for idle CPU instead of slowing the signing that owes them, and
    the priority is how the worker tells the web's load from its own (chorus.services.pacing).

    RQ's worker quits when Redis goes away in the middle of its housekeeping; this one waits and
    serves again (the ticker goes on meanwhile), until it is told to stop."""
    from chorus.app import create_app
    from chorus.services import periodic

    app = create_app()
    with app.app_context():  # a database that does not answer stops the worker at once, in one line
        db.session.execute(select(1))
        db.session.remove()
    jobs.set_worker_app(app)
    os.nice(app.config["CHORUS_WORKER_NICE"])
    if not burst:
        stop = threading.Event()
        threading.Thread(target=periodic.run_forever, args=(app, stop), name="chorus-ticker", daemon=True).start()
    while True:
        with app.app_context():
            # Pick up what a dead worker left at once, before the ticker's first period comes round.
            queues.kick_supporter_mail()
            queues.kick_delivery()
            queues.kick_webhooks()
            worker = _Worker([queues.queue(name) for name in queues.QUEUES], connection=redis_store.client)
        worker.max_connection_wait_time = RECONNECT_AFTER  # RQ's own backoff grows to a minute
        try:
            result = worker.work(burst=burst)
        except RedisError as error:
            log.warning("worker: Redis went away (%s)", error)
            result = False
        if burst or worker.stop_signalled:
            return result
        log.warning("worker: serving the queues again in %d s", RECONNECT_AFTER)
        time.sleep(RECONNECT_AFTER)
