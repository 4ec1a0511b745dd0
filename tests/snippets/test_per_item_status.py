"""Behaviour of per-item batch results: one status per item, every valid item applied once."""

import asyncio
from collections import Counter

import httpx
import per_item_status as snippet
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

INVALID = (3, 250, 500, 750, 999)


def batch(size=1000, invalid=INVALID) -> list[dict]:
    items = [{"email": f"user{i}@example.com"} for i in range(size)]
    for i in invalid:
        items[i] = {"email": f"user{i} at example.com"}
    return items


@pytest.fixture
def validations(monkeypatch) -> Counter:
    """Counts how often each item index is processed (validated) by the worker."""
    calls: Counter = Counter()
    original = snippet.validate

    def counting(index, item):
        calls[index] += 1
        return original(index, item)

    monkeypatch.setattr(snippet, "validate", counting)
    return calls


def run(scenario, app=None, raise_app_exceptions=True):
    app = app or snippet.create_app()

    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
            return await scenario(c, app)

    return asyncio.run(go())


async def submit(c, items, key="k1"):
    return await c.post(
        "/contacts/batches", json={"items": items}, headers={"Idempotency-Key": key}
    )


def test_batch_of_1000_with_5_invalid_reports_a_status_per_item(validations):
    async def scenario(c, app):
        submitted = await submit(c, batch())
        assert submitted.status_code == 202
        assert submitted.headers["location"] == "/jobs/job_1"
        return (await c.get("/jobs/job_1")).json(), app

    job, app = run(scenario)
    assert job["status"] == "completed"
    assert job["summary"] == {"succeeded": 995, "failed": 5}
    assert [r["index"] for r in job["results"]] == list(range(1000))
    failed = [r for r in job["results"] if r["status"] != 201]
    assert [r["index"] for r in failed] == list(INVALID)
    for r in failed:
        assert r == {
            "index": r["index"],
            "status": 422,
            "problem": {
                "type": "https://docs.example/problems/invalid-field",
                "title": "Invalid field",
                "status": 422,
                "detail": "email must be an email address",
                "pointer": f"/items/{r['index']}/email",
            },
        }
    ok = [r for r in job["results"] if r["status"] == 201]
    assert len({r["id"] for r in ok}) == 995
    emails = Counter(c["email"] for c in app.state.contacts.values())
    assert len(app.state.contacts) == 995
    assert set(emails.values()) == {1}
    assert {app.state.contacts[r["id"]]["email"] for r in ok} == {
        f"user{i}@example.com" for i in range(1000) if i not in INVALID
    }
    assert validations == Counter({i: 1 for i in range(1000)})


def test_retrying_with_the_same_key_does_no_work_twice(validations):
    async def scenario(c, app):
        first = await submit(c, batch())
        contacts = dict(app.state.contacts)
        for _ in range(3):
            retry = await submit(c, batch())
            assert retry.status_code == 202
            assert retry.headers["location"] == first.headers["location"]
            assert retry.json() == {"id": "job_1"}
        assert app.state.contacts == contacts
        assert len(app.state.jobs) == 1

    run(scenario)
    assert sum(validations.values()) == 1000


def test_fifty_concurrent_retries_make_one_job(validations):
    async def scenario(c, app):
        responses = await asyncio.gather(*(submit(c, batch()) for _ in range(50)))
        assert {r.status_code for r in responses} == {202}
        assert {r.headers["location"] for r in responses} == {"/jobs/job_1"}
        assert list(app.state.jobs) == ["job_1"]
        assert len(app.state.contacts) == 995

    run(scenario)
    assert validations == Counter({i: 1 for i in range(1000)})


def test_key_reused_with_a_different_batch_is_refused():
    async def scenario(c, app):
        await submit(c, batch())
        other = await submit(c, batch(invalid=(1,)))
        assert other.status_code == 422
        assert other.headers["content-type"] == "application/problem+json"
        assert other.json() == {"title": "Idempotency-Key reused with another body", "status": 422}
        assert len(app.state.jobs) == 1 and len(app.state.contacts) == 995

    run(scenario)


def test_missing_idempotency_key_is_a_400_problem():
    async def scenario(c, app):
        response = await c.post("/contacts/batches", json={"items": batch(10, ())})
        assert response.status_code == 400
        assert response.json() == {"title": "Idempotency-Key header required", "status": 400}
        assert app.state.jobs == {} and app.state.contacts == {}

    run(scenario)


def test_worker_crash_midway_resumes_without_applying_any_item_twice(monkeypatch):
    original = snippet.validate
    crashed = []

    def crash_once_at_600(index, item):
        if index == 600 and not crashed:
            crashed.append(index)
            raise RuntimeError("worker killed")
        return original(index, item)

    monkeypatch.setattr(snippet, "validate", crash_once_at_600)
    app = snippet.create_app()

    async def scenario(c, app):
        assert (await submit(c, batch())).status_code == 202
        return (await c.get("/jobs/job_1")).json()

    partial = run(scenario, app, raise_app_exceptions=False)
    assert crashed == [600]
    assert partial["status"] == "running"
    assert len(partial["results"]) == 600
    assert len(app.state.contacts) == 597  # items 3, 250 and 500 are invalid
    before = {r["index"]: r for r in partial["results"]}
    app.state.process("job_1")  # the restarted worker picks the job up again
    done = run(lambda c, _: c.get("/jobs/job_1"), app).json()
    assert done["status"] == "completed"
    assert done["summary"] == {"succeeded": 995, "failed": 5}
    assert all(done["results"][i] == r for i, r in before.items())
    assert len(app.state.contacts) == 995
    assert set(Counter(c["email"] for c in app.state.contacts.values()).values()) == {1}


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_statuses_match_the_invalid_items_for_any_batch(case):
    size, invalid = case

    async def scenario(c, app):
        await submit(c, batch(size, invalid))
        await submit(c, batch(size, invalid))
        return (await c.get("/jobs/job_1")).json(), app

    job, app = run(scenario)
    assert [r["status"] for r in job["results"]] == [
        422 if i in invalid else 201 for i in range(size)
    ]
    assert len(app.state.contacts) == size - len(invalid)
