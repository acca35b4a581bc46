"""The worker process: `chorus worker`. Preloads the app once, then serves the RQ queues."""

from __future__ import annotations

import threading
import time

from flask import Flask
from rq import SimpleWorker

from chorus.extensions import redis_store
from chorus.workers import jobs

QUEUES = ("mail", "default", "delivery", "webhooks")  # exports and invitations never wait behind letters


def run(burst: bool = False) -> bool:
    """Run jobs in this process. SimpleWorker forks no child per job, so the app and its connection
    pools are built once; each job pushes its own app context (jobs.with_app_context)."""
    from chorus.app import create_app

    app = create_app()
    jobs.set_worker_app(app)
    with app.app_context():
        connection = redis_store.client
        # Pick up what a dead worker left: unsent confirmations, letters under an expired lease.
        jobs.queue("mail").enqueue(jobs.send_supporter_mails)
        jobs.queue("delivery").enqueue(jobs.deliver_letters)
        jobs.queue("webhooks").enqueue(jobs.deliver_webhooks)
        worker = SimpleWorker([jobs.queue(name) for name in QUEUES], connection=connection)
    if not burst:
        threading.Thread(target=_tick, args=(app,), name="chorus-ticker", daemon=True).start()
    return worker.work(burst=burst)


def _tick(app: Flask) -> None:
    """While letters wait (retries, caps, windows, leases of a dead worker), start a delivery run
    every few seconds: a killed worker's letters go out again soon after its lease ends, well within
    two minutes, without relying on RQ's own detection of abandoned jobs (about 7 minutes)."""
    from chorus.services import delivery, webhooks

    with app.app_context():
        interval = max(1, min(20, delivery.lease_seconds() // 2))
    while True:
        time.sleep(interval)
        try:
            with app.app_context():
                if delivery.outstanding():
                    jobs.kick_delivery()
                if webhooks.outstanding():
                    jobs.kick_webhooks()
        except Exception:  # noqa: BLE001 - a database or Redis hiccup: try again next tick
            app.logger.exception("delivery ticker")
