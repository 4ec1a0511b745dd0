"""Behaviour of the side-by-side versions with Deprecation (RFC 9745) and Sunset (RFC 8594)."""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest
import versioning_and_deprecation as snippet
from hypothesis import given, settings
from hypothesis import strategies as st

PLAN = snippet.RETIREMENTS["v1"]


def get(path: str, now: datetime) -> httpx.Response:
    async def go():
        app = snippet.create_app(clock=lambda: now)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
            return await c.get(path)

    return asyncio.run(go())


def test_both_versions_are_served_side_by_side():
    now = datetime(2026, 11, 25, tzinfo=UTC)
    assert get("/v1/customers/cus_1", now).json() == {"id": "cus_1", "name": "Ada Lovelace"}
    new = get("/v2/customers/cus_1", now)
    assert new.json() == {"id": "cus_1", "given_name": "Ada", "family_name": "Lovelace"}
    assert {"deprecation", "sunset", "link"}.isdisjoint(new.headers)


def test_deprecated_response_carries_rfc9745_rfc8594_headers():
    response = get("/v1/customers/cus_1", datetime(2026, 11, 25, tzinfo=UTC))
    assert response.status_code == 200
    # RFC 9745: Deprecation is a Structured Field Date, "@" followed by epoch seconds.
    match = re.fullmatch(r"@(-?\d{1,15})", response.headers["deprecation"])
    assert match, response.headers["deprecation"]
    assert datetime.fromtimestamp(int(match[1]), UTC) == datetime(2026, 6, 1, tzinfo=UTC)
    # RFC 8594: Sunset is an IMF-fixdate HTTP-date.
    sunset = response.headers["sunset"]
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", sunset)
    assert parsedate_to_datetime(sunset) == datetime(2027, 6, 1, tzinfo=UTC)
    assert response.links["deprecation"] == {
        "url": "https://docs.example/migrate/v1-to-v2",
        "rel": "deprecation",
        "type": "text/html",
    }
    assert response.links["successor-version"]["url"] == "/v2/customers/cus_1"


def test_headers_are_sent_before_the_deprecation_date_as_an_announcement():
    response = get("/v1/customers/cus_1", datetime(2026, 1, 1, tzinfo=UTC))
    assert response.status_code == 200
    assert response.headers["deprecation"] == "@1780272000"


def test_old_client_works_until_the_last_second_before_sunset():
    last_second = PLAN.sunset_at - timedelta(seconds=1)
    response = get("/v1/customers/cus_1", last_second)
    assert response.status_code == 200
    assert response.json()["name"] == "Ada Lovelace"


def test_at_and_after_sunset_v1_is_410_problem_and_v2_still_works():
    for now in (PLAN.sunset_at, PLAN.sunset_at + timedelta(days=400)):
        gone = get("/v1/customers/cus_1", now)
        assert gone.status_code == 410
        assert gone.headers["content-type"] == "application/problem+json"
        assert gone.json() == {
            "type": "https://docs.example/problems/version-retired",
            "title": "API version retired",
            "status": 410,
            "detail": "v1 was retired on 2027-06-01; move to v2 using the migration guide",
        }
        assert gone.links["deprecation"]["url"] == PLAN.guide
        assert get("/v2/customers/cus_1", now).status_code == 200


def test_410_applies_to_every_v1_route_even_unknown_ones():
    gone = get("/v1/anything/else", PLAN.sunset_at)
    assert gone.status_code == 410
    assert gone.links["successor-version"]["url"] == "/v2/anything/else"


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2029, 1, 1)))
def test_status_is_determined_by_the_sunset_date_alone(naive):
    now = naive.replace(tzinfo=UTC)
    response = get("/v1/customers/cus_1", now)
    assert response.status_code == (200 if now < PLAN.sunset_at else 410)


def test_deprecation_window_is_at_least_twelve_months():
    assert snippet.MIN_DEPRECATION_DAYS == 365
    start = datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="sunset must be >= 365 days after deprecation"):
        snippet.Retirement(start, start + timedelta(days=364, hours=23), "g", "v3")
    snippet.Retirement(start, start + timedelta(days=365), "g", "v3")
    for plan in snippet.RETIREMENTS.values():
        assert plan.sunset_at - plan.deprecated_at >= timedelta(days=365)
