"""A circuit breaker: closed, open after N consecutive failures, one half-open probe."""

import asyncio
import threading
import time
from collections.abc import Callable

FAILURE_THRESHOLD = 5
RESET_TIMEOUT_SECONDS = 30
PROBE_TIMEOUT_SECONDS = 10  # a probe that never reports loses its slot after this


class CircuitOpenError(Exception):
    """Raised without calling the dependency: the circuit is open, or a probe runs."""


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = FAILURE_THRESHOLD,
        reset_timeout: float = RESET_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        counts_as_failure: tuple[type[BaseException], ...] = (Exception,),
        probe_timeout: float = PROBE_TIMEOUT_SECONDS,
    ):
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.probe_timeout = probe_timeout
        self.clock = clock
        self.counts_as_failure = counts_as_failure
        self.state = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self._probe_lease = float("-inf")  # half-open: a new probe may start after this
        self._generation = 0  # bumped on every state change and every probe admitted
        self._lock = threading.Lock()

    def _set(self, state: str) -> None:
        self.state, self.failures = state, 0
        self.opened_at = self.clock() if state == "open" else self.opened_at
        self._probe_lease = float("-inf")
        self._generation += 1

    def _admit(self) -> int:
        with self._lock:
            if self.state == "closed":
                return self._generation
            now = self.clock()
            if self.state == "open" and now - self.opened_at >= self.reset_timeout:
                self._set("half_open")
            if self.state == "half_open" and now >= self._probe_lease:
                self._probe_lease = now + self.probe_timeout  # this caller is the probe
                self._generation += 1  # a lost probe's late result is now stale
                return self._generation
            raise CircuitOpenError(f"circuit {self.state}, failing fast")

    def _record(self, generation: int, ok: bool | None) -> None:
        with self._lock:
            if generation != self._generation:
                return  # admitted before the last state change: stale news
            if ok is None:  # cancelled: no news about the dependency
                if self.state == "half_open":
                    self._probe_lease = float("-inf")  # the next caller probes
                return
            if ok:
                self.failures = 0
                if self.state != "closed":
                    self._set("closed")
                return
            self.failures += 1
            if self.state == "half_open" or self.failures >= self.failure_threshold:
                self._set("open")

    def call(self, fn: Callable[..., object], *args, **kwargs) -> object:
        generation = self._admit()
        ok = None  # stays None if fn ends in a BaseException such as CancelledError
        try:
            result = fn(*args, **kwargs)
            ok = True
            return result
        except self.counts_as_failure:
            ok = False
            raise
        except Exception:
            ok = True  # e.g. a 4xx: the dependency answered
            raise
        finally:
            self._record(generation, ok)


if __name__ == "__main__":
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=3, clock=lambda: now[0])
    health = ["down"]
    calls = []

    def fetch_stock(sku: str) -> int:
        calls.append(sku)
        if health[0] == "down":
            raise ConnectionError("inventory unreachable")
        if health[0] == "cancel":  # e.g. the caller's task was cancelled mid-call
            raise asyncio.CancelledError
        return 7

    def attempt() -> str:
        try:
            return f"ok {breaker.call(fetch_stock, 'sku_123')}"
        except CircuitOpenError:
            return "fast fail"
        except ConnectionError:
            return "error"
        except asyncio.CancelledError:
            return "cancelled"

    for _ in range(4):
        print(attempt(), breaker.state, len(calls))
        #> error closed 1
        #> error closed 2
        #> error open 3
        #> fast fail open 3
    now[0] = 30.0  # cool-down over: the next call is the single probe
    print(attempt(), breaker.state, len(calls))
    #> error open 4
    now[0] = 60.0
    health[0] = "cancel"  # the probe is cancelled: its slot goes to the next caller
    print(attempt(), breaker.state, len(calls))
    #> cancelled half_open 5
    health[0] = "up"
    print(attempt(), breaker.state, len(calls))
    #> ok 7 closed 6
