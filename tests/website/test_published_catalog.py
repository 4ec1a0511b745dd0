"""The machine-readable catalog as the site publishes it."""

import json
from pathlib import Path

import jsonschema


def test_catalog_json_validates_against_the_published_schema(site: Path):
    catalog = json.loads((site / "catalog.json").read_text())
    jsonschema.validate(catalog, json.loads((site / "catalog-export.schema.json").read_text()))
    assert len(catalog["use_cases"]) == 9
    assert len(catalog["patterns"]) == 34


def test_every_url_in_catalog_json_is_a_built_page(site: Path):
    catalog = json.loads((site / "catalog.json").read_text())
    prefix = "https://api-patterns.github.io/api-patterns/"
    urls = [e["url"] for kind in ("use_cases", "patterns") for e in catalog[kind]]
    missing = [u for u in urls if not (site / u.removeprefix(prefix) / "index.html").is_file()]
    assert urls and missing == []


def test_the_editor_schema_is_published_as_committed(site: Path):
    root = Path(__file__).resolve().parents[2]
    assert (site / "catalog.schema.json").read_text() == (
        root / "data/catalog.schema.json"
    ).read_text()
