"""The thin MkDocs adapter: generated pages, their edit links, redirects, nav places, live reload.

Everything it publishes comes from the pure core (`apipatterns.staging`, which also lays
the site out for Zensical); this module only wires it into MkDocs.
"""

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import Navigation

from apipatterns.catalog import Catalog, load_catalog
from apipatterns.problems import CatalogError
from apipatterns.render import nav, page_sources
from apipatterns.staging import expand_nav, published_files, redirect_maps

_catalog: Catalog | None = None


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).parent


def on_config(config: MkDocsConfig) -> None:
    global _catalog
    try:
        _catalog = load_catalog(_root(config))
    except CatalogError as exc:
        raise PluginError(f"the catalog has problems:\n{exc}") from None
    config.nav = expand_nav(config.nav or [], nav(_catalog))
    config.plugins["redirects"].config["redirect_maps"] |= redirect_maps(_catalog)


@event_priority(100)  # before other plugins (redirects) look at the files
def on_files(files: Files, config: MkDocsConfig) -> Files:
    assert _catalog is not None
    for file in files:  # `edit_uri` is the repository root; hand-written pages live in docs/
        file.edit_uri = f"{Path(config.docs_dir).name}/{file.src_uri}"
    sources = page_sources(_catalog)
    for src_uri, content in published_files(_catalog, config.site_url or "/").items():
        file = File.generated(config, src_uri, content=content)
        file.edit_uri = sources.get(src_uri)
        files.append(file)
    return files


def on_nav(nav: Navigation, config: MkDocsConfig, files: Files) -> Navigation:
    """A page the navigation lists twice (a pattern that several use cases share) keeps its
    first place: its section opens and its neighbours are those of its first listing.

    MkDocs would give it the section and neighbours of its last listing; Zensical gives it
    those of its first, and both builds should show a reader the same sidebar.
    """
    placed: set[int] = set()

    def place(items: list, parent: object) -> None:
        for item in items:
            if item.is_page and id(item) not in placed:
                placed.add(id(item))
                item.parent = parent
            elif item.is_section:
                place(item.children, item)

    place(nav.items, None)
    listings = nav.pages
    first: dict[int, int] = {}
    for index, page in enumerate(listings):
        first.setdefault(id(page), index)
    for page in listings:
        index = first[id(page)]
        page.previous_page = listings[index - 1] if index else None
        page.next_page = listings[index + 1] if index + 1 < len(listings) else None
    return nav


def on_serve(server, config: MkDocsConfig, builder) -> None:
    for folder in ("data", "snippets"):  # docs/ and mkdocs.yml are watched already
        server.watch(str(_root(config) / folder))
