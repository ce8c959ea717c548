"""The `ethicsbot` command: one entry point for trainers, operators and the demo."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bot.catalog import content_root, validate
from bot.config import ConfigError, Settings


def _validate(args: argparse.Namespace) -> int:
    root = content_root()
    paths = [Path(p) for p in args.paths] or [root / "dilemmas"]
    problems = validate(paths, root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("ok")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bot.adapters.console.loop import Console
    from bot.bootstrap import bootstrap

    services = bootstrap(Settings.from_env())

    def out(text: str) -> None:
        print(text, flush=True)

    console = Console(services.consult, stdin=sys.stdin, out=out)
    return console.run(tree_id=args.tree, lang=args.lang, resume=not args.new)


def _render(args: argparse.Namespace) -> int:
    from bot.catalog import load_content
    from bot.core.diagram import to_dot, to_mermaid

    content = load_content(content_root())
    tree = content.trees.get(args.id)
    if tree is None:
        print(f"no valid tree '{args.id}' (known: {', '.join(sorted(content.trees))})",
              file=sys.stderr)
        return 1
    print(to_mermaid(tree, args.lang) if args.format == "mermaid" else to_dot(tree, args.lang),
          end="")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from bot.storage.db import Database, upgrade

    settings = Settings.from_env()
    db = Database(settings.database_url)
    upgrade(db.engine)
    print("database is at the newest schema")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from bot.storage import audit
    from bot.storage.db import Database

    db = Database(Settings.from_env().database_url)
    with db.tx() as s:
        verdict = audit.verify(s)
    if verdict.ok:
        print(f"ok: {verdict.entries} entries, head {verdict.head}")
        return 0
    print(f"BROKEN at entry {verdict.first_bad}: {verdict.reason}; "
          f"last good head {verdict.head}")
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ethicsbot", description="Ethics decision support for bank staff.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    v = sub.add_parser("validate", help="check trees; exit 1 listing file:line: node: message")
    v.add_argument("paths", nargs="*", help="files or folders (default: the shipped content)")
    v.set_defaults(func=_validate)

    d = sub.add_parser("demo", help="walk a tree in the terminal (works with piped stdin)")
    d.add_argument("--tree", help="tree id or topic (default: pick from a list)")
    d.add_argument("--lang", choices=["en", "zh"], default="en")
    d.add_argument("--new", action="store_true", help="do not offer to resume")
    d.set_defaults(func=_demo)

    r = sub.add_parser("render", help="draw a tree as a Mermaid flowchart or Graphviz graph")
    r.add_argument("id")
    r.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    r.add_argument("--lang", choices=["en", "zh"], default="en")
    r.set_defaults(func=_render)

    db = sub.add_parser("db", help="database maintenance")
    dbs = db.add_subparsers(dest="db_command", required=True)
    dbs.add_parser("upgrade", help="apply migrations").set_defaults(func=_db_upgrade)

    a = sub.add_parser("audit", help="audit log")
    asub = a.add_subparsers(dest="audit_command", required=True)
    asub.add_parser("verify", help="check the hash chain; print the head hash").set_defaults(
        func=_audit_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"ethicsbot: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
