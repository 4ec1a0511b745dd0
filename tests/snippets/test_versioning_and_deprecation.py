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
BEFORE = datetime(2026, 11, 25, tzinfo=UTC)
BROWNOUT_START, BROWNOUT_END = PLAN.brownouts[0]


def get(path: str, now: datetime, plans=None, headers=None, method="GET") -> httpx.Response:
    async def go():
        app = snippet.create_app(plans or snippet.RETIREMENTS, clock=lambda: now)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
            return await c.request(method, path, headers=headers)

    return asyncio.run(go())


def assert_lifecycle_headers(response: httpx.Response) -> None:
    assert response.headers["deprecation"] == "@1780272000"
    assert response.headers["sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
    assert response.links["deprecation"]["url"] == PLAN.guide
    assert response.links["sunset"]["url"] == "https://docs.example/deprecation-policy"
    assert "successor-version" in response.links


def assert_problem(response: httpx.Response, slug: str, status: int, retryable=False):
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://api.example.com/problems/{slug}"
    assert (body["status"], body["retryable"]) == (status, retryable)
    assert {"title", "detail"} <= set(body)
    return body


def test_both_versions_are_served_side_by_side():
    assert get("/v1/customers/cus_1", BEFORE).json() == {"id": "cus_1", "name": "Ada Lovelace"}
    new = get("/v2/customers/cus_1", BEFORE)
    assert new.json() == {"id": "cus_1", "given_name": "Ada", "family_name": "Lovelace"}
    assert {"deprecation", "sunset", "link"}.isdisjoint(new.headers)


def test_deprecated_response_carries_rfc9745_rfc8594_headers():
    response = get("/v1/customers/cus_1", BEFORE)
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


def test_a_sunset_link_points_at_the_policy_page():
    """F-VER-3: RFC 8594 section 6 defines the `sunset` link relation."""
    response = get("/v1/customers/cus_1", BEFORE)
    assert response.links["sunset"] == {
        "url": "https://docs.example/deprecation-policy",
        "rel": "sunset",
    }


def test_an_unknown_id_on_v1_is_a_404_problem_with_the_lifecycle_headers():
    """F-VER-2: errors carry the plan too, and are never a 500."""
    response = get("/v1/customers/cus_9", BEFORE)
    assert_problem(response, "not-found", 404)
    assert_lifecycle_headers(response)
    assert_problem(get("/v2/customers/cus_9", BEFORE), "not-found", 404)


def test_unknown_routes_and_methods_on_v1_are_problems_with_the_headers():
    missing = get("/v1/nothing-here", BEFORE)
    assert_problem(missing, "not-found", 404)
    assert_lifecycle_headers(missing)
    wrong = get("/v1/customers/cus_1", BEFORE, method="DELETE")
    assert_problem(wrong, "method-not-allowed", 405)
    assert wrong.headers["allow"] == "GET"
    assert_lifecycle_headers(wrong)


def test_headers_start_on_the_announcement_day_and_not_before():
    plans = {"v1": snippet.Retirement(
        announced_at=datetime(2026, 6, 1, tzinfo=UTC),
        deprecated_at=datetime(2026, 9, 1, tzinfo=UTC),  # announced ahead of time
        sunset_at=datetime(2027, 6, 1, tzinfo=UTC),
        guide=PLAN.guide, successor="v2",
    )}  # fmt: skip
    quiet = get("/v1/customers/cus_1", datetime(2026, 5, 31, tzinfo=UTC), plans)
    assert "deprecation" not in quiet.headers
    told = get("/v1/customers/cus_1", datetime(2026, 6, 1, tzinfo=UTC), plans)
    assert told.headers["deprecation"] == f"@{int(datetime(2026, 9, 1, tzinfo=UTC).timestamp())}"


def test_old_client_works_until_the_last_second_before_sunset():
    last_second = PLAN.sunset_at - timedelta(seconds=1)
    response = get("/v1/customers/cus_1", last_second)
    assert response.status_code == 200
    assert response.json()["name"] == "Ada Lovelace"


def test_at_and_after_sunset_v1_is_410_problem_and_v2_still_works():
    for now in (PLAN.sunset_at, PLAN.sunset_at + timedelta(days=400)):
        gone = get("/v1/customers/cus_1", now)
        assert gone.json() == {
            "type": "https://api.example.com/problems/version-retired",
            "title": "API version retired",
            "status": 410,
            "detail": "v1 was retired on 2027-06-01; use v2",
            "retryable": False,
        }
        assert gone.headers["content-type"] == "application/problem+json"
        assert_lifecycle_headers(gone)
        assert get("/v2/customers/cus_1", now).status_code == 200


def test_410_applies_to_every_v1_route_even_unknown_ones():
    gone = get("/v1/anything/else", PLAN.sunset_at)
    assert_problem(gone, "version-retired", 410)
    assert gone.links["successor-version"]["url"] == "/v2/anything/else"


def test_a_brownout_answers_410_with_retry_after_until_it_ends():
    """F-VER-4: a planned outage before the sunset finds the integrations still on v1."""
    during = BROWNOUT_START + timedelta(hours=1)
    response = get("/v1/customers/cus_1", during)
    assert_problem(response, "version-brownout", 410, retryable=True)
    assert response.headers["retry-after"] == str(3 * 3600)
    assert_lifecycle_headers(response)
    assert get("/v1/customers/cus_1", BROWNOUT_START - timedelta(seconds=1)).status_code == 200
    assert get("/v1/customers/cus_1", BROWNOUT_START).status_code == 410
    assert get("/v1/customers/cus_1", BROWNOUT_END).status_code == 200
    assert get("/v2/customers/cus_1", during).status_code == 200


def test_brownouts_are_before_the_sunset():
    for start, end in PLAN.brownouts:
        assert PLAN.announced_at < start < end < PLAN.sunset_at


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2029, 1, 1)))
def test_status_is_determined_by_the_sunset_and_brownout_dates_alone(naive):
    now = naive.replace(tzinfo=UTC)
    response = get("/v1/customers/cus_1", now)
    in_brownout = any(start <= now < end for start, end in PLAN.brownouts)
    assert response.status_code == (410 if now >= PLAN.sunset_at or in_brownout else 200)


# --- twelve months of notice, counted from the announcement (F-VER-1) -----------------------


def test_notice_is_at_least_twelve_months_from_the_announcement():
    assert snippet.MIN_NOTICE_DAYS == 365
    start = datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="sunset must be >= 365 days after notice"):
        snippet.Retirement(start, start, start + timedelta(days=364, hours=23), "g", "v3")
    snippet.Retirement(start, start, start + timedelta(days=365), "g", "v3")
    for plan in snippet.RETIREMENTS.values():
        assert plan.sunset_at - plan.announced_at >= timedelta(days=365)


def test_a_deprecation_date_in_the_past_does_not_buy_notice():
    """F-VER-1 as reproduced: deprecated 400 days ago on paper, sunset tomorrow."""
    now = datetime(2027, 1, 1, tzinfo=UTC)
    plan = snippet.Retirement(
        now - timedelta(days=400), now - timedelta(days=400), now + timedelta(days=1), "g", "v3"
    )
    plans = {}
    with pytest.raises(ValueError, match="announced_at is in the past"):
        snippet.announce(plans, "v2", plan, now)
    assert plans == {}
    with pytest.raises(ValueError, match="365 days after notice"):
        snippet.Retirement(now, now - timedelta(days=400), now + timedelta(days=1), "g", "v3")


def test_announcing_from_today_is_accepted_and_served():
    now = datetime(2027, 1, 1, tzinfo=UTC)
    plans = {}
    plan = snippet.Retirement(now, now, now + timedelta(days=365), "g", "v3")
    snippet.announce(plans, "v2", plan, now)
    response = get("/v2/customers/cus_1", now, plans)
    assert response.headers["sunset"] == "Sat, 01 Jan 2028 00:00:00 GMT"


def test_a_sunset_can_move_later_but_never_earlier():
    now = datetime(2027, 1, 1, tzinfo=UTC)
    plans = {}
    first = snippet.Retirement(now, now, now + timedelta(days=400), "g", "v3")
    snippet.announce(plans, "v2", first, now)
    earlier = snippet.Retirement(now, now, now + timedelta(days=370), "g", "v3")
    with pytest.raises(ValueError, match="never earlier"):
        snippet.announce(plans, "v2", earlier, now)
    later = snippet.Retirement(now, now, now + timedelta(days=500), "g", "v3")
    snippet.announce(plans, "v2", later, now)
    assert plans["v2"] is later


def test_deprecation_must_fall_between_announcement_and_sunset():
    start = datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="announce, then deprecate, then sunset"):
        snippet.Retirement(
            start, start + timedelta(days=500), start + timedelta(days=400), "g", "v"
        )


# --- OpenAPI and per-key usage (F-VER-5, F-VER-7) --------------------------------------------


def test_openapi_marks_every_v1_operation_deprecated_and_no_v2_one():
    schema = snippet.create_app(clock=lambda: BEFORE).openapi()
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            assert operation.get("deprecated", False) is path.startswith("/v1/")


def test_calls_to_the_deprecated_version_are_counted_per_caller():
    async def go():
        app = snippet.create_app(clock=lambda: BEFORE)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
            for key in ("sk_test_a", "sk_test_a", "sk_test_b"):
                await c.get("/v1/customers/cus_1", headers={"Authorization": f"Bearer {key}"})
            await c.get("/v1/customers/cus_9", headers={"Authorization": "Bearer sk_test_b"})
            await c.get("/v2/customers/cus_1", headers={"Authorization": "Bearer sk_test_c"})
        return app.state.usage

    usage = asyncio.run(go())
    assert sorted(usage.values()) == [2, 2]  # two callers on v1; v2 is not counted
    assert {version for version, _ in usage} == {"v1"}
    assert all("sk_test" not in caller for _, caller in usage)  # no raw keys in the log
