"""`/problem-types/`: every problem type any snippet sends, rendered from the registry."""

from .catalog import Catalog
from .markdown import front_matter, resolve
from .problem_types import PROBLEMS

ACTIONS = {
    "fix-request": "fix the request before sending it again",
    "reauthenticate": "obtain a valid credential, then send the request again",
    "retry-after": "wait for `Retry-After`, then retry the identical request",
    "backoff": "retry the identical request with exponential backoff and jitter",
    "give-up": "stop, and surface the problem to a person",
}


def render_problem_types(catalog: Catalog) -> str:
    """The registry as a page: a summary table, then one anchored section per type."""
    registry = catalog.problem_types
    rows = "\n".join(
        f"| [`{t.slug}`](#{t.slug}) | {t.status} | {t.title} | "
        f"{'yes' if t.retryable else 'no'} | {ACTIONS[t.action]} |"
        for t in registry.types
    )
    parts = [
        front_matter(
            description="Every problem type the API Patterns reference implementations send, "
            "with its status and what a client does next."
        ),
        "# Problem types\n\n"
        "Every error a reference implementation on this site sends is an RFC 9457 problem "
        f"details object whose `type` is `{PROBLEMS}<slug>`, with one of the slugs below. "
        "The status, `title` and `retryable` member are the same in every response of a type, "
        "and the test suite holds every snippet to this list; the "
        "[conventions](../contributing/conventions.md#problem-details) say how.\n\n"
        "| type | status | title | retryable | a client should |\n| --- | --- | --- | --- | --- |\n"
        f"{rows}\n",
    ]
    for kind in registry.types:
        senders = ", ".join(
            f"[{catalog.patterns[p].title}](../patterns/{p}.md)" for p in kind.patterns
        )
        parts.append(
            f"## `{kind.slug}` {{#{kind.slug}}}\n\n"
            f"`{PROBLEMS}{kind.slug}` · **{kind.status}** · *{kind.title}* · "
            f"`retryable: {str(kind.retryable).lower()}`\n\n"
            f"{resolve(kind.description)}\n\n"
            f"A client should {ACTIONS[kind.action]}."
            + (f" Sent by: {senders}." if senders else "")
            + "\n"
        )
    if registry.exceptions:
        rows = "\n".join(
            f"| [{catalog.patterns[e.pattern].title}](../patterns/{e.pattern}.md) | `{e.path}` "
            f"| {e.standard} |"
            for e in registry.exceptions
        )
        parts.append(
            "## Protocols with their own error format {#protocol-exceptions}\n\n"
            "Where a governing protocol fixes how errors look, the snippet follows the "
            "protocol, and the tests hold those responses to it instead.\n\n"
            f"| pattern | path | format |\n| --- | --- | --- |\n{rows}\n"
        )
    return "\n".join(parts)
