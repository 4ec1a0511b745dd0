"""`/catalog.json` and the two JSON Schemas come from the same models that validate the data."""

import json
from datetime import date
from pathlib import Path

import jsonschema
import yaml

from apipatterns.catalog import load_catalog
from apipatterns.export import catalog_json, catalog_schema_json, export_schema_json
from apipatterns.load import catalog_files


def test_catalog_json_matches_its_schema(root: Path):
    data = json.loads(catalog_json(load_catalog(root, date(2026, 11, 25)), "https://x.org/"))
    jsonschema.validate(data, json.loads(export_schema_json()))
    pattern = data["patterns"][0]
    assert pattern["url"] == "https://x.org/patterns/retry-safety/"
    assert pattern["use_cases"] == [
        {"id": "ledgers", "why": "Retries must never post twice; see [caps](pattern:batch-caps)."}
    ]
    assert pattern["standards"][0]["name"] == "RFC 9110"
    assert data["reviewed"] == "2026-05-04"


def test_every_data_file_matches_the_editor_schema(root: Path):
    schema = json.loads(catalog_schema_json())
    for relpath in catalog_files(root):
        entry = yaml.safe_load((root / relpath).read_text())
        jsonschema.validate(json.loads(json.dumps(entry, default=str)), schema)


def test_the_editor_schema_rejects_what_the_check_rejects(root: Path):
    entry = yaml.safe_load((root / "data/patterns/retry-safety.yml").read_text())
    entry["pitfals"] = entry.pop("pitfalls")
    errors = list(
        jsonschema.Draft202012Validator(json.loads(catalog_schema_json())).iter_errors(
            json.loads(json.dumps(entry, default=str))
        )
    )
    assert errors, "a misspelt field must not validate"


def test_catalog_json_carries_the_rules_with_absolute_urls(root: Path):
    data = json.loads(catalog_json(load_catalog(root, date(2026, 11, 25)), "https://x.org/"))
    jsonschema.validate(data, json.loads(export_schema_json()))
    rule = data["patterns"][0]["rules"][0]
    assert rule["url"] == "https://x.org/patterns/retry-safety/#rule-replay-seen-keys"
    assert rule["level"] == "MUST"
    assert rule["proof"] == "tests/snippets/test_retry_safety.py::test_a_repeated_key_is_replayed"
    assert rule["proof_url"] == (
        "https://github.com/api-patterns/api-patterns/blob/main/"
        "tests/snippets/test_retry_safety.py#L4"
    )
    assert data["patterns"][0]["rules"][2]["proof_url"] is None
