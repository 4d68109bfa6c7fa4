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


def test_arming_many_watchdogs_starts_no_thread() -> None:
    first = threading.Event()
    Watchdog(time.monotonic() - 1, first.set)  # the scheduler's thread exists from here on
    assert first.wait(60)  # and this one's kill thread has started: it is not counted below
    before = {t.ident for t in threading.enumerate()}
    later = time.monotonic() + 3600  # far enough that none comes due while this test runs, however slow
    dogs = [Watchdog(later + i, lambda: None) for i in range(200)]
    try:
        assert [t.name for t in threading.enumerate() if t.ident not in before] == []
    finally:
        for dog in dogs:
            dog.cancel()
    assert not any(d.fired for d in dogs)


def test_many_watchdogs_armed_in_any_order_each_fire_once() -> None:
    fired: list[int] = []
    lock = threading.Lock()
    all_fired = threading.Event()

    def kill(i: int) -> None:
        with lock:
            fired.append(i)
            if len(fired) == 200:
                all_fired.set()

    now = time.monotonic()
    dogs = [Watchdog(now + 0.2 + i / 1000, lambda i=i: kill(i)) for i in random.Random(7).sample(range(200), 200)]
    assert all_fired.wait(60)
    time.sleep(0.1)  # room for a second firing, had there been one
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
