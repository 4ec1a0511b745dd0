"""F-CBR-3: the breaker inside the retry loop counts every attempt and stops the loop."""

import circuit_breakers as snippet
from circuit_breakers import CircuitBreaker, CircuitOpenError

ATTEMPTS = 4


def retry(fn):
    """At most ATTEMPTS attempts; CircuitOpenError is final, never retried."""
    for attempt in range(ATTEMPTS):
        try:
            return fn()
        except CircuitOpenError:
            raise
        except ConnectionError:
            if attempt + 1 == ATTEMPTS:
                raise


def down() -> None:
    raise ConnectionError("inventory unreachable")


def run(order: str, calls: int) -> tuple[CircuitBreaker, list[str]]:
    now = [0.0]
    breaker = CircuitBreaker(clock=lambda: now[0])
    sent, outcomes = [], []

    def attempt() -> None:
        sent.append("attempt")
        down()

    for _ in range(calls):
        try:
            if order == "retry outside":
                retry(lambda: breaker.call(attempt))
            else:  # breaker outside the retries
                breaker.call(lambda: retry(attempt))
        except CircuitOpenError:
            outcomes.append("fast fail")
        except ConnectionError:
            outcomes.append("error")
    return breaker, sent


def test_retry_outside_the_breaker_opens_after_threshold_attempts():
    breaker, sent = run("retry outside", calls=3)
    assert breaker.state == "open"
    # Call 1: four failed attempts; call 2: the fifth opens the circuit, the loop stops
    # at CircuitOpenError on its next attempt; call 3 fails fast without an attempt.
    assert len(sent) == snippet.FAILURE_THRESHOLD == 5


def test_breaker_outside_the_retries_needs_twenty_attempts_to_open():
    breaker, sent = run("breaker outside", calls=5)
    assert breaker.state == "open"
    assert len(sent) == snippet.FAILURE_THRESHOLD * ATTEMPTS == 20
    breaker4, sent4 = run("breaker outside", calls=4)
    assert breaker4.state == "closed" and len(sent4) == 16
