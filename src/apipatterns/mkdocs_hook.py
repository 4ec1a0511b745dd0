"""The thin MkDocs adapter: generated pages, their edit links, redirects, live reload.

Everything it publishes comes from the pure core; this module only wires it into MkDocs.
"""

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

from apipatterns.catalog import Catalog, load_catalog
from apipatterns.export import catalog_json, catalog_schema_json, export_schema_json
from apipatterns.markdown import page_path
from apipatterns.problems import CatalogError
from apipatterns.render import nav, page_sources, pages

_catalog: Catalog | None = None


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).parent


def on_config(config: MkDocsConfig) -> None:
    global _catalog
    try:
        _catalog = load_catalog(_root(config))
    except CatalogError as exc:
        raise PluginError(f"the catalog has problems:\n{exc}") from None
    config.nav = _expand(config.nav or [], nav(_catalog))
    redirects = config.plugins["redirects"].config["redirect_maps"]
    for kind, entries in (("use-case", _catalog.use_cases), ("pattern", _catalog.patterns)):
        for entry in entries.values():
            for alias in entry.aliases:
                redirects[page_path(kind, alias)] = page_path(kind, entry.id)


def _expand(item: object, generated: dict[str, list]) -> object:
    """Replace a nav entry `use-cases/` or `patterns/` with the catalog's pages."""
    if isinstance(item, dict):
        return {title: _expand(value, generated) for title, value in item.items()}
    if isinstance(item, list):  # a section may mix generated pages with others
        expanded: list = []
        for value in item:
            new = _expand(value, generated)
            expanded += new if isinstance(value, str) and value in generated else [new]
        return expanded
    return generated.get(item, item)


@event_priority(100)  # before other plugins (redirects) look at the files
def on_files(files: Files, config: MkDocsConfig) -> Files:
    assert _catalog is not None
    for file in files:  # `edit_uri` is the repository root; hand-written pages live in docs/
        file.edit_uri = f"{Path(config.docs_dir).name}/{file.src_uri}"
    sources = page_sources(_catalog)
    for src_uri, markdown in pages(_catalog).items():
        file = File.generated(config, src_uri, content=markdown)
        file.edit_uri = sources[src_uri]
        files.append(file)
    base = config.site_url or "/"
    files.append(File.generated(config, "catalog.json", content=catalog_json(_catalog, base)))
    files.append(File.generated(config, "catalog.schema.json", content=catalog_schema_json()))
    files.append(File.generated(config, "catalog-export.schema.json", content=export_schema_json()))
    return files


def on_serve(server, config: MkDocsConfig, builder) -> None:
    for folder in ("data", "snippets"):  # docs/ and mkdocs.yml are watched already
        server.watch(str(_root(config) / folder))
