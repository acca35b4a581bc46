"""Naming and enqueueing jobs. Services say which job to run by its dotted name and never import the
worker package (chorus.workers imports the services, not the other way round).

Redis only says "look now": what is owed (a mail, a letter, an export) is decided by database rows,
and every worker's ticker (chorus.services.periodic) kicks these jobs again while anything is owed,
so a job lost with a flushed queue or a killed worker costs a delay, never the work.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rq import Queue

from chorus.extensions import redis_store

log = logging.getLogger("chorus.queues")

#: Queues a worker serves, in order: exports and invitations never wait behind letters.
QUEUES = ("mail", "default", "delivery", "webhooks")

SEND_SUPPORTER_MAILS = "chorus.workers.jobs.send_supporter_mails"
DELIVER_LETTERS = "chorus.workers.jobs.deliver_letters"
SEND_INVITATION = "chorus.workers.jobs.send_invitation"
EXPORT_CAMPAIGN_CSV = "chorus.workers.jobs.export_campaign_csv"
DELIVER_WEBHOOKS = "chorus.workers.jobs.deliver_webhooks"
RECOUNT_CAMPAIGN_STATS = "chorus.workers.jobs.recount_campaign_stats"
# The next three only owe their mail in supporter_mails now; kept for jobs queued before that change.
SEND_SIGN_ON_MAIL = "chorus.workers.jobs.send_sign_on_mail"
SEND_DECISION_MAIL = "chorus.workers.jobs.send_decision_mail"
SEND_VERSION_MAIL = "chorus.workers.jobs.send_version_mail"
SEND_NEW_VERSION_MAILS = "chorus.workers.jobs.send_new_version_mails"

#: A kick whose job was lost some other way than with Redis blocks the next one at most this long.
KICK_TTL = 30


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_store.client)


def enqueue(job: str, *args, queue_name: str = "default", job_timeout: int = 600) -> None:
    """Queue one run of `job` (a dotted name) with id arguments."""
    queue(queue_name).enqueue(job, *args, job_timeout=job_timeout)


def _kick_key(job: str, *args: int) -> str:
    return ":".join(("chorus:kick", job, *map(str, args)))


def kick(job: str, queue_name: str, *args: int) -> bool:
    """Start `job` soon, with at most one run waiting however many callers ask: one SET NX, and an
    enqueue only for the caller that set it; the job clears the key when it starts (`started`).

    Called after a commit, when the work is already owed in the database: if Redis does not answer,
    the ticker's next look starts the job instead, so this never fails the caller. With `args` (ids),
    one run waits per job and arguments.
    """
    try:
        if not redis_store.client.set(_kick_key(job, *args), 1, nx=True, ex=KICK_TTL):
            return False
        enqueue(job, *args, queue_name=queue_name)
    except RedisError as error:
        log.warning("could not kick %s (%s); the ticker will", job, error)
        return False
    return True


def anything_waiting() -> bool:
    """Whether a job waits in any queue (a run that could wait in its worker should leave it instead)."""
    try:
        return any(queue(name).count for name in QUEUES)
    except RedisError:
        return False


def look_again_in(job: str, seconds: float) -> None:
    """The job has nothing it may do for `seconds`: kicks until then start no run."""
    try:
        redis_store.client.set(_kick_key(job), 1, px=max(1, int(seconds * 1000)))
    except RedisError as error:
        log.warning("could not hold back %s (%s)", job, error)


def started(job: str, *args: int) -> None:
    """A kicked job begins: work owed from now on kicks another run."""
    redis_store.client.delete(_kick_key(job, *args))


def kick_supporter_mail() -> bool:
    return kick(SEND_SUPPORTER_MAILS, "mail")


def kick_delivery() -> bool:
    return kick(DELIVER_LETTERS, "delivery")


def kick_stats_recount(campaign_id: int) -> bool:
    return kick(RECOUNT_CAMPAIGN_STATS, "default", campaign_id)


def kick_webhooks() -> bool:
    """Deliver owed webhooks soon (call after their outbox rows are committed)."""
    return kick(DELIVER_WEBHOOKS, "webhooks")
