"""`chatops serve` and `chatops db upgrade`."""

from __future__ import annotations

import threading

from chatops import logs, migrate, sandbox
from chatops.cli.common import language, runtime_or_exit, settings_or_exit
from chatops.db import background_checkpoints, make_engine
from chatops.i18n import t


def register(sub) -> None:
    """Add `serve` and `db` to the parser."""
    serve = sub.add_parser("serve", help="run the web app (webhooks, Slack, health, metrics)")
    serve.add_argument("--host", help="address to bind (default CHATOPS_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default CHATOPS_PORT or 8080)")
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    serve.set_defaults(handler=serve_command)
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="apply all migrations")
    upgrade.set_defaults(handler=db_upgrade_command)


def serve_command(args) -> int:
    """Apply migrations, then serve the Flask app with waitress until interrupted."""
    from waitress import serve

    from chatops.app import build_outbox, create_app

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    sandbox_config = None
    requested = settings_or_exit(args, **overrides)
    if sandbox.wanted(requested, sandbox.rules_or_none(requested)):  # no Slack, no Teams: the browser sandbox
        sandbox_config, sandbox_overrides = sandbox.prepare(requested)
        overrides.update(sandbox_overrides)
    runtime = runtime_or_exit(args, **overrides)
    settings = runtime.settings
    checkpointer = background_checkpoints(runtime.engine)
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
    stop = threading.Event()
    worker = threading.Thread(target=outbox.run_forever, args=(stop,), name="outbox", daemon=True)
    worker.start()
    socket = None
    if settings.slack_socket_mode:
        from chatops.slack.app import start_socket_mode

        socket = start_socket_mode(runtime, app.extensions["chatops.slack"])
    poller = _start_polling(runtime, stop)
    scheduler = start_scheduler(runtime)
    print(t("cli.serve.listening", language(args), host=settings.host, port=settings.port,
            url=settings.safe_database_url(), rules=settings.rules_path), flush=True)
    if sandbox_config is not None:
        print(t("cli.serve.sandbox", language(args), url=f"{sandbox_config.base_url}/sandbox"), flush=True)
        if not sandbox.is_loopback(settings.host):
            print(t("cli.serve.sandbox_exposed", language(args), host=settings.host), flush=True)
    else:
        print(t(_slack_mode(settings), language(args)), flush=True)
    try:
        # The sandbox page long-polls (one thread per open tab) and its clicks call back into this process.
        threads = args.threads if sandbox_config is None else max(args.threads, 24)
        serve(app, host=settings.host, port=settings.port, threads=threads, ident="chatops")
    finally:
        if socket is not None:
            socket.close()
        stop.set()
        if scheduler is not None:
            scheduler.shutdown()
        worker.join(timeout=10)
        if poller:
            poller.join(timeout=10)
        if checkpointer is not None:
            checkpointer.stop()
        runtime.close()
    return 0


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


def _start_polling(runtime, stop: threading.Event) -> threading.Thread | None:
    """Poll the enabled networks' feeds (mentions, keyword searches) in a daemon thread."""
    from integrations.polling import PollLoop
    from integrations.registry import networks_of

    networks = networks_of(runtime)
    pollers = networks.pollers()
    if not pollers:
        return None
    loop = PollLoop(pollers, runtime.flows, networks.context.store)
    thread = threading.Thread(target=loop.run_forever, args=(stop,), name="poller", daemon=True)
    thread.start()
    return thread


def start_scheduler(runtime):
    """Start the scheduler: SLA, paging and the weekly stats digest, run only while this replica
    holds the lease."""
    if not runtime.settings.scheduler_enabled:
        return None
    from chatops.scheduler import Lease, Scheduler

    scheduler = Scheduler(runtime.flows, Lease(runtime.session_factory), interval=runtime.settings.scheduler_interval,
                          wake=runtime.outbox_wakeup.set, batch=25, page_batch=5, pause=0.1)
    scheduler.start()
    return scheduler


def db_upgrade_command(args) -> int:
    """Bring the database to the latest schema."""
    settings = settings_or_exit(args)
    engine = make_engine(settings.database_url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    print(t("cli.db.upgraded", language(args), url=settings.safe_database_url()))
    return 0
