"""Deadlines on blocking calls: past its deadline a watchdog calls its `kill` (closing the socket the call
blocks on), unless cancelled first.

Every watchdog of the process is served by one thread and a heap, not a timer thread each: a health poll
round arms two per node, and at 100 nodes starting 200 threads a round (each start waits for the new thread
to take the GIL from a hundred SSH reader threads) cost 340 ms of a 650 ms round. Only a watchdog that fires
gets a thread of its own, for its kill.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable


class Watchdog:
    """Calls `kill` once the deadline (time.monotonic()) passes, unless cancelled first; `fired` says whether
    it did. Once `cancel()` has returned, `fired` no longer changes."""

    def __init__(self, deadline: float, kill: Callable[[], None]) -> None:
        self.deadline = deadline
        self.fired = False
        self._kill = kill
        self._lock = threading.Lock()
        self._cancelled = False
        _SCHEDULER.arm(self)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def fire(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self.fired = True
        with contextlib.suppress(Exception):  # a kill that fails leaves the call to its own timeout
            self._kill()


class _Scheduler:
    """One daemon thread firing watchdogs in deadline order. A cancelled watchdog stays in the heap until its
    deadline (it is skipped then): the heap holds at most the watchdogs armed within one timeout."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watchdog]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, dog: Watchdog) -> None:
        with self._wake:
            heapq.heappush(self._heap, (dog.deadline, next(self._order), dog))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="picf-watchdogs", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is dog:  # a new earliest deadline: the thread sleeps until a later one
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                left = self._heap[0][0] - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                dog = heapq.heappop(self._heap)[2]
            # A thread per kill (rare: only a call past its deadline): a kill that blocks (closing a connection)
            # holds up no other deadline.
            threading.Thread(target=dog.fire, name="picf-watchdog-kill", daemon=True).start()


_SCHEDULER = _Scheduler()


def _after_fork() -> None:  # a child has no scheduler thread, and maybe a lock held by a thread it lacks
    global _SCHEDULER
    _SCHEDULER = _Scheduler()


os.register_at_fork(after_in_child=_after_fork)
