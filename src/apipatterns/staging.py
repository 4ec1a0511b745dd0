"""One way in for any generator: what the catalog publishes, as files and as config.

`published_files` is every generated page and data file by its docs-relative path;
`site_config` is the generator config (`mkdocs.yml` as data) with the catalog's navigation
and redirects filled in. The MkDocs hook hands both to MkDocs in memory; `staged` lays the
same content out as a folder a generator without hooks (Zensical) builds from.
"""

import json
from importlib import resources
from pathlib import Path

import yaml

from .catalog import Catalog
from .export import catalog_json, catalog_schema_json, export_schema_json
from .markdown import page_path
from .render import nav, page_sources, pages

STAGED_CONFIG = "mkdocs.yml"  # written inside the staging folder, beside its docs/
API_STYLES = "assets/_mkdocstrings.css"  # mkdocstrings writes it in MkDocs builds, not Zensical's


class PythonName(str):
    """A `!!python/name:` value of `mkdocs.yml`, kept as written (MkDocs imports it)."""


class ConfigLoader(yaml.SafeLoader):
    """Reads `mkdocs.yml` without importing the objects its `!!python/name:` tags name."""


class ConfigDumper(yaml.SafeDumper):
    """Writes `PythonName` values back as the tags they were read from."""


ConfigLoader.add_multi_constructor(
    "tag:yaml.org,2002:python/name:", lambda loader, suffix, node: PythonName(suffix)
)
ConfigDumper.add_representer(
    PythonName,
    lambda dumper, value: dumper.represent_scalar(f"tag:yaml.org,2002:python/name:{value}", ""),
)


def read_config(path: Path) -> dict:
    """`mkdocs.yml` as data."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=ConfigLoader)


def published_files(catalog: Catalog, base_url: str = "/") -> dict[str, str]:
    """Every generated page, `catalog.json` and the schemas, by docs-relative path."""
    return pages(catalog) | {
        "catalog.json": catalog_json(catalog, base_url),
        "catalog.schema.json": catalog_schema_json(),
        "catalog-export.schema.json": export_schema_json(),
    }


def redirect_maps(catalog: Catalog) -> dict[str, str]:
    """Each former id's page, mapped to the page that replaced it."""
    redirects = {}
    for kind, entries in (("use-case", catalog.use_cases), ("pattern", catalog.patterns)):
        for entry in entries.values():
            for alias in entry.aliases:
                redirects[page_path(kind, alias)] = page_path(kind, entry.id)
    return redirects


def expand_nav(item: object, generated: dict[str, list]) -> object:
    """Replace a nav entry `use-cases/` or `patterns/` with the catalog's pages."""
    if isinstance(item, dict):
        return {title: expand_nav(value, generated) for title, value in item.items()}
    if isinstance(item, list):  # a section may mix generated pages with others
        expanded: list = []
        for value in item:
            new = expand_nav(value, generated)
            expanded += new if isinstance(value, str) and value in generated else [new]
        return expanded
    return generated.get(item, item)


def site_config(config: dict, catalog: Catalog) -> dict:
    """`config` with the catalog's navigation and redirects filled in."""
    result = dict(config, nav=expand_nav(config.get("nav") or [], nav(catalog)))
    plugins = []
    for plugin in result.get("plugins", []):
        if isinstance(plugin, dict) and "redirects" in plugin:
            options = dict(plugin["redirects"] or {})
            options["redirect_maps"] = dict(options.get("redirect_maps") or {})
            options["redirect_maps"] |= redirect_maps(catalog)
            plugin = {"redirects": options}
        plugins.append(plugin)
    result["plugins"] = plugins
    return result


def staged(root: Path, catalog: Catalog, config: dict) -> dict[str, str | bytes]:
    """The staging folder's files by relative path: `docs/` whole, the generated pages, the config.

    Paths in the config are rewritten to hold from inside the staging folder, so that the
    generator resolves them as the MkDocs build does from the repository root.
    """
    docs_dir = config.get("docs_dir", "docs")
    edit_base = config.get("edit_uri")
    files: dict[str, str | bytes] = {}
    for path in sorted((root / docs_dir).rglob("*")):
        if path.is_file():
            name = path.relative_to(root / docs_dir).as_posix()
            content = path.read_bytes()
            if name.endswith(".md") and edit_base:
                content = with_edit_url(content.decode("utf-8"), f"{edit_base}{docs_dir}/{name}")
            files[f"docs/{name}"] = content
    sources = page_sources(catalog)
    for name, text in published_files(catalog, config.get("site_url") or "/").items():
        source = sources.get(name)
        files[f"docs/{name}"] = (
            with_edit_url(text, f"{edit_base}{source}") if edit_base and source else text
        )
    if any("mkdocstrings" in plugin for plugin in config.get("plugins", [])):
        files[f"docs/{API_STYLES}"] = api_styles()
    staged_config = site_config(config, catalog)
    staged_config.pop("hooks", None)  # the hook's work is done: its output is in docs/
    staged_config["docs_dir"] = "docs"
    staged_config["site_dir"] = "site"  # Zensical wants it inside the folder of its config
    theme = dict(staged_config.get("theme") or {})
    if theme.get("custom_dir"):
        theme["custom_dir"] = str((root / theme["custom_dir"]).resolve())
    staged_config["theme"] = theme
    staged_config["plugins"] = [_rooted(plugin, root) for plugin in staged_config["plugins"]]
    files[STAGED_CONFIG] = yaml.dump(
        staged_config, Dumper=ConfigDumper, sort_keys=False, allow_unicode=True
    )
    return files


def api_styles() -> str:
    """The stylesheet of mkdocstrings' Python handler for Material, as the MkDocs build has it."""
    styles = resources.files("mkdocstrings_handlers.python") / "templates/material/style.css"
    return styles.read_text(encoding="utf-8")


def with_edit_url(markdown: str, url: str) -> str:
    """`markdown` with `edit_url` added to its front matter (a new one if it has none)."""
    line = f"edit_url: {json.dumps(url)}\n"
    if markdown.startswith("---\n"):
        return "---\n" + line + markdown[4:]
    return f"---\n{line}---\n\n{markdown}"


def _rooted(plugin: object, root: Path) -> object:
    """mkdocstrings' handler `paths` are relative to the config file: make them absolute."""
    if not (isinstance(plugin, dict) and "mkdocstrings" in plugin):
        return plugin
    options = yaml.safe_load(yaml.safe_dump(plugin["mkdocstrings"]))
    python = options.get("handlers", {}).get("python", {})
    if "paths" in python:
        python["paths"] = [str((root / p).resolve()) for p in python["paths"]]
    return {"mkdocstrings": options}
