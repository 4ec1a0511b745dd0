"""The thin MkDocs adapter: generated pages, their edit links, redirects, nav places, the
feeds' authors, and live reload that renders only what an edit changed.

Everything it publishes comes from the pure core (`apipatterns.staging`, which also lays
the site out for Zensical); this module only wires it into MkDocs.
"""

import logging
import os
from pathlib import Path

import jinja2
import jinja2.bccache
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import CombinedEvent, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import Navigation

from apipatterns.catalog import Catalog, load_catalog
from apipatterns.feeds import corrected_feeds
from apipatterns.problems import CatalogError
from apipatterns.render import nav, page_sources
from apipatterns.staging import API_STYLES, expand_nav, published_files, redirect_maps

_catalog: Catalog | None = None
# `make serve` builds with --dirty. MkDocs keeps this module between rebuilds, so these
# remember what the last build published, and a rebuild renders only what changed.
_dirty = False
_published: dict[str, str] = {}
_titles: dict[str, str | None] = {}
_shape: object = None


def on_startup(command: str, dirty: bool) -> None:
    global _dirty
    _dirty = dirty
    if dirty:  # its warning would abort the strict build; this module keeps it exact
        logging.getLogger("mkdocs.commands.build").addFilter(
            lambda record: "'dirty' build" not in record.getMessage()
        )


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).parent


def on_config(config: MkDocsConfig) -> None:
    global _catalog
    try:
        _catalog = load_catalog(_root(config))
    except CatalogError as exc:
        raise PluginError(f"the catalog has problems:\n{exc}") from None
    if API_STYLES in config.extra_css:  # linked by the pages that need it (theme/main.html)
        config.extra_css.remove(API_STYLES)
    config.nav = expand_nav(config.nav or [], nav(_catalog))
    config.plugins["redirects"].config["redirect_maps"] |= redirect_maps(_catalog)


@event_priority(100)  # before other plugins (redirects) look at the files
def on_files(files: Files, config: MkDocsConfig) -> Files:
    assert _catalog is not None
    for file in files:  # `edit_uri` is the repository root; hand-written pages live in docs/
        file.edit_uri = f"{Path(config.docs_dir).name}/{file.src_uri}"
    sources = page_sources(_catalog)
    published = published_files(_catalog, config.site_url or "/")
    for src_uri, content in published.items():
        file = File.generated(config, src_uri, content=content)
        file.edit_uri = sources.get(src_uri)
        files.append(file)
    if _dirty:
        shape = (
            nav(_catalog),
            [(p.id, p.title, p.tags) for p in _catalog.patterns.values()],
            [(u.id, u.title) for u in _catalog.use_cases.values()],
            Path(config.config_file_path).read_text(),
        )
        _render_only_changes(files, published, shape)
    return files


def _render_only_changes(files: Files, published: dict[str, str], shape: object) -> None:
    """Mark what a dirty rebuild renders: the generated pages whose Markdown changed and the
    hand-written ones saved since (MkDocs' own test), or every page when what they all show
    changed (the navigation, a title, the tags, mkdocs.yml)."""
    global _shape
    everything = shape != _shape
    for file in files:
        if everything:
            file.is_modified = lambda: True
        elif file.src_uri in published:
            same = _published.get(file.src_uri) == published[file.src_uri]
            changed = not (same and os.path.isfile(file.abs_dest_path))
            file.is_modified = lambda changed=changed: changed
    _published.clear()
    _published.update(published)
    _shape = shape


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


class _CompiledTemplates(jinja2.BytecodeCache):
    """The theme's compiled templates, kept between rebuilds (Jinja checks each source)."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_compiled = _CompiledTemplates()


@event_priority(100)
def on_env(env: jinja2.Environment, config: MkDocsConfig, files: Files) -> jinja2.Environment:
    """In a dirty rebuild, the pages it does not render keep their titles for the navigation
    (MkDocs would show "None": it takes a title from the page it did not read), and the
    theme's templates are compiled once (MkDocs makes a new environment each time)."""
    if _dirty:
        for file in files.documentation_pages():
            if file.page is not None and file.page.markdown is not None:
                _titles[file.src_uri] = file.page.title
            elif file.page is not None and file.src_uri in _titles:
                file.page.title = _titles[file.src_uri]
        env.bytecode_cache = _compiled
    return env


@event_priority(100)  # before Material's search plugin writes the index from its entries
def _index_every_page(config: MkDocsConfig) -> None:
    """A dirty rebuild indexes only the pages it rendered: keep every other page's entries
    from the last index. (Material's own merge keeps all but the first page rendered.)"""
    search = config.plugins.get("material/search")
    previous = getattr(search, "search_index_prev", None)
    if _dirty and previous is not None:
        rendered = {entry["location"].partition("#")[0] for entry in search.search_index.entries}
        search.search_index.entries[:0] = [
            entry
            for entry in previous.entries
            if entry["location"].partition("#")[0] not in rendered
        ]
        search.search_index_prev = None


@event_priority(-100)  # after the rss plugin has written its feeds
def _credit_authors(config: MkDocsConfig) -> None:
    for path, text in corrected_feeds(Path(config.site_dir)).items():
        path.write_text(text, encoding="utf-8")


on_post_build = CombinedEvent(_index_every_page, _credit_authors)


def on_build_error(error: Exception) -> None:
    """After a failed build, whatever it wrote, the next one renders every page again."""
    global _shape
    _published.clear()
    _titles.clear()
    _shape = None


def on_serve(server, config: MkDocsConfig, builder) -> None:
    # MkDocs polls every 0.5 s; the catalog's folders are small, so poll them every 0.1 s
    # (watchdog gives each folder scheduled from here the observer's timeout).
    server.observer._timeout = 0.1
    for folder in ("data", "snippets"):  # docs/ and mkdocs.yml are watched already
        server.watch(str(_root(config) / folder))
