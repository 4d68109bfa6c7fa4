"""A bounded pool of daemon threads for work that talks to nodes.

`concurrent.futures.ThreadPoolExecutor` joins its threads at exit and on `shutdown`, so one call stuck on a
dead node keeps the whole command alive past its deadline. Callers here wait on futures with their own
deadlines; a thread still stuck after that is abandoned (and its connection killed by remote's watchdog),
never waited for.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_Item = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonPool(Executor):
    """At most `workers` daemon threads, started as work arrives; `shutdown` never waits for a stuck one."""

    def __init__(self, workers: int, name: str = "picf") -> None:
        self._workers = max(1, workers)
        self._name = name
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue `fn(*args, **kwargs)`; a thread picks it up as soon as one is free."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is shut down")
            self._queue.put((future, fn, args, kwargs))
            waiting = self._queue.qsize()
            if self._busy + waiting > len(self._threads) and len(self._threads) < self._workers:
                thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            with self._lock:
                self._busy += 1
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # the caller sees it through the future
                    future.set_exception(exc)
            with self._lock:
                self._busy -= 1

    def shutdown(self, wait: bool = False, *, cancel_futures: bool = True) -> None:
        """Stop taking work, cancel what has not started; threads still busy finish (or stay stuck) alone."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()
