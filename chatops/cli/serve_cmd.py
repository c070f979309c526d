"""`chatops serve` and `chatops db upgrade`."""

from __future__ import annotations

import argparse
import atexit
import gc
import signal
import socket
import threading

from chatops.cli.common import language, runtime_or_exit, settings_or_exit
from chatops.i18n import t


def register(sub, lang: str) -> None:
    """Add `serve` and `db` to the parser."""
    def h(key: str) -> str:
        return t(f"cli.help.{key}", lang)

    serve = sub.add_parser("serve", help=h("serve"), description=h("serve"))
    serve.add_argument("--host", help=h("host"))
    serve.add_argument("--port", type=int, help=h("port"))
    serve.add_argument("--threads", type=int, default=8, help=h("threads"))
    serve.add_argument("--workers", type=_at_least_one(lang), default=1, help=h("workers"))
    serve.set_defaults(handler=serve_command)
    db = sub.add_parser("db", help=h("db"), description=h("db"))
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help=h("db_upgrade"), description=h("db_upgrade"))
    upgrade.set_defaults(handler=db_upgrade_command)


def _at_least_one(lang: str):
    """argparse type of --workers: a whole number ≥ 1 (refusals in `lang`)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(t("cli.serve.not_whole", lang, value=text)) from None
        if value < 1:
            raise argparse.ArgumentTypeError(t("cli.serve.below_one", lang, value=value))
        return value

    return parse


def serve_command(args) -> int:
    """Apply migrations, then serve until interrupted: in this process with waitress, or with
    `--workers N` (PostgreSQL only) in N gunicorn worker processes."""
    from chatops import sandbox

    # The interpreter's last collection at exit walks everything a server loaded (rules, the
    # classifier, the dictionary) for seconds and frees nothing the exit would not: skip it.
    atexit.register(gc.freeze)
    overrides = _address(args)
    sandbox_config = None
    requested = settings_or_exit(args, **overrides)
    if args.workers > 1 and requested.database_url.startswith("sqlite"):
        from chatops.cli.common import EXIT_USAGE, CliExit, err

        # One SQLite file takes one writer at a time: processes would only queue for it.
        err(t("cli.serve.workers_need_postgresql", language(args), workers=args.workers))
        raise CliExit(EXIT_USAGE)
    if sandbox.wanted(requested, sandbox.rules_or_none(requested)):  # no Slack, no Teams: the browser sandbox
        if args.workers > 1:
            # The sandbox's embedded Slack and its page live in one process.
            print(t("cli.serve.sandbox_one_process", language(args)), flush=True)
            args.workers = 1
        sandbox_config, sandbox_overrides = sandbox.prepare(requested)
        overrides.update(sandbox_overrides)
    if args.workers > 1:
        return _serve_workers(args, overrides)
    return _serve_one_process(args, overrides, sandbox_config)


def _serve_one_process(args, overrides: dict, sandbox_config) -> int:
    """The whole service in this process: waitress, group commit, the background work."""
    from waitress import serve

    from chatops import logs
    from chatops.app import build_outbox, create_app
    from chatops.background import Background

    runtime = runtime_or_exit(args, **overrides)
    settings = runtime.settings
    listener = _listen_or_exit(args, settings, runtime)
    logs.configure(settings)
    _networks_or_exit(runtime, args)
    app = create_app(runtime)
    outbox = build_outbox(runtime)
    if sandbox_config is not None:
        from chatops.sandbox.web import Sandbox

        sandbox_app = Sandbox(runtime, sandbox_config)
        sandbox_app.mount(app)
        for target, deliverer in sandbox_app.deliverers().items():
            outbox.deliverers.setdefault(target, deliverer)
    background = Background(runtime, outbox, bolt=app.extensions.get("chatops.slack")).start()
    _announce(args, settings, sandbox_config)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # a process manager's stop: the same clean stop as Ctrl-C
    try:
        # The sandbox page long-polls (one thread per open tab) and its clicks call back into this process.
        threads = args.threads if sandbox_config is None else max(args.threads, 24)
        serve(app, sockets=[listener], threads=threads, ident="chatops")
    except KeyboardInterrupt:
        pass
    finally:
        background.stop()
        runtime.close()
    return 0


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


def _serve_workers(args, overrides: dict) -> int:
    """`--workers N` on PostgreSQL: migrate, check and load everything once here, then fork
    gunicorn's N workers, which share what was loaded (rules, the classifier) copy-on-write."""
    from chatops import logs, workers

    runtime = runtime_or_exit(args, **overrides)  # settings, rules and migrations checked before any fork
    settings = runtime.settings
    _networks_or_exit(runtime, args)
    _listen_or_exit(args, settings, runtime).close()  # a port already taken: one clear line, exit 2
    runtime.close()  # no open connection of this process may reach a worker
    logs.configure(settings)
    workers.shared_metrics_dir()  # before the workers import prometheus_client
    _announce(args, settings, None, workers=args.workers)
    options = workers.options(host=settings.host, port=settings.port, workers=args.workers, threads=args.threads,
                              log_level=settings.log_level)
    workers.run(lambda: _worker(runtime), options)
    return 0


def _worker(runtime):
    """In a gunicorn worker, after the fork: the app and background work over the runtime."""
    from chatops import workers
    from chatops.app import build_outbox, create_app
    from chatops.background import Background

    runtime.engine.dispose(close=False)  # SQLAlchemy's rule after a fork: a pool of this process's own
    app = create_app(runtime)
    background = Background(runtime, build_outbox(runtime), bolt=app.extensions.get("chatops.slack")).start()

    def close() -> None:
        background.stop()
        runtime.close()

    return workers.Serving(app, close)


def _address(args) -> dict:
    """The settings overrides given by --host and --port."""
    return {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}


def _announce(args, settings, sandbox_config, workers: int = 1) -> None:
    """The lines a person starting serve reads: where it listens, and how Slack reaches it."""
    from chatops import sandbox

    print(t("cli.serve.listening", language(args), host=settings.host, port=settings.port,
            url=settings.safe_database_url(), rules=settings.rules_path), flush=True)
    if workers > 1:
        print(t("cli.serve.workers", language(args), workers=workers), flush=True)
    if sandbox_config is not None:
        print(t("cli.serve.sandbox", language(args), url=f"{sandbox_config.base_url}/sandbox"), flush=True)
        if not sandbox.is_loopback(settings.host):
            print(t("cli.serve.sandbox_exposed", language(args), host=settings.host), flush=True)
    else:
        print(t(_slack_mode(settings), language(args)), flush=True)


def _listen_or_exit(args, settings, runtime) -> socket.socket:
    """The listening socket on host:port, or exit 2 with one line saying why (port taken, …)."""
    try:
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        return socket.create_server((settings.host, settings.port), family=family, backlog=2048)
    except OSError as exc:
        from chatops.cli.common import EXIT_USAGE, CliExit, err

        err(t("cli.serve.cannot_listen", language(args), host=settings.host, port=settings.port, error=exc))
        runtime.close()
        raise CliExit(EXIT_USAGE) from None


def _slack_mode(settings) -> str:
    """The i18n key of the line saying how Slack reaches this process."""
    if not settings.slack_enabled:
        return "cli.serve.slack_off"
    return "cli.serve.slack_socket" if settings.slack_socket_mode else "cli.serve.slack_http"


def _networks_or_exit(runtime, args) -> None:
    """Build the enabled networks now, so a bad X_/META_/LINE_/... setting stops serve with its name."""
    from chatops.cli.common import EXIT_USAGE, CliExit, err
    from integrations.registry import NetworkSettingsError, networks_of

    try:
        networks_of(runtime)
    except NetworkSettingsError as exc:
        for problem in exc.problems:
            err(t("cli.settings_error", language(args), message=problem))
        runtime.close()
        raise CliExit(EXIT_USAGE) from None


def db_upgrade_command(args) -> int:
    """Bring the database to the latest schema."""
    from chatops import migrate
    from chatops.db import make_engine

    settings = settings_or_exit(args)
    engine = make_engine(settings.database_url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    print(t("cli.db.upgraded", language(args), url=settings.safe_database_url()))
    return 0
