"""start_hosts(): hosts started at once, recorded in order, none forgotten
when one fails or the build is interrupted (the lab's cleanup removes only
what was recorded)."""

import signal
import threading
import time

import pytest

from topologies.node import start_hosts


class Interrupted(BaseException):
    pass


def slow(name, seconds, fail=False):
    def make():
        time.sleep(seconds)
        if fail:
            raise RuntimeError("%s would not start" % name)
        return name
    return make


def test_started_at_once_and_recorded_in_the_jobs_order():
    made, threads = [], set()

    def make(name, seconds):
        def run():
            threads.add(threading.get_ident())
            time.sleep(seconds)
            return name
        return run
    t0 = time.monotonic()
    start_hosts([(make("a", 0.3), made.append), (make("b", 0.1), made.append), (make("c", 0.2), made.append)])
    assert made == ["a", "b", "c"]
    assert len(threads) == 3 and threading.get_ident() not in threads
    assert time.monotonic() - t0 < 0.55        # together, not one after the other (0.6 s)


def test_a_failure_is_raised_after_the_others_are_recorded():
    made = []
    with pytest.raises(RuntimeError, match="b would not start"):
        start_hosts([(slow("a", 0.2), made.append), (slow("b", 0.0, fail=True), made.append),
                     (slow("c", 0.3), made.append)])
    assert made == ["a", "c"]


def test_an_interrupted_start_still_records_the_hosts_under_way():
    made = []

    def interrupt(signum, frame):
        raise Interrupted()
    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    try:
        with pytest.raises(Interrupted):
            start_hosts([(slow("a", 0.4), made.append), (slow("b", 0.5), made.append)])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert made == ["a", "b"]


def test_nothing_to_start():
    start_hosts([])
