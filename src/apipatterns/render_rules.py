"""Pure renderers for rules: a pattern's Rules section, a use case's design review checklist and
the `/rules/` index that says what the keywords mean."""

from .catalog import Catalog
from .markdown import CONSTANT, constant_markdown, front_matter, resolve
from .model import Rule

CHECKLIST_LEVELS = ("MUST", "MUST NOT", "SHOULD", "SHOULD NOT")


def proof_url(catalog: Catalog, proof: str) -> str:
    """The test that proves a rule, at its line in the repository."""
    relpath, _, _ = proof.partition("::")
    return f"{catalog.source_url(relpath)}#L{catalog.proof_lines[proof]}"


def rule_text(catalog: Catalog, pattern_id: str, rule: Rule) -> str:
    """A rule's sentence with the snippet's `{{ snippet.NAME }}` constants filled in.

    Links are left for the page renderers to resolve, so the text can be quoted alone.
    """
    return CONSTANT.sub(lambda m: constant_markdown(catalog.constants[pattern_id][m[1]]), rule.text)


def render_rules_section(catalog: Catalog, pattern_id: str) -> str:
    """The `## Rules` section of a pattern page: one linkable block per rule."""
    pattern = catalog.patterns[pattern_id]
    if not pattern.rules:
        return ""
    blocks = [_rule_block(catalog, pattern_id, rule) for rule in pattern.rules]
    return (
        "## Rules\n\n"
        "The keywords mean what [BCP 14](../rules/index.md#bcp-14) says they mean. Each rule "
        "links to itself, and to the test that fails when the code breaks it.\n\n"
        + "\n".join(blocks)
    )


def _rule_block(catalog: Catalog, pattern_id: str, rule: Rule) -> str:
    meta = []
    if rule.standard:
        meta.append(rule.standard)
    if rule.proof:
        name = rule.proof.partition("::")[2]
        meta.append(f"proved by [`{name}`]({proof_url(catalog, rule.proof)})")
    else:
        meta.append("not proved by a test")
    return (
        f'<div class="rule" id="rule-{rule.id}" markdown>\n'
        f'<span class="rule-level">{rule.level}</span> {rule_text(catalog, pattern_id, rule)} '
        f'[¶](#rule-{rule.id} "Link to this rule"){{ .rule-anchor }}\n'
        f'<span class="rule-meta">{" · ".join(meta)}</span>\n'
        "</div>\n"
    )


def render_checklist(catalog: Catalog, use_case_id: str) -> str:
    """A use case's design review checklist: its patterns' MUST and SHOULD rules, in order."""
    lines = []
    for use in catalog.use_cases[use_case_id].patterns:
        pattern = catalog.patterns[use.pattern]
        for rule in pattern.rules:
            if rule.level in CHECKLIST_LEVELS:
                lines.append(
                    f"- [ ] **{rule.level}**: {rule_text(catalog, pattern.id, rule)} "
                    f"([{pattern.title}](../patterns/{pattern.id}.md#rule-{rule.id}))"
                )
    if not lines:
        return ""
    return (
        "## Design review checklist\n\n"
        "Every MUST and SHOULD rule of the patterns above, in the same order: copy the list into "
        "a design document and tick each line once the design meets it.\n\n"
        + "\n".join(lines)
        + "\n"
    )


def render_rules_index(catalog: Catalog) -> str:
    """`/rules/`: what the keywords mean, how a rule is proved, and every rule by pattern."""
    parts = [
        front_matter(
            description="Every rule of every pattern on API Patterns, with the test that proves it."
        ),
        "# Rules\n\n"
        "Each pattern states its normative rules: short requirements that a design document "
        "can cite one at a time, each with a permanent anchor `#rule-<id>` on its pattern "
        "page.\n\n"
        "## What the keywords mean {#bcp-14}\n\n"
        "The key words MUST, MUST NOT, SHOULD, SHOULD NOT and MAY in the rules are to be "
        "interpreted as described in BCP 14 "
        "([RFC 2119](https://www.rfc-editor.org/rfc/rfc2119), "
        "[RFC 8174](https://www.rfc-editor.org/rfc/rfc8174)) when, and only when, they appear "
        "in all capitals. A MUST is an absolute requirement; a SHOULD may be set aside only "
        "for a reason that is understood and weighed; a MAY is truly optional.\n\n"
        "## How a rule is proved {#proofs}\n\n"
        "Every MUST and MUST NOT names the test of the reference implementation that proves "
        "it. Most rules also name an edit of the snippet that breaks them, and "
        "`make prove` applies each edit to a copy of the snippet and checks that the proof "
        "then fails: a test that still passes on broken code proves nothing. A SHOULD "
        "without a test says why in its text.\n",
    ]
    for pattern in catalog.patterns.values():
        if not pattern.rules:
            continue
        rows = "\n".join(
            f"| {rule.level} | {_cell(rule_text(catalog, pattern.id, rule))} "
            f'[¶](../patterns/{pattern.id}.md#rule-{rule.id} "Link to this rule") '
            f"| {_proof_cell(catalog, rule)} |"
            for rule in pattern.rules
        )
        parts.append(
            f"## [{pattern.title}](../patterns/{pattern.id}.md) {{#{pattern.id}}}\n\n"
            f"| level | rule | proof |\n| --- | --- | --- |\n{rows}\n"
        )
    return "\n".join(parts)


def _proof_cell(catalog: Catalog, rule: Rule) -> str:
    if not rule.proof:
        return "none"
    return f"[test]({proof_url(catalog, rule.proof)})"


def _cell(text: str) -> str:
    return resolve(text).replace("|", "\\|")
