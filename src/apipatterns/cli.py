"""`apipatterns check | export | new | prove | stage | feeds`: the catalog core from the command
line."""

import argparse
import sys
import time
from pathlib import Path

from .catalog import load_catalog
from .export import catalog_json, catalog_schema_json
from .problems import CatalogError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="apipatterns", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository root")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="validate the catalog; one line per problem")
    export = commands.add_parser("export", help="print catalog.json or the JSON Schema")
    export.add_argument("what", choices=["catalog", "schema"])
    new = commands.add_parser("new", help="scaffold a pattern that passes `check`")
    new.add_argument("kind", choices=["pattern"])
    new.add_argument("id")
    new.add_argument("--title", help="defaults to the id in sentence case")
    prove = commands.add_parser("prove", help="run each rule's proof, on the snippet and broken")
    prove.add_argument("patterns", nargs="*", help="pattern ids (default: all)")
    stage = commands.add_parser("stage", help="lay the site out as a folder for Zensical")
    stage.add_argument("folder", type=Path, help="the staging folder; the site goes to its site/")
    stage.add_argument("--watch", action="store_true", help="re-stage on every save, until ^C")
    feeds = commands.add_parser("feeds", help="correct a built site's RSS feeds (Zensical's)")
    feeds.add_argument("site", type=Path, help="the built site's folder")
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in the catalog; nothing was built.", file=sys.stderr)
        return 1


def _check(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.root)
    print(f"catalog OK: {len(catalog.use_cases)} use case(s), {len(catalog.patterns)} pattern(s)")
    return 0


def _export(args: argparse.Namespace) -> int:
    text = (
        catalog_json(load_catalog(args.root)) if args.what == "catalog" else catalog_schema_json()
    )
    sys.stdout.write(text)
    return 0


def _new(args: argparse.Namespace) -> int:
    from .scaffold import write_pattern

    for path in write_pattern(args.root, args.id, args.title):
        print(f"wrote {path}")
    return _check(args)


def _prove(args: argparse.Namespace) -> int:
    from .prove import prove, report

    catalog = load_catalog(args.root)
    unknown = sorted(set(args.patterns) - set(catalog.patterns))
    if unknown:
        print(f"no pattern {', '.join(unknown)}; the ids are in data/patterns/", file=sys.stderr)
        return 2
    outcomes = prove(catalog, args.root.resolve(), args.patterns)
    text, ok = report(catalog, outcomes, args.patterns)
    print(text)
    return 0 if ok else 1


def _stage(args: argparse.Namespace) -> int:
    from .staging import STAGED_CONFIG

    root = args.root.resolve()
    # The catalog feeds every page: when watching, re-stage on any save, in this warm process,
    # and let the generator's own server rebuild the pages whose files changed. The files are
    # dated before the first staging, so that a save while it runs is staged too.
    watched = [root / name for name in ("data", "docs", "snippets", "tests", "mkdocs.yml")]
    seen = _mtimes(watched) if args.watch else {}
    changed, total = _restage(root, args.folder)
    print(f"staged {total} files ({changed} changed) in {args.folder}/{STAGED_CONFIG}", flush=True)
    if not args.watch:
        return 0
    while True:
        time.sleep(0.1)
        now = _mtimes(watched)
        if now == seen:
            continue
        seen = now
        try:
            changed, total = _restage(root, args.folder)
        except CatalogError as exc:
            print(f"{exc}\nnot staged: fix the catalog and save again", file=sys.stderr, flush=True)
        else:
            print(f"staged {changed} changed file(s)", flush=True)


def _restage(root: Path, folder: Path) -> tuple[int, int]:
    """Write the staging folder; rewrite only what changed and drop what went, so that a
    generator watching it rebuilds only real edits. Returns (changed, total)."""
    from .staging import read_config, staged

    files = {
        name: content.encode() if isinstance(content, str) else content
        for name, content in staged(
            root, load_catalog(root), read_config(root / "mkdocs.yml")
        ).items()
    }
    for old in (folder / "docs").rglob("*") if (folder / "docs").is_dir() else ():
        if old.is_file() and old.relative_to(folder).as_posix() not in files:
            old.unlink()
    changed = 0
    for name, content in files.items():
        path = folder / name
        if not path.is_file() or path.read_bytes() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            changed += 1
    return changed, len(files)


def _mtimes(paths: list[Path]) -> dict[Path, float]:
    return {
        file: file.stat().st_mtime
        for path in paths
        for file in ([path] if path.is_file() else path.rglob("*"))
        if file.is_file() and "__pycache__" not in file.parts
    }


def _feeds(args: argparse.Namespace) -> int:
    from .feeds import corrected_feeds

    for path, text in corrected_feeds(args.site).items():
        path.write_text(text, encoding="utf-8")
        print(f"corrected {path}")
    return 0


COMMANDS = {
    "check": _check,
    "export": _export,
    "new": _new,
    "prove": _prove,
    "stage": _stage,
    "feeds": _feeds,
}

if __name__ == "__main__":
    sys.exit(main())
