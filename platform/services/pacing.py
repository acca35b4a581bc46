"""Mail that can wait gives the machine to the web during a surge, up to a deadline.

Workers run below the web's CPU priority (CHORUS_WORKER_NICE), but on cores they share with the web
that wins back only part of the machine: a worker runs in the web's gaps, and what it causes there
(its PostgreSQL backend, the SMTP server) runs at normal priority. So while normal-priority work keeps
this machine busy, a niced worker takes only the supporter mails that have waited
CHORUS_MAIL_SURGE_WAIT seconds; when the surge ends, or a mail reaches that age, the mail goes. A
surge shorter than the wait gets the whole machine; past it, the surge shares the cores with its
mail again, which on one small machine then falls further behind until the surge ends (a sign and
its mail cost about twice a bare sign's CPU: bench/RESULTS.md, session 9).

The reading tells the web's work from the workers' by priority, on Linux (/proc/stat): CPU time of
niced processes counts as spare. A worker that is not niced, or a machine without /proc/stat, never
holds mail back.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from dataclasses import dataclass

#: Share of the machine's CPU, used by normal-priority work other than this process, that makes it busy.
BUSY_SHARE = 0.7
#: Seconds a reading covers at least (shorter asks get the last verdict).
READING_SECONDS = 0.5


@dataclass(frozen=True)
class _Sample:
    at: float
    total: int  # clock ticks of every CPU, idle included
    normal: int  # ticks of normal-priority work: user (not niced), system, interrupts, stolen
    own_system: float  # this process's system seconds (a niced process's user time is in "nice")


def _sample() -> _Sample | None:
    try:
        with open("/proc/stat", "rb") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if fields[:1] != [b"cpu"] or len(fields) < 9:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(f) for f in fields[1:9])
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return _Sample(time.monotonic(), total, user + system + irq + softirq + steal, os.times().system)


class MachineLoad:
    """Whether normal-priority work other than this process keeps the machine busy, judged over the
    time since the last reading (at least READING_SECONDS)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = _sample()
        self._share = 0.0

    def share(self) -> float:
        """The busy share of the latest reading (0 to 1)."""
        with self._lock:
            now = _sample()
            if now is None or self._last is None or now.at - self._last.at < READING_SECONDS:
                return self._share
            ticks = now.total - self._last.total
            if ticks > 0:
                own = (now.own_system - self._last.own_system) * os.sysconf("SC_CLK_TCK")
                self._share = min(1.0, max(0.0, (now.normal - self._last.normal - own) / ticks))
            self._last = now
            return self._share

    def busy(self) -> bool:
        return self.share() >= BUSY_SHARE


@functools.cache
def _machine() -> MachineLoad:
    """The reading starts when a process first asks (a worker; web processes never do)."""
    return MachineLoad()


def holding_back(surge_wait: int) -> bool:
    """Should this process take only mails that waited `surge_wait` seconds, now? Only a niced
    process can tell the web's work from its own, and a wait of 0 turns this off."""
    return surge_wait > 0 and os.getpriority(os.PRIO_PROCESS, 0) > 0 and _machine().busy()
