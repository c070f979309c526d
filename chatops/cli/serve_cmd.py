"""`chatops serve` and `chatops db upgrade`."""

from __future__ import annotations

import argparse
import gc
import socket
import sys
import threading

from chatops.cli.common import language, runtime_or_exit, settings_or_exit
from chatops.i18n import t

SWITCH_INTERVAL = 0.0005  # seconds a thread may hold the GIL while others wait (CPython's default: 0.005)


def register(sub, lang: str) -> None:
    """Add `serve` and `db` to the parser."""
    def h(key: str) -> str:
        return t(f"cli.help.{key}", lang)

    serve = sub.add_parser("serve", help=h("serve"), description=h("serve"))
    serve.add_argument("--host", help=h("host"))
    serve.add_argument("--port", type=int, help=h("port"))
    serve.add_argument("--threads", type=int, default=8, help=h("threads"))
    serve.add_argument("--workers", type=_at_least_one(lang), default=1, help=h("workers"))
    # Set by the supervisor of `--workers N` for its children; not for people.
    serve.add_argument("--role", choices=["web", "ingest-writer"], help=argparse.SUPPRESS)
    serve.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    serve.add_argument("--ingest-socket", help=argparse.SUPPRESS)
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
    """Apply migrations, then serve the Flask app with waitress until interrupted; with
    `--workers N`, supervise N such processes (and an ingest writer on SQLite)."""
    if args.role == "ingest-writer":
        return _ingest_writer(args)
    from waitress import serve

    from chatops import logs, sandbox
    from chatops.app import build_outbox, create_app
    from chatops.db import background_checkpoints

    overrides = _address(args)
    sandbox_config = None
    requested = settings_or_exit(args, **overrides)
    if sandbox.wanted(requested, sandbox.rules_or_none(requested)):  # no Slack, no Teams: the browser sandbox
        if args.workers > 1:
            # The sandbox's embedded Slack and its page live in one process.
            print(t("cli.serve.sandbox_one_process", language(args)), flush=True)
            args.workers = 1
        sandbox_config, sandbox_overrides = sandbox.prepare(requested)
        overrides.update(sandbox_overrides)
    if args.workers > 1 and args.role is None:
        return _supervise(args, overrides)
    runtime = runtime_or_exit(args, **overrides)
    settings = runtime.settings
    if args.listen_fd is not None:  # a web child of `--workers`: the supervisor's socket
        listener = socket.socket(fileno=args.listen_fd)
    else:
        listener = _listen_or_exit(args, settings, runtime)
    checkpointer = background_checkpoints(runtime.engine)
    logs.configure(settings)
    _networks_or_exit(runtime, args)
    ingest = None
    if args.ingest_socket:
        from chatops.ingest_writer import RemoteIngest

        ingest = RemoteIngest(args.ingest_socket)
    app = create_app(runtime, ingest=ingest)
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
    first = args.worker_index == 0  # feeds are polled, and Socket Mode connected, by one process
    socket_mode = None
    if settings.slack_socket_mode and first:
        from chatops.slack.app import start_socket_mode

        socket_mode = start_socket_mode(runtime, app.extensions["chatops.slack"])
    poller = _start_polling(runtime, stop) if first else None
    scheduler = start_scheduler(runtime)
    if args.role is None:  # a supervisor's children leave the talking to it
        _announce(args, settings, sandbox_config)
    _ready_to_serve()
    try:
        # The sandbox page long-polls (one thread per open tab) and its clicks call back into this process.
        threads = args.threads if sandbox_config is None else max(args.threads, 24)
        serve(app, sockets=[listener], threads=threads, ident="chatops")
    except KeyboardInterrupt:
        if args.role is None:
            raise
    finally:
        if socket_mode is not None:
            socket_mode.close()
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


def _address(args) -> dict:
    """The settings overrides given by --host and --port."""
    return {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}


def _announce(args, settings, sandbox_config, workers: int = 1, writer: bool = False) -> None:
    """The lines a person starting serve reads: where it listens, and how Slack reaches it."""
    from chatops import sandbox

    print(t("cli.serve.listening", language(args), host=settings.host, port=settings.port,
            url=settings.safe_database_url(), rules=settings.rules_path), flush=True)
    if workers > 1:
        print(t("cli.serve.workers_writer" if writer else "cli.serve.workers", language(args), workers=workers),
              flush=True)
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


def _ready_to_serve() -> None:
    """Tune the interpreter once start-up is done.

    - Leave everything built at start (SQLAlchemy's metadata, the rules automaton, Flask, about
      135,000 objects) out of the garbage collector's full passes: each such pass walked them
      all, about 30–80 ms during which no webhook is answered, every few seconds under load.
    - Hand the GIL over every 0.5 ms instead of 5 ms. The thread writing a group commit gives
      the GIL up at every database round trip (ten a message on PostgreSQL) and, with request
      threads busy parsing webhooks, waited up to a full interval to get it back each time.
      Measured on the load benchmark (two replicas, 200 msgs/s): at 5 ms the replicas took
      169–187 msgs/s with HTTP p50 0.8–2.3 s; at 0.5 ms, 200 msgs/s with HTTP p50 16–40 ms.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)


def _supervise(args, overrides: dict) -> int:
    """`--workers N`: migrate once, bind the port, then run and watch the children."""
    from chatops import logs
    from chatops.supervisor import Supervisor, child_command

    runtime = runtime_or_exit(args, **overrides)  # settings, rules and migrations checked before any child starts
    settings = runtime.settings
    writer = runtime.engine.dialect.name == "sqlite"
    _networks_or_exit(runtime, args)
    listener = _listen_or_exit(args, settings, runtime)
    runtime.close()
    logs.configure(settings)
    _announce(args, settings, None, workers=args.workers, writer=writer)
    return Supervisor(child_command(args), listener, workers=args.workers, writer=writer).run()


def _ingest_writer(args) -> int:
    """The ingest writer child of `--workers N` on SQLite: stores every web process's messages."""
    from chatops import logs
    from chatops.db import background_checkpoints
    from chatops.ingest_writer import IngestWriter

    runtime = runtime_or_exit(args, **_address(args))
    logs.configure(runtime.settings)
    checkpointer = background_checkpoints(runtime.engine)
    stop = threading.Event()
    writer = IngestWriter(runtime.flows, args.ingest_socket).bind()
    _ready_to_serve()
    try:
        writer.serve_forever(stop)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
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

    scheduler = Scheduler(runtime.flows, Lease(runtime.session_factory, clock=runtime.clock), interval=runtime.settings.scheduler_interval,
                          wake=runtime.outbox_wakeup.set, batch=25, page_batch=5, pause=0.1)
    scheduler.start()
    return scheduler


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
