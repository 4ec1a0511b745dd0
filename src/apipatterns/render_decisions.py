"""Pure renderers for the sections a design review decides from: when not to use a pattern,
its security, what changes at scale, and how well-known APIs do the same thing."""

from .catalog import Catalog
from .markdown import resolve


def render_alternatives(catalog: Catalog, pattern_id: str) -> str:
    """`## When not to use it`: a table of situations and what to use there instead."""
    rows = catalog.patterns[pattern_id].alternatives
    if not rows:
        return ""
    lines = "\n".join(
        f"| {_cell(r.situation)} | {_cell(r.instead)} | {_cell(r.why)} |" for r in rows
    )
    return (
        "## When not to use it\n\n| situation | choose instead | why |\n| --- | --- | --- |\n"
        f"{lines}\n"
    )


def render_security(catalog: Catalog, pattern_id: str) -> str:
    """`## Security`: each threat, and what the reference implementation does about it."""
    pattern = catalog.patterns[pattern_id]
    if not pattern.security:
        return ""
    return f"## Security\n\n{resolve(pattern.security, catalog.constants[pattern_id])}\n"


def render_at_scale(catalog: Catalog, pattern_id: str) -> str:
    """`## At scale`: what the in-memory reference leaves out, and what to watch."""
    pattern = catalog.patterns[pattern_id]
    if not pattern.at_scale:
        return ""
    return f"## At scale\n\n{resolve(pattern.at_scale, catalog.constants[pattern_id])}\n"


def render_elsewhere(catalog: Catalog, pattern_id: str) -> str:
    """`## How others do it`: well-known APIs, each with a link and how it differs."""
    entries = catalog.patterns[pattern_id].elsewhere
    if not entries:
        return ""
    lines = "\n".join(f"- [{e.name}]({e.url}): {resolve(e.how)}" for e in entries)
    return f"## How others do it\n\n{lines}\n"


def _cell(text: str) -> str:
    return " ".join(resolve(text).split()).replace("|", "\\|")
