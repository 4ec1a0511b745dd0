"""Behaviour of snippets/circuit_breakers.py: every transition, exactly, on an injected clock."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import circuit_breakers as snippet
import pytest
from circuit_breakers import CircuitBreaker, CircuitOpenError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SlowBreaker(CircuitBreaker):
    """A state change that takes 2 ms: it widens every check-then-act window of the
    breaker, so that without its lock concurrent callers visibly interleave there
    (F-CBR-2: with the window this narrow by nature, a missing lock went unseen)."""

    def _set(self, state: str) -> None:
        time.sleep(0.002)
        super()._set(state)


class Dependency:
    def __init__(self) -> None:
        self.calls = 0
        self.healthy = False
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
        if not self.healthy:
            raise ConnectionError("down")
        return "pong"


def trip(breaker: CircuitBreaker, dep: Dependency, times: int) -> None:
    for _ in range(times):
        with pytest.raises(ConnectionError):
            breaker.call(dep)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=5, reset_timeout=30.0, clock=clock)


def test_defaults_are_the_documented_constants():
    b = CircuitBreaker()
    assert (b.failure_threshold, b.reset_timeout, b.probe_timeout) == (5, 30.0, 10.0)
    assert (snippet.FAILURE_THRESHOLD, snippet.RESET_TIMEOUT_SECONDS) == (5, 30.0)
    assert snippet.PROBE_TIMEOUT_SECONDS == 10


def test_stays_closed_below_threshold_and_opens_exactly_at_it(breaker):
    dep = Dependency()
    trip(breaker, dep, 4)
    assert (breaker.state, breaker.failures) == ("closed", 4)
    trip(breaker, dep, 1)
    assert breaker.state == "open"
    assert dep.calls == 5


def test_only_consecutive_failures_count(breaker):
    dep = Dependency()
    for _ in range(3):
        trip(breaker, dep, 4)
        dep.healthy = True
        assert breaker.call(dep) == "pong"  # a success resets the count
        dep.healthy = False
    assert (breaker.state, breaker.failures) == ("closed", 0)
    assert dep.calls == 15


def test_open_fails_fast_without_calling_the_dependency(breaker, clock):
    dep = Dependency()
    trip(breaker, dep, 5)
    for _ in range(100):
        with pytest.raises(CircuitOpenError):
            breaker.call(dep)
    clock.now += 29.999
    with pytest.raises(CircuitOpenError):
        breaker.call(dep)
    assert dep.calls == 5
    assert breaker.state == "open"


def test_one_probe_after_cool_down_then_closed_on_success(breaker, clock):
    dep = Dependency()
    trip(breaker, dep, 5)
    clock.now += 30.0
    dep.healthy = True
    assert breaker.call(dep) == "pong"
    assert (breaker.state, breaker.failures, dep.calls) == ("closed", 0, 6)
    # Closed again means the full threshold applies afresh.
    dep.healthy = False
    trip(breaker, dep, 4)
    assert breaker.state == "closed"


def test_failed_probe_reopens_and_restarts_the_cool_down(breaker, clock):
    dep = Dependency()
    trip(breaker, dep, 5)
    clock.now += 30.0
    trip(breaker, dep, 1)  # the probe fails: one failure is enough
    assert breaker.state == "open"
    assert breaker.opened_at == clock.now
    clock.now += 29.0
    with pytest.raises(CircuitOpenError):
        breaker.call(dep)
    clock.now += 1.0
    dep.healthy = True
    assert breaker.call(dep) == "pong"
    assert breaker.state == "closed"
    assert dep.calls == 7


def test_exactly_one_concurrent_probe_while_half_open(breaker, clock):
    trip(breaker, Dependency(), 5)
    clock.now += 30.0
    entered, release = threading.Event(), threading.Event()
    probes = []

    def slow_healthy_dependency() -> str:
        probes.append(threading.get_ident())
        entered.set()
        release.wait(5)
        return "pong"

    def attempt() -> str:
        try:
            return breaker.call(slow_healthy_dependency)
        except CircuitOpenError:
            return "fast fail"

    with ThreadPoolExecutor(max_workers=50) as pool:
        probe = pool.submit(attempt)
        assert entered.wait(5)
        assert breaker.state == "half_open"
        others = [pool.submit(attempt) for _ in range(49)]
        rejected = [f.result(timeout=5) for f in others]
        release.set()
        assert probe.result(timeout=5) == "pong"
    assert rejected == ["fast fail"] * 49
    assert len(probes) == 1
    assert breaker.state == "closed"


def test_fifty_callers_released_together_after_cool_down_make_one_call():
    clock = Clock()
    breaker = SlowBreaker(failure_threshold=5, reset_timeout=30.0, clock=clock)
    trip(breaker, Dependency(), 5)
    clock.now += 30.0
    barrier, release = threading.Barrier(50), threading.Event()
    probes, refused = [], []
    lock = threading.Lock()

    def probe_target() -> str:
        with lock:
            probes.append(1)
        release.wait(5)
        return "pong"

    def attempt() -> str:
        barrier.wait(5)
        try:
            return breaker.call(probe_target)
        except CircuitOpenError:
            with lock:
                refused.append(1)
            if len(refused) == 49:
                release.set()
            return "fast fail"

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = [f.result(timeout=10) for f in [pool.submit(attempt) for _ in range(50)]]
    assert sorted(results) == ["fast fail"] * 49 + ["pong"]
    assert len(probes) == 1
    assert breaker.state == "closed"


def test_concurrent_failures_open_exactly_once():
    clock = Clock()
    breaker = SlowBreaker(failure_threshold=10, reset_timeout=30.0, clock=clock)
    dep = Dependency()
    barrier = threading.Barrier(50)
    outcomes = []

    def attempt() -> None:
        barrier.wait(5)
        try:
            breaker.call(dep)
        except CircuitOpenError:
            outcomes.append("fast fail")
        except ConnectionError:
            outcomes.append("error")

    threads = [threading.Thread(target=attempt) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(outcomes) == 50
    assert outcomes.count("error") == dep.calls >= 10
    assert outcomes.count("fast fail") == 50 - dep.calls
    assert breaker.state == "open"
    assert breaker._generation == 1  # closed -> open happened once, not per straggler


def test_stale_success_from_before_opening_does_not_close(breaker, clock):
    dep = Dependency()
    entered, release = threading.Event(), threading.Event()

    def slow_success() -> str:
        entered.set()
        release.wait(5)
        return "late"

    t = threading.Thread(target=breaker.call, args=(slow_success,))
    t.start()
    assert entered.wait(5)
    trip(breaker, dep, 5)  # the circuit opens while the slow call is in flight
    release.set()
    t.join(5)
    assert breaker.state == "open"  # only a probe after the cool-down may close it


def test_failures_outside_counts_as_failure_do_not_trip(clock):
    class NotFound(Exception):
        pass

    breaker = CircuitBreaker(failure_threshold=2, clock=clock, counts_as_failure=(ConnectionError,))

    def missing() -> None:
        raise NotFound

    for _ in range(10):
        with pytest.raises(NotFound):
            breaker.call(missing)
    assert (breaker.state, breaker.failures) == ("closed", 0)


@pytest.mark.parametrize("cancel", [asyncio.CancelledError, KeyboardInterrupt])
def test_cancelled_probe_does_not_wedge_half_open(breaker, clock, cancel):
    """F-CBR-1: a probe ending in a BaseException must free the probe slot."""
    dep = Dependency()
    trip(breaker, dep, 5)
    clock.now += 30.0

    def cancelled_probe() -> str:
        raise cancel

    with pytest.raises(cancel):
        breaker.call(cancelled_probe)
    assert breaker.state == "half_open"
    dep.healthy = True
    assert breaker.call(dep) == "pong"  # the very next caller is the new probe
    assert breaker.state == "closed"


def test_a_probe_that_never_reports_loses_its_lease(breaker, clock):
    trip(breaker, Dependency(), 5)
    clock.now += 30.0
    outcomes = []

    def probe(entered: threading.Event, release: threading.Event, healthy: bool):
        def fn() -> str:
            entered.set()
            release.wait(5)
            if not healthy:
                raise ConnectionError("late failure")
            return "pong"

        def run() -> None:
            try:
                outcomes.append(breaker.call(fn))
            except ConnectionError:
                outcomes.append("error")

        thread = threading.Thread(target=run)
        thread.start()
        assert entered.wait(5)
        return thread

    lost_release, new_release = threading.Event(), threading.Event()
    lost = probe(threading.Event(), lost_release, healthy=False)
    clock.now += snippet.PROBE_TIMEOUT_SECONDS - 0.001
    with pytest.raises(CircuitOpenError):
        breaker.call(Dependency())  # the first probe's lease still holds
    clock.now += 0.001
    new = probe(threading.Event(), new_release, healthy=True)  # lease over: a new probe
    lost_release.set()
    lost.join(5)
    assert breaker.state == "half_open"  # the lost probe's late failure is stale news
    new_release.set()
    new.join(5)
    assert outcomes == ["error", "pong"]
    assert breaker.state == "closed"


def test_cancelled_call_while_closed_neither_counts_nor_resets(breaker):
    dep = Dependency()
    trip(breaker, dep, 4)

    def cancelled() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        breaker.call(cancelled)
    assert (breaker.state, breaker.failures) == ("closed", 4)
