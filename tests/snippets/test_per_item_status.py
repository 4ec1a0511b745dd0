"""Behaviour of per-item batch results: one status per item, every valid item applied once."""

import asyncio
import json
from collections import Counter

import httpx
import jsonpointer
import per_item_status as snippet
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

INVALID = (3, 250, 500, 750, 999)
PROBLEMS = "https://api.example.com/problems/"


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


def run(scenario, app=None):
    app = app or snippet.create_app()

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
            return await scenario(c, app)

    return asyncio.run(go())


async def submit(c, items, key="k1"):
    return await c.post(
        "/contacts/batches", json={"items": items}, headers={"Idempotency-Key": key}
    )


async def finished(c, job_id="job_1"):
    for _ in range(10_000):
        job = (await c.get(f"/jobs/{job_id}")).json()
        assert job["status"] in ("queued", "running", "succeeded", "failed"), job["status"]
        if job["status"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0)
    raise AssertionError("the job never finished")


def test_batch_of_1000_with_5_invalid_reports_a_status_per_item(validations):
    async def scenario(c, app):
        submitted = await submit(c, batch())
        assert submitted.status_code == 202
        assert submitted.headers["location"] == "/jobs/job_1"
        return await finished(c), app

    job, app = run(scenario)
    assert job["status"] == "succeeded"  # the job did its work; items carry outcomes
    assert job["summary"] == {"succeeded": 995, "failed": 5}
    assert [r["index"] for r in job["results"]] == list(range(1000))
    assert {r["status"] for r in job["results"]} == {"succeeded", "failed"}
    failed = [r for r in job["results"] if r["status"] == "failed"]
    assert [r["index"] for r in failed] == list(INVALID)
    for r in failed:
        assert r == {
            "index": r["index"],
            "status": "failed",
            "problem": {
                "type": PROBLEMS + "invalid-request",
                "title": "Invalid request",
                "status": 400,
                "detail": "The item is not valid.",
                "retryable": False,
                "errors": [
                    {"pointer": f"/items/{r['index']}/email", "detail": "Not an email address."}
                ],
            },
        }
    ok = [r for r in job["results"] if r["status"] == "succeeded"]
    assert len({r["id"] for r in ok}) == 995
    assert len(app.state.contacts) == 995
    assert set(Counter(c["email"] for c in app.state.contacts.values()).values()) == {1}
    assert validations == Counter({i: 1 for i in range(1000)})


def test_every_pointer_resolves_in_the_request_body():
    """RFC 6901 from the body root: each failed item's pointer names the bad value."""
    items = batch(20, invalid=(2, 7))

    async def scenario(c, app):
        await submit(c, items)
        return await finished(c)

    body = {"items": items}
    failed = [r for r in run(scenario)["results"] if r["status"] == "failed"]
    assert [r["index"] for r in failed] == [2, 7]
    for r in failed:
        pointer = r["problem"]["errors"][0]["pointer"]
        # jsonpointer: an independent RFC 6901 implementation
        assert jsonpointer.resolve_pointer(body, pointer) == f"user{r['index']} at example.com"


def test_the_202_is_queued_with_location_and_retry_after():
    async def scenario(c, app):
        r = await submit(c, batch(10, ()))
        assert r.status_code == 202
        assert r.headers["location"] == "/jobs/job_1"
        assert r.headers["retry-after"] == str(snippet.RETRY_AFTER_SECONDS)
        assert r.json()["status"] == "queued" and r.json()["href"] == "/jobs/job_1"
        job = await finished(c)
        done = await c.get("/jobs/job_1")
        assert "retry-after" not in done.headers
        return job

    assert run(scenario)["status"] == "succeeded"


def test_the_job_runs_after_the_response_not_inside_it(validations):
    """A real background task: when the 202 arrives, the batch is not yet processed
    (FastAPI's BackgroundTasks would have run all 1000 items before the client saw it)."""

    async def scenario(c, app):
        r = await submit(c, batch())
        seen_at_202 = sum(validations.values())
        return r, seen_at_202, await finished(c)

    r, seen_at_202, job = run(scenario)
    assert r.json()["status"] == "queued" and r.json()["results"] == []
    assert seen_at_202 < 1000
    assert job["status"] == "succeeded"


def test_retrying_with_the_same_key_does_no_work_twice(validations):
    async def scenario(c, app):
        first = await submit(c, batch())
        await finished(c)
        contacts = dict(app.state.contacts)
        for _ in range(3):
            retry = await submit(c, batch())
            assert retry.status_code == 202
            assert retry.headers["location"] == first.headers["location"]
            assert retry.json()["id"] == "job_1"
        assert app.state.contacts == contacts
        assert len(app.state.jobs) == 1

    run(scenario)
    assert sum(validations.values()) == 1000


def test_fifty_concurrent_retries_make_one_job(validations):
    async def scenario(c, app):
        responses = await asyncio.gather(*(submit(c, batch()) for _ in range(50)))
        assert {r.status_code for r in responses} == {202}
        assert {r.headers["location"] for r in responses} == {"/jobs/job_1"}
        await finished(c)
        assert list(app.state.jobs) == ["job_1"]
        assert len(app.state.contacts) == 995

    run(scenario)
    assert validations == Counter({i: 1 for i in range(1000)})


def test_the_same_batch_formatted_differently_is_the_same_batch():
    items = [item | {"name": f"User {i}"} for i, item in enumerate(batch(30, (4,)))]

    async def scenario(c, app):
        await submit(c, items)
        spaced = json.dumps({"items": [dict(reversed(i.items())) for i in items]}, indent=2)
        again = await c.post(
            "/contacts/batches",
            content=spaced.encode(),
            headers={"Idempotency-Key": "k1", "Content-Type": "application/json"},
        )
        assert again.status_code == 202 and again.json()["id"] == "job_1"
        await finished(c)
        assert len(app.state.jobs) == 1

    run(scenario)


def test_key_reused_with_a_different_batch_is_refused():
    async def scenario(c, app):
        await submit(c, batch())
        await finished(c)
        other = await submit(c, batch(invalid=(1,)))
        assert other.status_code == 422
        assert other.headers["content-type"] == "application/problem+json"
        assert other.json() == {
            "type": PROBLEMS + "idempotency-key-reused",
            "title": "Idempotency-Key already used",
            "status": 422,
            "detail": "The key came with another batch.",
            "retryable": False,
        }
        assert len(app.state.jobs) == 1 and len(app.state.contacts) == 995

    run(scenario)


def test_missing_idempotency_key_is_a_400_problem():
    async def scenario(c, app):
        response = await c.post("/contacts/batches", json={"items": batch(10, ())})
        assert response.status_code == 400
        assert response.json()["type"] == PROBLEMS + "idempotency-key-missing"
        assert response.json()["retryable"] is False
        assert app.state.jobs == {} and app.state.contacts == {}

    run(scenario)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"\xff\xfe{}", b"[]", b"{}", b'{"items": 3}', b'{"items": "ab"}',
     b'{"items": [1, 2]}', b'{"items": {"a": {}}}', b'{"items": null}'],
)  # fmt: skip
def test_malformed_batches_are_400_problems_never_500(body):
    async def scenario(c, app):
        r = await c.post(
            "/contacts/batches",
            content=body,
            headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
        )
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == PROBLEMS + "invalid-request"
        assert r.json()["errors"] == [{"pointer": "/items", "detail": "A list of objects."}]
        assert app.state.jobs == {}

    run(scenario)


def test_unknown_job_and_unknown_paths_are_404_problems():
    async def scenario(c, app):
        for path in ("/jobs/job_404", "/nowhere"):
            r = await c.get(path)
            assert r.status_code == 404
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"] == PROBLEMS + "not-found"
        r = await c.delete("/contacts/batches")
        assert r.status_code == 405 and r.json()["type"] == PROBLEMS + "method-not-allowed"

    run(scenario)


class Killed(BaseException):
    """The worker process dying: not an Exception, so nothing in the job catches it."""


class DiesAfterWrite(dict):
    """The contact store: the 598th write lands, then the worker dies before the item's
    result is recorded (the window between the side effect and its record)."""

    def __init__(self):
        super().__init__()
        self.writes, self.died = 0, False

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.writes += 1
        if self.writes == 598 and not self.died:
            self.died = True
            raise Killed


def test_a_crash_between_the_write_and_its_record_duplicates_nothing():
    store = DiesAfterWrite()
    app = snippet.create_app(contacts=store)

    async def scenario(c, app):
        await submit(c, batch())
        for _ in range(100):
            await asyncio.sleep(0)
        partial = (await c.get("/jobs/job_1")).json()
        assert store.died and partial["status"] == "running"
        assert len(partial["results"]) == 600  # items 0-599; 600 was written, not recorded
        assert len(store) == 598  # 3, 250 and 500 are invalid
        app.state.resume()  # the restarted worker picks the job up again
        return partial, await finished(c)

    partial, done = run(scenario, app)
    assert done["status"] == "succeeded"
    assert done["summary"] == {"succeeded": 995, "failed": 5}
    before = {r["index"]: r for r in partial["results"]}
    assert all(done["results"][i] == r for i, r in before.items())
    assert len(store) == 995
    assert set(Counter(c["email"] for c in store.values()).values()) == {1}


class Broken(dict):
    def __setitem__(self, key, value):
        raise RuntimeError("the contact database is gone")


def test_a_job_that_cannot_finish_is_failed_with_a_problem():
    async def scenario(c, app):
        await submit(c, batch(5, ()))
        return await finished(c)

    job = run(scenario, snippet.create_app(contacts=Broken()))
    assert job["status"] == "failed"
    assert job["error"] == {
        "type": PROBLEMS + "internal-error",
        "title": "Internal error",
        "status": 500,
        "detail": "The batch stopped; resubmit it.",
        "retryable": True,
    }


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_statuses_match_the_invalid_items_for_any_batch(case):
    size, invalid = case

    async def scenario(c, app):
        await submit(c, batch(size, invalid))
        await submit(c, batch(size, invalid))
        return await finished(c), app

    job, app = run(scenario)
    assert [r["status"] for r in job["results"]] == [
        "failed" if i in invalid else "succeeded" for i in range(size)
    ]
    assert len(app.state.contacts) == size - len(invalid)
