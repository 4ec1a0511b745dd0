"""Machine-readable views of the catalog: `/catalog.json` and the JSON Schemas.

`/catalog.schema.json` describes the YAML files of `data/` (for editors);
`/catalog-export.schema.json` describes `/catalog.json` (for tools that read the site).
"""

import json
from datetime import date

from pydantic import BaseModel, TypeAdapter

from .catalog import Catalog
from .model import Overview, Pattern, ProblemTypes, Standard, UseCase
from .render_rules import proof_url, rule_text


class PatternUseOut(BaseModel):
    """A pattern as one use case applies it."""

    id: str
    why: str


class UseCaseOut(BaseModel):
    """A use case of `/catalog.json`."""

    id: str
    title: str
    url: str
    reviewed: date
    distinctive: str
    patterns: list[PatternUseOut]


class RuleOut(BaseModel):
    """A rule of a pattern, with where to cite it and the test that proves it."""

    id: str
    level: str
    text: str
    standard: str | None
    url: str
    """The rule's anchor on its pattern page."""
    proof: str | None
    """The pytest node id of the test that proves it."""
    proof_url: str | None
    """The test's source, at its line."""


class PatternOut(BaseModel):
    """A pattern of `/catalog.json`, with every use case that names it."""

    id: str
    title: str
    summary: str
    url: str
    reviewed: date
    tags: list[str]
    use_cases: list[PatternUseOut]
    related: list[str]
    standards: list[Standard]
    rules: list[RuleOut]
    snippet: str
    aliases: list[str]


class CatalogOut(BaseModel):
    """`/catalog.json`: every use case and pattern, with stable ids and URLs."""

    title: str
    reviewed: date
    use_cases: list[UseCaseOut]
    patterns: list[PatternOut]


def export(catalog: Catalog, base_url: str = "/") -> CatalogOut:
    """The catalog as tools see it; URLs start with `base_url` (which ends with `/`)."""
    use_cases = [
        UseCaseOut(
            **u.model_dump(include={"id", "title", "reviewed", "distinctive"}),
            url=f"{base_url}use-cases/{u.id}/",
            patterns=[PatternUseOut(id=p.pattern, why=p.why) for p in u.patterns],
        )
        for u in catalog.use_cases.values()
    ]
    patterns = [
        PatternOut(
            **p.model_dump(
                include={
                    "id",
                    "title",
                    "summary",
                    "reviewed",
                    "tags",
                    "related",
                    "snippet",
                    "aliases",
                    "standards",
                }
            ),
            url=f"{base_url}patterns/{p.id}/",
            rules=[_rule(catalog, p.id, rule, base_url) for rule in p.rules],
            use_cases=[PatternUseOut(id=u.id, why=use.why) for u, use in catalog.used_by(p.id)],
        )
        for p in catalog.patterns.values()
    ]
    return CatalogOut(
        title=catalog.overview.title,
        reviewed=catalog.reviewed,
        use_cases=use_cases,
        patterns=patterns,
    )


def _rule(catalog: Catalog, pattern_id: str, rule, base_url: str) -> RuleOut:
    return RuleOut(
        **rule.model_dump(include={"id", "level", "standard", "proof"}),
        text=rule_text(catalog, pattern_id, rule),
        url=f"{base_url}patterns/{pattern_id}/#rule-{rule.id}",
        proof_url=proof_url(catalog, rule.proof) if rule.proof else None,
    )


def catalog_json(catalog: Catalog, base_url: str = "/") -> str:
    """`/catalog.json` as indented JSON text."""
    return export(catalog, base_url).model_dump_json(indent=2) + "\n"


def _schema(adapter: TypeAdapter, schema_id: str, title: str) -> str:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "title": title,
        **adapter.json_schema(ref_template="#/$defs/{model}"),
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def catalog_schema_json() -> str:
    """The schema of any file of `data/`: a pattern, a use case, the overview or the registry."""
    return _schema(
        TypeAdapter(Pattern | UseCase | Overview | ProblemTypes),
        "catalog.schema.json",
        "API Patterns catalog entry",
    )


def export_schema_json() -> str:
    """The schema of `/catalog.json`."""
    return _schema(TypeAdapter(CatalogOut), "catalog-export.schema.json", "API Patterns catalog")
