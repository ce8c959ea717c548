"""The `ethicsbot` command: one entry point for trainers, operators and the demo."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterable
from pathlib import Path

from bot.catalog import content_root
from bot.config import ConfigError, Settings


def _validate(args: argparse.Namespace) -> int:
    from bot.catalog import Validation
    from bot.treecache import TreeCache

    root = content_root()
    paths = [Path(p) for p in args.paths] or [root / "dilemmas"]
    cache = None if args.no_cache else TreeCache()
    validation = Validation(paths, root, cache=cache, workers=args.jobs)

    def once(changed: Iterable[Path] = ()) -> int:
        # A validation run builds thousands of acyclic objects that live until it ends: the
        # cyclic collector would rescan them for nothing (a third of a warm run's time).
        gc.disable()
        try:
            problems = validation.run(changed)
        finally:
            gc.enable()
        print("\n".join(map(str, problems)) or "ok", flush=True)
        if problems:
            print(f"{len(problems)} problem(s)", file=sys.stderr, flush=True)
            return 1
        return 0

    if not args.watch:
        return once()
    from bot.watch import watch

    return watch([*paths, root / "policies"], once)


def _demo(args: argparse.Namespace) -> int:
    from bot.adapters.console.loop import Console
    from bot.bootstrap import bootstrap

    services = bootstrap(Settings.from_env())

    def out(text: str) -> None:
        print(text, flush=True)

    def prompt(text: str) -> None:
        print(text, end="", flush=True)

    console = Console(services.consult, stdin=sys.stdin, out=out, prompt=prompt)
    return console.run(tree_id=args.tree, lang=args.lang, resume=not args.new)


def _render(args: argparse.Namespace) -> int:
    from bot.catalog import load_content
    from bot.core.diagram import to_dot, to_mermaid

    content = load_content(content_root())
    tree = content.trees.get(args.id)
    if tree is None:
        print(
            f"no valid tree '{args.id}' (known: {', '.join(sorted(content.trees))})",
            file=sys.stderr,
        )
        return 1
    print(
        to_mermaid(tree, args.lang) if args.format == "mermaid" else to_dot(tree, args.lang), end=""
    )
    return 0


def _find(args: argparse.Namespace) -> int:
    import json

    from bot.catalog import load_content
    from bot.search import find_guides, why_line

    text = " ".join(args.text) if args.text else sys.stdin.read()
    found = find_guides(load_content(content_root()).search_index(), text, args.lang)
    if args.json:
        print(json.dumps([g.as_json(found.lang) for g in found.guides], ensure_ascii=False))
        return 0
    if found.status != "ok":
        print("no words to search for" if found.status == "empty" else "no guide matched")
    for i, g in enumerate(found.guides, 1):
        print(f"{i}. {g.id}  {g.score:.3f}  {g.title}\n   {why_line(g, found.lang)}")
    if found.triage:
        print(f"-  {found.triage.id}  {found.triage.title}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import os

    settings = Settings.from_env()
    settings.check_platforms()
    if args.workers < 1:
        raise ConfigError(f"--workers must be 1 or more, not {args.workers}")
    settings.check_production(workers=args.workers, log_level=args.log[1])
    raw_port = os.environ.get("PORT") or "3000"
    if not args.port and not raw_port.isdigit():
        raise ConfigError(f"PORT must be a port number, not {raw_port!r}")
    port = args.port or int(raw_port)
    if args.workers == 1:
        _serve_one(settings, args.host, port, reuse_port=False)
        return 0
    return _serve_many(settings, args.host, port, args.workers, args.log)


def _serve_one(
    settings: Settings,
    host: str,
    port: int,
    *,
    reuse_port: bool,
    log: tuple[str, int] | None = None,
) -> None:
    from bot.bootstrap import bootstrap
    from bot.web import run

    if log is not None:  # a spawned worker starts with logging unconfigured
        from bot.ops.logs import configure

        configure(*log)
    _tune_malloc()
    services = bootstrap(settings)
    _settle()
    run(settings, services, host, port, reuse_port=reuse_port)


def _settle() -> None:
    """After bootstrap, before serving: what was loaded stays out of the collector's way
    (bot/ops/memory.settle says why)."""
    import logging

    from bot.ops import memory

    frozen = memory.settle()
    logging.getLogger("bot.ops.memory").info("heap settled: %d objects frozen", frozen)


def _tune_malloc() -> None:
    """Before bootstrap starts any thread: a long-running server's malloc settings
    (bot/ops/memory.py says which and why)."""
    import logging
    import os

    from bot.ops import memory

    applied = memory.tune(os.environ)
    if applied:
        logging.getLogger("bot.ops.memory").info("malloc tuned: %s", ", ".join(applied))


def _serve_many(
    settings: Settings, host: str, port: int, workers: int, log: tuple[str, int]
) -> int:
    """N processes on one port (SO_REUSEPORT): the kernel spreads connections over them.
    Nothing is kept in process memory, so any process may take any request."""
    import multiprocessing
    import signal

    from bot.storage.db import Database, upgrade

    if settings.auto_migrate:  # once, before the workers start
        db = Database(settings.database_url)
        upgrade(db.engine)
        db.dispose()
    child = settings.model_copy(update={"auto_migrate": False})
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_serve_one,
            args=(child, host, port),
            kwargs={"reuse_port": True, "log": log},
            daemon=False,
        )
        for _ in range(workers)
    ]
    for p in procs:
        p.start()

    def stop(signum: int, _frame: object) -> None:
        for p in procs:
            if p.is_alive():
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.join()
    return max((p.exitcode or 0) for p in procs)


def _socket(args: argparse.Namespace) -> int:
    import asyncio

    from bot.adapters.slack.socket import run_socket_mode
    from bot.bootstrap import bootstrap

    settings = Settings.from_env()
    settings.require("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN")
    _tune_malloc()
    services = bootstrap(settings)
    _settle()
    asyncio.run(run_socket_mode(services))
    return 0


def _manifest(args: argparse.Namespace) -> int:
    import json

    if args.platform == "teams":
        return _teams_package(args)
    if args.out or args.website or args.privacy_url or args.terms_url or args.developer:
        print(
            "ethicsbot: the Slack manifest is printed; those options are for teams", file=sys.stderr
        )
        return 2

    from bot.adapters.slack.manifest import slack_manifest

    if not args.socket and not args.url:
        print("ethicsbot: --url is required (or --socket)", file=sys.stderr)
        return 2
    print(
        json.dumps(slack_manifest(url=args.url, socket=args.socket), indent=2, ensure_ascii=False)
    )
    return 0


def _teams_package(args: argparse.Namespace) -> int:
    """`manifest teams --out FILE.zip`: the app package an admin uploads to Teams."""
    import os

    from bot.adapters.teams.manifest import FILES, bot_id, package, teams_manifest

    if args.socket:
        print("ethicsbot: --socket is a Slack option", file=sys.stderr)
        return 2
    if not args.out:
        print("ethicsbot: --out FILE.zip is required for teams", file=sys.stderr)
        return 2
    client_id = bot_id(os.environ)
    manifest = teams_manifest(
        client_id,
        url=args.url,
        developer=args.developer or "EthicsBot",
        website=args.website,
        privacy_url=args.privacy_url,
        terms_url=args.terms_url,
    )
    data = package(manifest)
    Path(args.out).write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes: {', '.join(FILES)}), bot id {client_id}")
    if not (args.url or args.website):
        print(
            "ethicsbot: no --url or --website: the developer links point at "
            "https://ethicsbot.invalid/ (reachable nowhere); fine for sideloading",
            file=sys.stderr,
        )
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
    print(f"BROKEN at entry {verdict.first_bad}: {verdict.reason}; last good head {verdict.head}")
    return 1


def _cases_export(args: argparse.Namespace) -> int:
    from bot.cases.reports import export
    from bot.storage.db import Database, upgrade

    db = Database(Settings.from_env().database_url)
    upgrade(db.engine)
    sys.stdout.write(export(db, args.format))
    return 0


def _one_platform(settings: Settings) -> str:
    """The platform a trainer meant when they named none: only unambiguous with one."""
    if len(settings.platforms) == 1:
        return settings.platforms[0]
    live = " and ".join(settings.platforms) or "no platform"
    raise SystemExit(f"ethicsbot: {live} configured; say which with --platform slack|teams")


def _exercise(args: argparse.Namespace) -> int:
    import getpass
    import json

    from bot.bootstrap import bootstrap
    from bot.service import Refused

    services = bootstrap(Settings.from_env())
    x = services.exercises
    actor = f"cli:{getpass.getuser()}"
    try:
        if args.exercise_command == "list":
            for s in x.schedules():
                print(
                    f"{s.id}  {s.status:<9} {s.channel:<12} {s.kind:<6} "
                    f"{s.exercise_id or '(rotation)':<28} {s.post_spec} -> {s.reveal_spec} {s.tz}"
                )
            print("exercises:", ", ".join(sorted(services.content.content.exercises)))
        elif args.exercise_command == "schedule":
            kind = "weekly" if args.weekly else "once"
            platform = args.platform or _one_platform(services.settings)
            s = x.schedule(
                actor,
                platform=platform,
                channel=args.channel,
                kind=kind,
                post=args.post,
                reveal=args.reveal,
                tz=args.tz,
                exercise_id=args.exercise,
            )
            print(
                f"scheduled {s.id}: {s.kind} in {s.channel}, {s.post_spec} -> {s.reveal_spec} "
                f"({s.tz})"
            )
        elif args.exercise_command == "cancel":
            s = x.cancel(actor, args.id)
            print(f"cancelled {s.id}")
        elif args.exercise_command == "tick":
            print(json.dumps(x.tick()))
        elif args.exercise_command == "results":
            rows = x.results()
            if args.format == "json":
                print(json.dumps(rows, indent=2, ensure_ascii=False))
            else:
                import csv

                w = csv.writer(sys.stdout)
                w.writerow(
                    [
                        "exercise",
                        "topic",
                        "channel",
                        "posted_for",
                        "status",
                        "answers",
                        "distribution",
                        "recommended_share",
                    ]
                )
                for r in rows:
                    dist = r["distribution"]
                    w.writerow(
                        [
                            r["exercise"],
                            r["topic"],
                            r["channel"],
                            r["posted_for"],
                            r["status"],
                            r["answers"],
                            " ".join(f"{k}={v}" for k, v in dist.items()) if dist else "",
                            "" if r["recommended_share"] is None else r["recommended_share"],
                        ]
                    )
    except Refused as exc:
        print(f"ethicsbot: {exc}", file=sys.stderr)
        return 1
    return 0


def _purge(args: argparse.Namespace) -> int:
    from bot.retention import load_retention, purge
    from bot.service import utcnow
    from bot.storage.db import Database, upgrade

    settings = Settings.from_env()
    db = Database(settings.database_url)
    upgrade(db.engine)
    for kind, n in purge(db, load_retention(settings.content), utcnow()).items():
        print(f"{n:>6}  {kind}")
    return 0


def _report(args: argparse.Namespace) -> int:
    """`report monthly|exercises`: figures from the database written to --out."""
    from bot.reports import export, stats
    from bot.service import utcnow

    now = utcnow()
    if args.report_command == "reflection":
        return _report_reflection(args)
    if args.report_command == "monthly":
        from bot.storage.db import Database, upgrade

        db = Database(Settings.from_env().database_url)
        upgrade(db.engine)
        try:
            month = stats.Month.parse(args.month) if args.month else stats.Month.previous(now)
        except ValueError as exc:
            print(f"ethicsbot: {exc}", file=sys.stderr)
            return 2
        data = export.monthly(db, month, now, args.format, args.lang)
    else:
        from bot.bootstrap import bootstrap

        data = export.exercises(
            bootstrap(Settings.from_env()).exercises, now, args.format, args.lang
        )
    Path(args.out).write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes)")
    return 0


def _report_reflection(args: argparse.Namespace) -> int:
    """`report reflection`: answers per tree and outcome, k >= 5, lessons only on request."""
    from bot.reflection.report import aggregates, to_csv
    from bot.service import utcnow
    from bot.storage.db import Database, upgrade

    db = Database(Settings.from_env().database_url)
    upgrade(db.engine)
    items = aggregates(db, utcnow, with_learned=args.with_learned, actor="cli:report")
    data = to_csv(items, with_learned=args.with_learned)
    if args.out in (None, "-"):
        sys.stdout.write(data.decode())
        return 0
    Path(args.out).write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ethicsbot", description="Ethics decision support for bank staff."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    v = sub.add_parser("validate", help="check trees; exit 1 listing file:line: node: message")
    v.add_argument("paths", nargs="*", help="files or folders (default: the shipped content)")
    v.add_argument("--watch", action="store_true", help="validate again on every save (Ctrl-C)")
    v.add_argument("--jobs", type=int, default=None, help="parse with N processes (default: cores)")
    v.add_argument("--no-cache", action="store_true", help="parse every file, keep no cache")
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

    f = sub.add_parser("find", help="the guides that best fit a description in your own words")
    f.add_argument("text", nargs="*", help="the description (default: read standard input)")
    f.add_argument("--lang", choices=["en", "zh"], help="default: the language of the text")
    f.add_argument("--json", action="store_true", help='[{"id","title","score","why"}], best first')
    f.set_defaults(func=_find)

    sv = sub.add_parser("serve", help="run the web process (Slack HTTP, health)")
    sv.add_argument("--host", default="0.0.0.0")
    sv.add_argument("--port", type=int, default=0, help="default: $PORT or 3000")
    sv.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (use the number of cores)",
    )
    sv.set_defaults(func=_serve)

    so = sub.add_parser("socket", help="run the Slack app over Socket Mode (no inbound HTTP)")
    so.set_defaults(func=_socket)

    m = sub.add_parser("manifest", help="print the Slack app manifest or build the Teams package")
    m.add_argument("platform", choices=["slack", "teams"])
    m.add_argument("--url", help="public base URL, e.g. https://ethics.example.com")
    m.add_argument("--socket", action="store_true", help="Socket Mode variant (no URLs)")
    m.add_argument("--out", help="teams: the app package (.zip) to write")
    m.add_argument("--developer", help="teams: developer name shown in Teams (default EthicsBot)")
    m.add_argument("--website", help="teams: developer website (default: --url)")
    m.add_argument("--privacy-url", help="teams: privacy statement (default: the website)")
    m.add_argument("--terms-url", help="teams: terms of use (default: the website)")
    m.set_defaults(func=_manifest)

    db = sub.add_parser("db", help="database maintenance")
    dbs = db.add_subparsers(dest="db_command", required=True)
    dbs.add_parser("upgrade", help="apply migrations").set_defaults(func=_db_upgrade)

    c = sub.add_parser("cases", help="compliance cases")
    csub = c.add_subparsers(dest="cases_command", required=True)
    ce = csub.add_parser("export", help="all cases for regulators and statistics (no identities)")
    ce.add_argument("--format", choices=["csv", "json"], default="csv")
    ce.set_defaults(func=_cases_export)

    x = sub.add_parser("exercise", help="weekly dilemma exercises")
    xs = x.add_subparsers(dest="exercise_command", required=True)
    xs.add_parser("list", help="schedules and available exercises").set_defaults(func=_exercise)
    xsch = xs.add_parser("schedule", help="schedule one exercise or a weekly rotation")
    xsch.add_argument(
        "--channel",
        required=True,
        help="Slack channel id (C0123456789) or Teams channel conversation id (19:…@thread.tacv2)",
    )
    xsch.add_argument(
        "--platform",
        choices=["slack", "teams"],
        help="where the channel is (default: the one platform configured)",
    )
    xsch.add_argument("--weekly", action="store_true", help="a rotation: --post 'mon 09:00'")
    xsch.add_argument("--exercise", help="exercise id (one-off schedules)")
    xsch.add_argument("--post", required=True, help="'2026-12-07T09:00' or 'mon 09:00'")
    xsch.add_argument("--reveal", required=True, help="'2026-12-11T16:00' or 'fri 16:00'")
    xsch.add_argument("--tz", default="Asia/Shanghai")
    xsch.set_defaults(func=_exercise)
    xc = xs.add_parser("cancel", help="cancel a schedule")
    xc.add_argument("id")
    xc.set_defaults(func=_exercise)
    xs.add_parser("tick", help="run the scheduler once (for an external cron)").set_defaults(
        func=_exercise
    )
    xr = xs.add_parser("results", help="participation and distribution per exercise")
    xr.add_argument("--format", choices=["csv", "json"], default="csv")
    xr.set_defaults(func=_exercise)

    sub.add_parser(
        "purge", help="delete what policies/retention.yaml no longer keeps"
    ).set_defaults(func=_purge)

    rp = sub.add_parser("report", help="compliance and trainer reports as PNG, CSV or JSON")
    rps = rp.add_subparsers(dest="report_command", required=True)
    rm = rps.add_parser("monthly", help="monthly compliance KPIs (default: last month)")
    rm.add_argument("--month", help="YYYY-MM, UTC")
    rm.add_argument("--format", choices=["png", "csv", "json"], default="png")
    rex = rps.add_parser("exercises", help="exercise results over the last 12 weeks")
    rex.add_argument("--format", choices=["png", "csv"], default="png")
    for p in (rm, rex):
        p.add_argument("--out", required=True, help="file to write")
        p.add_argument("--lang", choices=["en", "zh"], default="en")
        p.set_defaults(func=_report)
    rrf = rps.add_parser("reflection", help="reflection follow-up answers per tree and outcome")
    rrf.add_argument("--format", choices=["csv"], default="csv")
    rrf.add_argument("--out", help="file to write (default: standard output)")
    rrf.add_argument(
        "--with-learned",
        action="store_true",
        help="add the one-line lessons (only for groups of at least 5 answers; audited)",
    )
    rrf.set_defaults(func=_report)

    a = sub.add_parser("audit", help="audit log")
    asub = a.add_subparsers(dest="audit_command", required=True)
    asub.add_parser("verify", help="check the hash chain; print the head hash").set_defaults(
        func=_audit_verify
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    import os

    from bot.ops.logs import LogSettingError, configure, log_options

    try:
        # the web process logs JSON for log shippers; commands people run read text
        args.log = log_options(
            os.environ,
            default_format="json" if args.command == "serve" else "text",
            verbose=args.verbose,
        )
    except LogSettingError as exc:
        print(f"ethicsbot: {exc}", file=sys.stderr)
        return 2
    configure(*args.log)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"ethicsbot: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
