"""`apipatterns check | export | new | prove`: the catalog core from the command line."""

import argparse
import sys
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


COMMANDS = {"check": _check, "export": _export, "new": _new, "prove": _prove}

if __name__ == "__main__":
    sys.exit(main())
