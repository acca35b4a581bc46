"""Naming and enqueueing jobs. Services say which job to run by its dotted name and never import the
worker package (chorus.workers imports the services, not the other way round).

Redis only says "look now": what is owed (a mail, a letter, an export) is decided by database rows,
and every worker's ticker (chorus.services.periodic) kicks these jobs again while anything is owed,
so a job lost with a flushed queue or a killed worker costs a delay, never the work.
"""

from __future__ import annotations

from rq import Queue

from chorus.extensions import redis_store

#: Queues a worker serves, in order: exports and invitations never wait behind letters.
QUEUES = ("mail", "default", "delivery", "webhooks")

SEND_SUPPORTER_MAILS = "chorus.workers.jobs.send_supporter_mails"
DELIVER_LETTERS = "chorus.workers.jobs.deliver_letters"
SEND_INVITATION = "chorus.workers.jobs.send_invitation"
EXPORT_CAMPAIGN_CSV = "chorus.workers.jobs.export_campaign_csv"
DELIVER_WEBHOOKS = "chorus.workers.jobs.deliver_webhooks"


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_store.client)


def enqueue(job: str, *args, queue_name: str = "default", job_timeout: int = 600) -> None:
    """Queue one run of `job` (a dotted name) with id arguments."""
    queue(queue_name).enqueue(job, *args, job_timeout=job_timeout)


def kick(job: str, queue_name: str, every_seconds: int = 1) -> bool:
    """Start `job` soon: at most one kick per `every_seconds` however many callers ask, and none
    while one already waits in its queue (a run in progress takes the new work too).

    One SET NX on the hot path; the enqueue happens only for the caller that wins the key.
    """
    if not redis_store.client.set(f"chorus:kick:{job}", 1, nx=True, ex=every_seconds):
        return False
    waiting = queue(queue_name)
    if job in {j.func_name for j in waiting.get_jobs(0, 20)}:
        return False
    waiting.enqueue(job, job_timeout=600)
    return True


SUPPORTER_MAIL_LIST = "chorus:mail:supporters"
SUPPORTER_MAIL_SCHEDULED = "chorus:mail:supporters:scheduled"


def queue_supporter_mail(kind: str, action_id: int) -> None:
    """Add one mail ("confirm", "copy" or "repeat") to the next batch; enqueue a batch job only if none waits.

    A signing spike then costs one round trip per signature, not one job, and mails go out in batches.
    """
    pipe = redis_store.client.pipeline()
    pipe.rpush(SUPPORTER_MAIL_LIST, f"{kind}:{action_id}")
    pipe.set(SUPPORTER_MAIL_SCHEDULED, 1, nx=True, ex=300)
    _, scheduled_now = pipe.execute()
    if scheduled_now:
        enqueue(SEND_SUPPORTER_MAILS, queue_name="mail")


def kick_supporter_mail() -> bool:
    return kick(SEND_SUPPORTER_MAILS, "mail")


def kick_delivery() -> bool:
    return kick(DELIVER_LETTERS, "delivery")


WEBHOOKS_SCHEDULED = "chorus:webhooks:scheduled"


def kick_webhooks() -> None:
    """Deliver owed webhooks soon (call after their outbox rows are committed). One run waits at
    most; the run clears the flag before it looks, so rows committed after that schedule the next."""
    if redis_store.client.set(WEBHOOKS_SCHEDULED, 1, nx=True, ex=300):
        enqueue(DELIVER_WEBHOOKS, queue_name="webhooks")
