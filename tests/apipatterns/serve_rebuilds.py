"""Build a folder as `make serve` does (`mkdocs serve --dirty`): once, then again for every
line read from stdin. After each build it prints the HTML files that build wrote, as a JSON
list, or `{"error": ...}` if the build failed.

`test_mkdocs_hook.py` runs it in a process of its own: MkDocs keeps the hook module between
the builds of one process, as it does between the rebuilds of one `mkdocs serve`.
"""

import json
import sys
from pathlib import Path

from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.exceptions import MkDocsException

SERVE_URL = "http://127.0.0.1:8000/docs/"


def mtimes(site: Path) -> dict[str, int]:
    return {p.relative_to(site).as_posix(): p.stat().st_mtime_ns for p in site.rglob("*.html")}


def main(root: Path, site: Path) -> None:
    before: dict[str, int] | None = None
    while before is None or sys.stdin.readline():
        config = load_config(str(root / "mkdocs.yml"), site_dir=str(site))
        if before is None:
            config.plugins.on_startup(command="serve", dirty=True)
            before = {}
        config.site_url = SERVE_URL
        try:
            build(config, serve_url=SERVE_URL, dirty=True)
        except MkDocsException as exc:
            print(json.dumps({"error": str(exc)}), flush=True)
            continue
        now = mtimes(site)
        print(json.dumps(sorted(name for name in now if before.get(name) != now[name])), flush=True)
        before = now


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
