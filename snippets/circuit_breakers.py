"""A circuit breaker: closed, open after N consecutive failures, one half-open probe."""

import threading
import time
from collections.abc import Callable

FAILURE_THRESHOLD = 5
RESET_TIMEOUT_SECONDS = 30


class CircuitOpenError(Exception):
    """Raised without calling the dependency: the circuit is open or a probe is running."""


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = FAILURE_THRESHOLD,
        reset_timeout: float = RESET_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        counts_as_failure: tuple[type[BaseException], ...] = (Exception,),
    ):
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.clock = clock
        self.counts_as_failure = counts_as_failure
        self.state = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self._generation = 0  # bumped on every state change
        self._lock = threading.Lock()

    def _set(self, state: str) -> None:
        self.state, self.failures = state, 0
        self.opened_at = self.clock() if state == "open" else self.opened_at
        self._generation += 1

    def _admit(self) -> int:
        with self._lock:
            if self.state == "closed":
                return self._generation
            if (
                self.state == "open"
                and self.clock() - self.opened_at >= self.reset_timeout
            ):
                self._set("half_open")  # this caller is the one probe
                return self._generation
            raise CircuitOpenError(f"circuit {self.state}, failing fast")

    def _record(self, generation: int, ok: bool) -> None:
        with self._lock:
            if generation != self._generation:
                return  # admitted before the last state change: stale news
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
        try:
            result = fn(*args, **kwargs)
        except self.counts_as_failure:
            self._record(generation, ok=False)
            raise
        except Exception:
            self._record(generation, ok=True)  # e.g. a 4xx: the dependency answered
            raise
        self._record(generation, ok=True)
        return result


if __name__ == "__main__":
    now = [0.0]
    breaker = CircuitBreaker(
        failure_threshold=3, reset_timeout=30, clock=lambda: now[0]
    )
    healthy = [False]
    calls = []

    def fetch_stock(sku: str) -> int:
        calls.append(sku)
        if not healthy[0]:
            raise ConnectionError("inventory unreachable")
        return 7

    def attempt() -> str:
        try:
            return f"ok {breaker.call(fetch_stock, 'sku_123')}"
        except CircuitOpenError:
            return "fast fail"
        except ConnectionError:
            return "error"

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
    healthy[0] = True
    print(attempt(), breaker.state, len(calls))
    #> ok 7 closed 5
