"""Citations stay current: each standard says when it was checked, and a draft says it is one."""

from collections.abc import Iterator
from datetime import date, timedelta

from .load import Document
from .markdown import long_date
from .model import Pattern, Standard
from .problems import Problem

STALE_AFTER = timedelta(days=365)


def check_standards(pattern: Pattern, document: Document, today: date) -> Iterator[Problem]:
    """A `checked` date over twelve months old, and drafts without their status."""
    for i, standard in enumerate(pattern.standards):
        loc = ("standards", i)
        field = f"standards[{i}]"
        is_draft = standard.name.startswith("draft-")
        if standard.checked and today - standard.checked > STALE_AFTER:
            yield Problem(
                document.path,
                document.line((*loc, "checked")),
                f"{field}.checked",
                f"{standard.checked} is more than 12 months ago; check the citation against "
                "its publisher and update `checked`",
            )
        if is_draft and standard.checked and standard.draft is None:
            yield Problem(
                document.path,
                document.line(loc),
                f"{field}.draft",
                "an Internet-Draft needs `draft: active` or `draft: expired`, as the IETF "
                "datatracker shows it on the `checked` date",
            )
        elif not is_draft and standard.draft is not None:
            yield Problem(
                document.path,
                document.line((*loc, "draft")),
                f"{field}.draft",
                "only an Internet-Draft (a name starting `draft-`) has a draft status; remove it",
            )


def citation(standard: Standard) -> str:
    """One Markdown bullet: the link, the title, the revision cited, and when it was checked."""
    name, revision = standard.name, standard.revision
    if revision.startswith("-"):  # a draft's revision number belongs to its name
        name, revision = name + revision, ""
    text = f"- [{name}]({standard.url}): *{standard.title}*"
    if revision and not (name == revision or name.startswith(f"{revision} ")):
        text += f". Revision cited: {revision}"
    if standard.draft:
        text += f". An Internet-Draft, work in progress ({standard.draft} when checked)"
    return text + f". Checked on {long_date(standard.checked)}."
