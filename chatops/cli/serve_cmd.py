"""`chatops serve` and `chatops db upgrade`."""

from __future__ import annotations

import threading

from chatops import logs, migrate, sandbox
from chatops.cli.common import language, runtime_or_exit, settings_or_exit
from chatops.db import make_engine
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
    if sandbox.wanted(requested):  # no Slack credentials: the browser sandbox
        sandbox_config, sandbox_overrides = sandbox.prepare(requested)
        overrides.update(sandbox_overrides)
    runtime = runtime_or_exit(args, **overrides)
    settings = runtime.settings
    logs.configure(settings)
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
    print(t("cli.serve.listening", language(args), host=settings.host, port=settings.port,
            url=settings.safe_database_url(), rules=settings.rules_path), flush=True)
    if sandbox_config is not None:
        print(t("cli.serve.sandbox", language(args), url=f"{sandbox_config.base_url}/sandbox"), flush=True)
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
        worker.join(timeout=10)
        runtime.close()
    return 0


def _slack_mode(settings) -> str:
    """The i18n key of the line saying how Slack reaches this process."""
    if not settings.slack_enabled:
        return "cli.serve.slack_off"
    return "cli.serve.slack_socket" if settings.slack_socket_mode else "cli.serve.slack_http"


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
