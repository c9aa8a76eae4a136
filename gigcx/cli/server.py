"""`gigcx serve`, `gigcx db upgrade` and `gigcx demo`: running the service and setting it up."""
from __future__ import annotations

import logging

import click

from gigcx.cli.base import _app
from gigcx.config import ConfigError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--access-log/--no-access-log", default=False, help="Log every HTTP request.")
def serve(host: str, port: int, access_log: bool) -> None:
    """Run the whole service (REST, Socket.IO, pages) in this process, under gevent."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        raise click.ClickException("run `gigcx serve` through the gigcx command (it patches for gevent)")
    from gigcx.concurrency import green_postgres

    green_postgres()
    import signal
    import socket

    import gevent
    from gevent.pywsgi import WSGIServer
    from gevent.socket import socket as green_socket

    from gigcx.config import Settings
    from gigcx.drain import DRAIN
    from gigcx.extensions import socketio
    from gigcx.observability import GcFreezer, MemoryTracer, tune_gc_for_serving
    from gigcx.realtime import start_background
    from gigcx.wsgi import hardened_handler

    try:
        settings = Settings.load()  # before the app: a bad value stops here, with the variable's name
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    freezer = GcFreezer.from_settings(settings)
    app = _app({"GIGCX": settings}, quiet=False)
    if not app.config["GIGCX"].public_url:  # links in e-mails and webhooks point here by default
        app.config["GIGCX"].public_url = f"http://{host}:{port}"
    _warm_up()
    tune_gc_for_serving(settings.gc_thresholds)
    start_background(app)
    if freezer is not None:
        socketio.start_background_task(freezer.run, socketio.sleep)
    if settings.tracemalloc_s:  # off by default: tracing slows every allocation
        socketio.start_background_task(MemoryTracer(settings.tracemalloc_s, frames=settings.tracemalloc_frames).run, socketio.sleep)
    # TCP_NODELAY (inherited by accepted sockets): an event followed by its ack are two small
    # frames, and Nagle plus the client's delayed ACK would hold the second one for 40 ms.
    listener = green_socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((host, port))
    listener.listen(1024)
    log = logging.getLogger("gigcx.access") if access_log else None
    server = WSGIServer(listener, app, log=log, error_log=logging.getLogger("gigcx.wsgi"),
                        handler_class=hardened_handler(app.config["GIGCX"]))
    metrics_address = app.config["GIGCX"].metrics_address
    if metrics_address:  # Prometheus without a token, on an address of its own
        from gigcx.observability import metrics_app

        mhost, _, mport = metrics_address.rpartition(":")
        WSGIServer((mhost.strip("[]") or "127.0.0.1", int(mport)), metrics_app(app), log=None,
                   error_log=logging.getLogger("gigcx.wsgi")).start()
    server.start()

    def stop(signum: int) -> None:
        # SIGTERM (systemd, Docker, Kubernetes) or Ctrl-C: stop accepting, then drain (gigcx.drain)
        if DRAIN.draining:  # asked again: stop waiting for what is in progress
            DRAIN.cut_short = True
            return
        click.echo(f"GigCX stopping ({signal.Signals(signum).name}): draining for up to {settings.drain_s:g} s "
                   "(signal again to stop at once)")
        DRAIN.begin()
        server.close()

    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop, signum)
    click.echo(f"GigCX listening on http://{host}:{port} (database: {app.config['GIGCX'].database_url.split('://')[0]}); "
               "Ctrl-C stops it")
    server.serve_forever()
    drained = DRAIN.wait(settings.drain_s)
    # exit status 0 either way: a stop that was asked for is not a failure
    click.echo("GigCX stopped" if drained else f"GigCX stopped with {DRAIN.busy} event(s) still in progress")


def _warm_up() -> None:
    """Import the matching stack now, not during the first customer's question."""
    import gigcx.services.ranking  # noqa: F401
    import gigcx.services.routing  # noqa: F401


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema to the latest version."""
    from gigcx.config import Settings
    from gigcx.db import upgrade

    app = _app({"GIGCX_MIGRATE": False})
    settings: Settings = app.config["GIGCX"]
    upgrade(settings.database_url, revision)
    click.echo("schema is up to date")


@click.command()
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True,
              help="Where the server is reachable, for the printed links.")
@click.option("--topics", default=12, show_default=True, help="How many BANKING77 categories to seed.")
def demo(base_url: str, topics: int) -> None:
    """Seed a demo brand, topics and approved experts, and print how to try them."""
    from gigcx.demo import seed

    app = _app()
    with app.app_context():
        info = seed(n_topics=topics)
    click.echo(info.render(base_url))
