"""The catalog format: one model per kind of YAML file in `data/`.

The docstrings below are the contributor reference: the Contributing section renders them
with mkdocstrings, and the JSON Schema that editors use for autocompletion takes its field
descriptions from the same docstrings.
"""

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

Id = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=60)]
"""Lowercase kebab-case, e.g. `cursor-pagination`: it is a URL, so it never changes."""

Markdown = Annotated[str, Field(min_length=1)]
"""Material for MkDocs Markdown, with `###` as the largest heading."""


class Entry(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, use_attribute_docstrings=True
    )


class Standard(Entry):
    """A governing RFC, IETF draft or specification."""

    name: str
    """Short citation, e.g. `RFC 9457` or `tus 1.0.0`."""
    title: str
    """The document's title."""
    url: HttpUrl
    """Where to read it, preferably a stable URL: for a draft, the revision cited."""
    revision: str
    """The revision cited, e.g. `-07` for an Internet-Draft or `1.0.0` for a versioned spec."""
    checked: date
    """When the citation was last checked against its publisher, e.g. `2026-12-02`."""
    draft: Literal["active", "expired"] | None = None
    """For an Internet-Draft only: whether the cited revision was active or expired when
    `checked`."""


Level = Literal["MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY"]
"""A BCP 14 keyword (RFC 2119 and RFC 8174), in capitals."""


class Breaks(BaseModel):
    """An edit of the snippet that violates a rule: its proof must fail on the edited code."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    find: str = Field(min_length=1)
    """Text that occurs exactly once in the snippet."""
    replace: str
    """What it becomes in the mutant."""


class Rule(Entry):
    """One normative requirement of a pattern, citable on its own as `#rule-<id>`."""

    id: Id
    """Permanent, like every id: the page anchor is `#rule-<id>`."""
    level: Level
    """`MUST`, `MUST NOT`, `SHOULD`, `SHOULD NOT` or `MAY`, with their BCP 14 meaning."""
    text: str = Field(min_length=10, max_length=400)
    """One sentence, quotable on its own, with the keyword in it."""
    standard: str | None = None
    """The standard and section it comes from, e.g. `RFC 9110 §15.5.2`."""
    proof: str | None = Field(default=None, pattern=r"^tests/[\w/.-]+\.py::\w+$")
    """The pytest node id of the test that proves it, e.g.
    `tests/snippets/test_idempotency_keys.py::test_keys_are_scoped_to_the_caller`. Required
    for MUST and MUST NOT; a SHOULD without one says in `text` why it is not tested."""
    breaks: Breaks | None = None
    """An edit of the snippet that breaks the rule; `make prove` checks that the proof fails
    on it. Required wherever a one-line change to the snippet can break the rule."""


class Alternative(Entry):
    """One row of *When not to use it*: a situation, and what to use there instead."""

    situation: str
    """When this pattern is the wrong choice, e.g. `Clients can retry on their own`."""
    instead: str
    """What to use instead; may link `[text](pattern:<id>)`."""
    why: str
    """The trade-off, in one sentence."""


class Elsewhere(Entry):
    """How a well-known public API or guideline does the same thing."""

    name: str
    """E.g. `Stripe` or `Google AIP-158`."""
    url: HttpUrl
    """Their own documentation of it."""
    how: str
    """One line: what they do, and how it differs from this page's design."""


class Pattern(Entry):
    """A design pattern: `data/patterns/<id>.yml`, published at `/patterns/<id>/`.

    One entry per pattern, however many use cases name it: each use case says in its own
    `why` what the pattern means there, and the pattern page lists them all under *Used by*.

    Markdown fields may link to other entries as `[text](pattern:<id>)` or
    `[text](use-case:<id>)`, and to hand-written pages as `[text](page:guides/<name>.md)`;
    a link to nothing fails the check. They may quote a literal constant of the snippet as
    `{{ snippet.NAME }}`, so that a number or a table on the page is the one the code
    enforces: a list of dicts becomes a table, a list becomes code spans.
    """

    id: Id
    """The permanent id, which is also the URL and the file name (`<id>.yml`)."""
    title: str = Field(min_length=3, max_length=80)
    """Sentence case, no final full stop."""
    summary: str = Field(min_length=20, max_length=240)
    """One plain sentence that a design doc can quote."""
    reviewed: date
    """When the content was last checked against its standards, e.g. `2026-05-04`."""
    tags: list[Id] = Field(min_length=1, max_length=4)
    """One to four topic tags."""
    rules: list[Rule] = Field(min_length=3, max_length=10)
    """The pattern's normative rules, three to ten, most important first."""
    problem: Markdown
    """Why the naive design fails, concretely."""
    solution: Markdown
    """The design, with the exchange shown as it goes over the wire (` ```http ` blocks)."""
    pitfalls: Markdown
    """A bullet list of real mistakes and what they cost."""
    alternatives: list[Alternative] = Field(min_length=1)
    """When not to use the pattern and what to use instead."""
    security: Markdown
    """What an attacker does against the pattern, and what the reference implementation does
    about each threat, or that it leaves it out and why."""
    at_scale: Markdown
    """What the reference implementation simplifies and what a production version with several
    instances changes, with the operational signals to watch."""
    elsewhere: list[Elsewhere] = Field(min_length=2, max_length=5)
    """Two to five well-known public APIs or guidelines and how they do it."""
    snippet: str = Field(pattern=r"^snippets/[a-z0-9_]+\.py$")
    """The reference implementation, `snippets/<name>.py`: shown whole, run whole by the tests."""
    requires: list[str]
    """The PyPI distributions the snippet imports, each pinned in `requirements.lock`."""
    standards: list[Standard]
    """The governing standards; empty only where none exists."""
    related: list[Id] = []
    """Ids of related patterns."""
    aliases: list[Id] = []
    """Former ids of this pattern; each becomes a redirect to it."""


class PatternUse(Entry):
    """One pattern as a use case applies it."""

    pattern: Id
    """The id of an entry in `data/patterns/`."""
    why: Markdown
    """Why the pattern matters for this use case, and what it means here."""


class UseCase(Entry):
    """A kind of API: `data/use-cases/<id>.yml`, published at `/use-cases/<id>/`."""

    id: Id
    """The permanent id, which is also the URL and the file name (`<id>.yml`)."""
    title: str = Field(min_length=3, max_length=80)
    """E.g. `Payment APIs`."""
    reviewed: date
    """When the content was last checked, e.g. `2026-05-04`."""
    distinctive: Markdown
    """What sets this kind of API apart, as one or two sentences."""
    patterns: list[PatternUse] = Field(min_length=1)
    """The patterns that matter most, most important first."""
    aliases: list[Id] = []
    """Former ids of this use case; each becomes a redirect to it."""


class Overview(Entry):
    """The overview page `/use-cases/`: `data/overview.yml`."""

    title: str
    """The page title."""
    repository: HttpUrl
    """The repository the site is built from; pages link its test and snippet files."""
    introduction: Markdown
    """The opening paragraph."""
    use_cases: list[Id] = Field(min_length=1)
    """Every use case id, in the order the overview shows them."""
    next_steps: Markdown
    """The closing *Where to go next* section."""


Action = Literal["fix-request", "reauthenticate", "retry-after", "backoff", "give-up"]
"""What a client does next: fix the request, authenticate again, retry after `Retry-After`,
retry with exponential backoff and jitter, or give up and tell someone."""


class ProblemType(Entry):
    """One kind of error: `https://api.example.com/problems/<slug>`, at `/problem-types/#<slug>`."""

    slug: Id
    """The last segment of the `type` URI; permanent, like every id."""
    status: int = Field(ge=400, le=599)
    """The HTTP status every response of this type has."""
    title: str = Field(min_length=3, max_length=80)
    """The problem's `title`, the same in every response."""
    retryable: bool
    """The `retryable` member: whether the identical request can succeed later."""
    action: Action
    """What a client does next."""
    description: Markdown
    """When the server sends it, and what the client should do about it."""
    patterns: list[Id] = []
    """The patterns whose snippets send it."""


class ProtocolException(Entry):
    """A protocol that fixes its own error format, so its errors are not problem details."""

    pattern: Id
    """The pattern whose snippet speaks the protocol."""
    path: str = Field(pattern=r"^/")
    """The path prefix, on the snippet's app, that the protocol governs."""
    format: Literal["oauth-error", "tus", "graphql"]
    """`oauth-error`: a JSON body with an `error` code (RFC 6749 §5.2); `tus`: bare status
    codes with the `Tus-Resumable` header (tus 1.0.0); `graphql`: an
    `application/graphql-response+json` body with an `errors` list (GraphQL over HTTP)."""
    standard: str
    """The standard and section that fixes the format, e.g. `RFC 6749 §5.2`."""


class ProblemTypes(Entry):
    """The site's problem-type registry: `data/problem-types.yml`, published at
    `/problem-types/`. Every problem a snippet can send is one of these types."""

    types: list[ProblemType] = Field(min_length=1)
    """Every problem type, in slug order."""
    exceptions: list[ProtocolException] = []
    """Endpoints whose protocol fixes its own error format."""
