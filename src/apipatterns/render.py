"""Pure page renderers: a `Catalog` in, one Markdown page out. No MkDocs here."""

import textwrap
from pathlib import PurePosixPath

from .catalog import Catalog
from .markdown import front_matter, long_date, resolve
from .render_decisions import (
    render_alternatives,
    render_at_scale,
    render_elsewhere,
    render_security,
)
from .render_problem_types import render_problem_types
from .render_rules import render_checklist, render_rules_index, render_rules_section
from .standards import citation


def render_overview(catalog: Catalog) -> str:
    """`/use-cases/`: every use case with what is distinctive and its patterns."""
    overview = catalog.overview
    parts = [
        front_matter(description=_plain(overview.introduction)),
        f"# {overview.title}\n\n*Last reviewed on {long_date(catalog.reviewed)}.*\n\n"
        f"{resolve(overview.introduction)}\n",
    ]
    for use_case in catalog.use_cases.values():
        bullets = "\n".join(
            f"- **[{catalog.patterns[u.pattern].title}](../patterns/{u.pattern}.md)**: "
            f"{_inline(u.why)}"
            for u in use_case.patterns
        )
        parts.append(
            f"## [{use_case.title}]({use_case.id}.md) {{#{use_case.id}}}\n\n"
            f"**What's distinctive:** {_lower_first(resolve(use_case.distinctive))}\n\n"
            f"**Patterns that matter most:**\n\n{bullets}\n"
        )
    parts.append(f"## Where to go next\n\n{resolve(overview.next_steps)}\n")
    return "\n".join(parts)


def render_use_case(catalog: Catalog, use_case_id: str) -> str:
    """`/use-cases/<id>/`: what is distinctive, then each pattern with why it matters here."""
    use_case = catalog.use_cases[use_case_id]
    parts = [
        front_matter(description=_plain(use_case.distinctive)),
        f"# {use_case.title}\n\n"
        f"**What's distinctive:** {_lower_first(resolve(use_case.distinctive))}\n\n"
        f"*Reviewed on {long_date(use_case.reviewed)}. "
        f"Part of [API Patterns by Use Case](index.md).*\n\n"
        "## Patterns that matter most\n",
    ]
    for use in use_case.patterns:
        pattern = catalog.patterns[use.pattern]
        parts.append(
            f"### {pattern.title} {{#{pattern.id}}}\n\n{resolve(use.why)}\n\n"
            f"[{pattern.title}: the pattern and its reference implementation]"
            f"(../patterns/{pattern.id}.md){{ .md-button }}\n"
        )
    parts.append(render_checklist(catalog, use_case_id))
    return "\n".join(p for p in parts if p)


def render_pattern(catalog: Catalog, pattern_id: str) -> str:
    """`/patterns/<id>/`: the sections of DESIGN.md, the snippet shown whole."""
    pattern = catalog.patterns[pattern_id]
    constants = catalog.constants[pattern_id]
    used_by = catalog.used_by(pattern_id)
    uses = " · ".join(f"[{u.title}](../use-cases/{u.id}.md#{pattern_id})" for u, _ in used_by)
    sections = [
        front_matter(description=pattern.summary, tags=pattern.tags),
        f"# {pattern.title}\n\n{pattern.summary}\n{{ .lead }}\n\n"
        + (f"**Used by:** {uses}. " if uses else "")
        + f"*Reviewed on {long_date(pattern.reviewed)}.*\n",
        render_rules_section(catalog, pattern_id),
        f"## Problem\n\n{resolve(pattern.problem, constants)}\n",
        f"## Solution\n\n{resolve(pattern.solution, constants)}\n",
        _implementation(catalog, pattern_id),
        render_alternatives(catalog, pattern_id),
        render_security(catalog, pattern_id),
        render_at_scale(catalog, pattern_id),
        f"## Pitfalls\n\n{resolve(pattern.pitfalls, constants)}\n",
        render_elsewhere(catalog, pattern_id),
        _standards(catalog, pattern_id),
        _related(catalog, pattern_id),
    ]
    if used_by:
        sections.append(
            "## Used by\n\n"
            + "\n".join(
                f"### [{u.title}](../use-cases/{u.id}.md) {{#used-by-{u.id}}}\n\n"
                f"{resolve(use.why)}\n"
                for u, use in used_by
            )
        )
    return "\n".join(s for s in sections if s)


def _implementation(catalog: Catalog, pattern_id: str) -> str:
    pattern = catalog.patterns[pattern_id]
    name = PurePosixPath(pattern.snippet).name
    pins = [f"{r}=={catalog.pin(r)}" for r in pattern.requires]
    setup = pip_install(pins) + "\n" if pins else ""
    needs = "the pinned packages it imports" if pins else "nothing beyond the standard library"
    return (
        "## Reference implementation\n\n"
        f"A complete program, run by the test suite exactly as shown; it needs {needs}. "
        "The `#>` comments are its printed output.\n\n"
        f"```bash\n{setup}python {name}\n```\n\n"
        # The whole snippet stays out of the search index: it is most of the index and no
        # reader searches for its code; the page's prose and rules are indexed.
        "<div data-search-exclude markdown>\n\n"
        f'```python title="{name}"\n{catalog.snippets[pattern_id].rstrip()}\n```\n\n'
        "</div>\n\n"
        + _sources(catalog, pattern_id)
        + "\n"
        + _what_the_tests_prove(catalog, pattern_id)
    )


def _what_the_tests_prove(catalog: Catalog, pattern_id: str) -> str:
    """The box that says which of the page's promises a test holds, and which none does."""
    rules = catalog.patterns[pattern_id].rules
    proved = [r for r in rules if r.proof]
    broken = sum(1 for r in proved if r.breaks)
    each = "each" if broken == len(proved) else f"{broken} of them"
    count = (
        f"All {len(rules)}" if len(proved) == len(rules) else f"{len(proved)} of the {len(rules)}"
    )
    text = f"**Proved:** {count} rules, each by the test linked beside it."
    if broken:
        text += (
            f" For {each}, `make prove` breaks the rule in a copy of the snippet and checks that"
            " the test then fails."
        )
    unproved = [f"[`{r.id}`](#rule-{r.id})" for r in rules if not r.proof]
    if unproved:
        which = "the rule " if len(unproved) == 1 else "the rules "
        says = ", whose text says why" if len(unproved) == 1 else ", whose texts say why"
        untested = f"{which}{', '.join(unproved)}{says}; and "
    else:
        untested = ""
    text += (
        f"\n\n**Not proved:** {untested}what [At scale](#at-scale) describes (a shared store,"
        " several instances, production traffic), which is design advice: the tests run one"
        " instance of the reference implementation."
    )
    return '!!! note "What the tests prove, and don\'t"\n\n' + textwrap.indent(text, "    ") + "\n"


CODE_COLUMNS = 88
"""The widest code line a page shows: black's width for snippets, and what a code block
holds at 1280 px without scrolling (docs/stylesheets/extra.css)."""


def pip_install(pins: list[str]) -> str:
    """`pip install` with the pins, continued with a backslash onto further lines before
    a line would pass CODE_COLUMNS, so the command still runs as copied."""
    lines = textwrap.wrap(
        "pip install " + " ".join(pins),
        width=CODE_COLUMNS - 2,
        subsequent_indent="    ",
        break_long_words=False,
        break_on_hyphens=False,
    )
    return " \\\n".join(lines)


def _sources(catalog: Catalog, pattern_id: str) -> str:
    """Links to the snippet and the tests that prove it, in the repository."""
    files = [catalog.patterns[pattern_id].snippet, *catalog.test_files.get(pattern_id, [])]
    links = " · ".join(f"[`{f}`]({catalog.source_url(f)})" for f in files)
    return f"Source: {links}\n"


def _standards(catalog: Catalog, pattern_id: str) -> str:
    standards = catalog.patterns[pattern_id].standards
    if not standards:
        return ""
    rows = "\n".join(citation(s) for s in standards)
    return f"## Standards\n\n{rows}\n"


def _related(catalog: Catalog, pattern_id: str) -> str:
    related = [catalog.patterns[r] for r in catalog.patterns[pattern_id].related]
    if not related:
        return ""
    rows = "\n".join(f"- [{p.title}](../patterns/{p.id}.md): {p.summary}" for p in related)
    return f"## Related patterns\n\n{rows}\n"


def render_matrix(catalog: Catalog, max_columns: int = 12) -> str:
    """`/patterns/`: which use case relies on which pattern, then every pattern in brief.

    Up to `max_columns` use cases it is a grid with a tick per pair; past that a grid is too
    wide to read and grows with patterns x use cases, so each row lists its use cases instead.
    """
    use_cases = list(catalog.use_cases.values())
    grid = len(use_cases) <= max_columns
    columns = [f"[{u.title}](../use-cases/{u.id}.md)" for u in use_cases] if grid else ["Used by"]
    align = "|:-:" if grid else "|---"  # a column's alignment is written on its cells
    rows = ["| Pattern | " + " | ".join(columns) + " |", "|---" + align * len(columns) + "|"]
    for pattern in catalog.patterns.values():
        users = [u for u, _ in catalog.used_by(pattern.id)]
        link = '[{mark}](../use-cases/{u.id}.md#{p.id} "{u.title}: {p.title}")'
        if grid:
            cells = [link.format(mark="✓", u=u, p=pattern) if u in users else "" for u in use_cases]
        else:
            cells = [" · ".join(link.format(mark=u.title, u=u, p=pattern) for u in users)]
        rows.append(f"| [{pattern.title}]({pattern.id}.md) | " + " | ".join(cells) + " |")
    # A tag links its heading on the tag index, which the tags plugin writes after MkDocs has
    # collected each page's anchors: a Markdown link to it would fail MkDocs' strict anchor
    # check, so the link is HTML, to the URL both builds give the index (tests/website checks it).
    briefs = "\n".join(
        f"- [**{p.title}**]({p.id}.md): {p.summary} "
        + " ".join(f'<a href="../tags/#tag:{tag}"><code>{tag}</code></a>' for tag in p.tags)
        for p in catalog.patterns.values()
    )
    count = f"{_count(catalog.patterns, 'pattern')} across {_count(use_cases, 'use case')}"
    legend = (
        "A tick marks a pattern that the use case counts among those that matter most"
        if grid
        else "Each pattern lists the use cases that count it among those that matter most"
    )
    return (
        front_matter(
            description=f"The API design patterns of this site: {count}.",
            hide=["navigation", "toc"],
        )
        + f"# Patterns\n\n{count}. {legend}; it links to the reason.\n\n"
        + ('<div class="matrix" markdown>\n\n' if grid else "")
        + "\n".join(rows)
        + ("\n\n</div>" if grid else "")
        + f"\n\n## All patterns\n\n{briefs}\n"
    )


def pages(catalog: Catalog) -> dict[str, str]:
    """Every generated page, by its docs-relative source path."""
    result = {
        "use-cases/index.md": render_overview(catalog),
        "patterns/index.md": render_matrix(catalog),
        "rules/index.md": render_rules_index(catalog),
        "problem-types/index.md": render_problem_types(catalog),
    }
    result |= {f"use-cases/{u}.md": render_use_case(catalog, u) for u in catalog.use_cases}
    result |= {f"patterns/{p}.md": render_pattern(catalog, p) for p in catalog.patterns}
    return result


def nav(catalog: Catalog, fanout: int = 30) -> dict[str, list]:
    """The generated part of the site navigation, as MkDocs' `nav` spells it.

    Each use case lists the patterns it names, in its own order, so a pattern that several use
    cases share appears under each of them; patterns no use case names yet come last. Every
    page repeats the navigation of its section, so no section holds more than `fanout`
    entries: a longer list is split into sections, and the navigation each page renders
    stays small however large the catalog grows.
    """

    def entry(pattern_id: str) -> tuple[str, str]:
        return catalog.patterns[pattern_id].title, f"patterns/{pattern_id}.md"

    groups = [
        (u.title, [entry(use.pattern) for use in u.patterns]) for u in catalog.use_cases.values()
    ]
    unused = [entry(p) for p in catalog.patterns if not catalog.used_by(p)]
    groups.append(("Not yet in a use case", unused))
    use_cases = [(u.title, f"use-cases/{u.id}.md") for u in catalog.use_cases.values()]
    patterns = [(group, {group: _bounded(pages, fanout)}) for group, pages in groups if pages]
    return {
        "use-cases/": ["use-cases/index.md"] + _bounded(use_cases, fanout),
        "patterns/": ["patterns/index.md"] + _bounded(patterns, fanout),
    }


def _bounded(entries: list[tuple[str, object]], fanout: int) -> list:
    """`entries` (title, nav entry) as a list of at most `fanout` items, nesting as needed."""
    assert fanout >= 2, "a fan-out of 1 cannot shorten a list"
    if len(entries) <= fanout:
        return [entry for _, entry in entries]
    size = -(-len(entries) // fanout)  # ceiling division
    chunks = [entries[i : i + size] for i in range(0, len(entries), size)]
    return [{f"{c[0][0]} – {c[-1][0]}": _bounded(c, fanout)} for c in chunks]


def page_sources(catalog: Catalog) -> dict[str, str | None]:
    """The YAML file each generated page is edited in (None: the matrix draws on them all)."""
    sources: dict[str, str | None] = {
        "use-cases/index.md": catalog.sources["overview"],
        "patterns/index.md": None,
        "rules/index.md": None,
        "problem-types/index.md": catalog.sources["problem-types"],
    }
    sources |= {f"use-cases/{u}.md": catalog.sources[f"use-case:{u}"] for u in catalog.use_cases}
    sources |= {f"patterns/{p}.md": catalog.sources[f"pattern:{p}"] for p in catalog.patterns}
    return sources


def _count(items: object, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _inline(text: str) -> str:
    return " ".join(resolve(text).split())


def _plain(text: str) -> str:
    return " ".join(text.split())


def _lower_first(text: str) -> str:
    """Continue a sentence with `text` ("High-stakes" -> "high-stakes", "OAuth" stays)."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text
