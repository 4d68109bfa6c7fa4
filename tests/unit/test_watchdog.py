"""picf.watchdog: deadlines on blocking calls, all served by one thread."""

from __future__ import annotations

import random
import threading
import time

from picf.watchdog import Watchdog


def test_a_watchdog_past_its_deadline_kills_and_says_it_fired() -> None:
    killed = threading.Event()
    dog = Watchdog(time.monotonic() + 0.05, killed.set)
    assert killed.wait(30)
    assert dog.fired


def test_a_cancelled_watchdog_never_kills() -> None:
    killed = threading.Event()
    dog = Watchdog(time.monotonic() + 0.05, killed.set)
    dog.cancel()
    later = threading.Event()
    Watchdog(time.monotonic() + 0.1, later.set)  # fires after the cancelled one's deadline: it was skipped
    assert later.wait(30)
    assert not killed.is_set() and not dog.fired


def test_arming_many_watchdogs_starts_no_thread_and_each_fires_once_due() -> None:
    Watchdog(time.monotonic() - 1, lambda: None)  # the scheduler's thread exists from here on
    before = {t.ident for t in threading.enumerate()}
    fired: list[int] = []
    all_fired = threading.Event()

    def kill(i: int) -> None:
        fired.append(i)
        if len(fired) == 200:
            all_fired.set()

    now = time.monotonic()
    dogs = [Watchdog(now + 0.2 + i / 1000, lambda i=i: kill(i)) for i in random.Random(7).sample(range(200), 200)]
    started = [t.name for t in threading.enumerate() if t.ident not in before]
    assert not [name for name in started if name.startswith("picf-watchdog")]  # none until one fires
    assert all_fired.wait(30)
    assert sorted(fired) == list(range(200)) and all(d.fired for d in dogs)


def test_a_kill_that_blocks_holds_up_no_other_watchdog() -> None:
    release = threading.Event()
    stuck = Watchdog(time.monotonic() - 1, lambda: release.wait(120))
    other = threading.Event()
    Watchdog(time.monotonic() + 0.05, other.set)
    try:
        assert other.wait(30) and stuck.fired
    finally:
        release.set()


def test_an_earlier_deadline_armed_later_is_not_held_up_by_a_later_one() -> None:
    late = threading.Event()
    early = threading.Event()
    Watchdog(time.monotonic() + 3600, late.set)  # the thread now sleeps toward an hour from now
    Watchdog(time.monotonic() + 0.05, early.set)
    assert early.wait(30) and not late.is_set()
