"""Records every HTTP response a snippet's app sends, and holds each error to the contract.

The contract is `docs/contributing/conventions.md`: an error is problem details whose `type`,
`status`, `title` and `retryable` are those of `data/problem-types.yml`, a 401 carries
`WWW-Authenticate`, and the registry's protocol exceptions answer in their protocol's format.
An app counts as a snippet's when it was constructed by code in a `snippets/` folder, so test
doubles built in the tests are not held to it. In-process (ASGITransport) and real-socket
(uvicorn) responses are both seen, because the recording wraps the application itself.
"""

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from starlette.applications import Starlette

from apipatterns.model import ProblemTypes
from apipatterns.problem_types import PROBLEMS

ROOT = Path(__file__).resolve().parent.parent
PROBLEM_JSON = "application/problem+json"
GRAPHQL_JSON = "application/graphql-response+json"


@dataclass
class Sent:
    """One response, as the snippet's app sent it."""

    module: str
    method: str
    path: str
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@dataclass
class Contract:
    """The registry and the snippet -> pattern map the checks need."""

    registry: ProblemTypes
    patterns: dict[str, str]  # snippet module -> pattern id

    @classmethod
    def load(cls, root: Path = ROOT) -> "Contract":
        data = yaml.safe_load((root / "data/problem-types.yml").read_text(encoding="utf-8"))
        patterns = {}
        for path in sorted((root / "data/patterns").glob("*.yml")):
            entry = yaml.safe_load(path.read_text(encoding="utf-8"))
            patterns[Path(entry["snippet"]).stem] = entry["id"]
        return cls(ProblemTypes.model_validate(data), patterns)


SENT: list[Sent] = []


def violations(sent: Sent, contract: Contract, decide=None) -> list[str]:
    """What is wrong with one response; empty when it keeps the contract."""
    if sent.status < 400:
        return []
    pattern = contract.patterns.get(sent.module, sent.module)
    where = f"{pattern}: {sent.method} {sent.path} -> {sent.status}"
    media_type = (sent.header("content-type") or [""])[0].split(";")[0].strip()
    for exception in contract.registry.exceptions:
        if exception.format == "graphql" and media_type != GRAPHQL_JSON:
            continue  # a request refused before GraphQL runs is a plain problem
        if exception.pattern == pattern and sent.path.startswith(exception.path):
            return [f"{where}: {m}" for m in _protocol_problems(sent, exception.format)]
    problems = []
    if sent.status == 401 and not sent.header("www-authenticate"):
        problems.append("a 401 without WWW-Authenticate (RFC 9110 §15.5.2)")
    if sent.method == "HEAD":
        return [f"{where}: {m}" for m in problems]
    if media_type != PROBLEM_JSON:
        return [
            f"{where}: {m}" for m in [*problems, f"{media_type or 'no'} body, not {PROBLEM_JSON}"]
        ]
    try:
        body = json.loads(sent.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return [f"{where}: {m}" for m in [*problems, "the body is not a JSON object"]]
    type_uri = body.get("type")
    slug = type_uri.removeprefix(PROBLEMS) if isinstance(type_uri, str) else None
    kind = next((t for t in contract.registry.types if t.slug == slug), None)
    if kind is None or not type_uri.startswith(PROBLEMS):
        problems.append(f"type {type_uri!r} is not in data/problem-types.yml")
        return [f"{where}: {m}" for m in problems]
    if sent.status != kind.status or body.get("status") != kind.status:
        problems.append(f"{slug} is {kind.status} in the registry, sent as {sent.status} "
                        f"with status {body.get('status')!r}")  # fmt: skip
    if body.get("title") != kind.title:
        problems.append(f"title {body.get('title')!r}, the registry's is {kind.title!r}")
    if body.get("retryable") is not kind.retryable:
        problems.append(f"retryable {body.get('retryable')!r}, the registry's is {kind.retryable}")
    if pattern not in kind.patterns:
        problems.append(f"{slug} is sent by {pattern}, which its registry entry does not list")
    if decide is not None and sent.status in (429, 503):
        verdict = decide(httpx.Response(sent.status, headers=sent.headers, content=sent.body))[0]
        expected = "retry" if kind.retryable else "final"
        if verdict != expected:
            problems.append(
                f"the error guide's decide() says {verdict!r}, the registry {expected!r}"
            )
    return [f"{where}: {m}" for m in problems]


def _protocol_problems(sent: Sent, format: str) -> list[str]:
    if format == "tus":
        return [] if sent.header("tus-resumable") else ["a tus response without Tus-Resumable"]
    if format == "graphql":
        try:
            errors = json.loads(sent.body).get("errors")
        except (ValueError, AttributeError):
            errors = None
        if isinstance(errors, list) and errors:
            return []
        return ['a GraphQL request error without an "errors" list (GraphQL over HTTP)']
    problems = []
    try:
        body = json.loads(sent.body)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        problems.append('an OAuth error without an {"error": "<code>"} body (RFC 6749 §5.2)')
    if sent.status == 401 and not sent.header("www-authenticate"):
        problems.append("a 401 without WWW-Authenticate (RFC 6749 §5.2)")
    return problems


def _constructed_by_snippet() -> str | None:
    """The snippet module whose code is constructing an app, if any."""
    frame = sys._getframe(2)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.parent.name == "snippets" and path.parent.parent.name != "tests":
            return path.stem
        if "site-packages" not in path.parts and path.name != Path(__file__).name:
            return None
        frame = frame.f_back
    return None


def install() -> None:
    """Wrap Starlette (and so FastAPI) to tag snippet apps and record what they send."""
    from fastapi import FastAPI

    if getattr(Starlette, "_recording", False):
        return
    Starlette._recording = True
    for cls in (Starlette, FastAPI):
        original_init = cls.__init__

        def init(self, *args, _original=original_init, **kwargs):
            if not hasattr(self, "_snippet"):
                self._snippet = _constructed_by_snippet()
            _original(self, *args, **kwargs)

        cls.__init__ = init
    original_call = Starlette.__call__

    async def call(self, scope, receive, send):
        module = getattr(self, "_snippet", None)
        if module is None or scope["type"] != "http" or scope.get("apipatterns.recorded"):
            return await original_call(self, scope, receive, send)
        scope["apipatterns.recorded"] = True
        sent = Sent(module, scope["method"], scope["path"])

        async def recording_send(message):
            if message["type"] == "http.response.start":
                sent.status = message["status"]
                sent.headers = [(k.decode("latin-1").lower(), v.decode("latin-1"))
                                for k, v in message.get("headers", [])]  # fmt: skip
            elif message["type"] == "http.response.body":
                sent.body += message.get("body", b"")
            await send(message)

        try:
            await original_call(self, scope, receive, recording_send)
        finally:
            if sent.status:
                SENT.append(sent)

    Starlette.__call__ = call
