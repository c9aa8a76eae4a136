"""The `gigcx` command: serve, db upgrade, demo, matching train, payouts run and retry, privacy."""
from __future__ import annotations

import logging
from typing import Any

import click

from gigcx import create_app
from gigcx.config import ConfigError

#: Loggers whose INFO lines (alembic's plugins and each migration step, "demo brand seeded") are
#: noise on a one-off command, which prints its own result; `gigcx serve` keeps GigCX's own.
#: Warnings and errors always show.
QUIET_LOGGERS = ("alembic", "gigcx")


def _app(test_config: dict[str, Any] | None = None, quiet: bool = True) -> Any:
    """The app for one command; its database connections close when the command ends."""
    ctx = click.get_current_context(silent=True)
    loggers = [logging.getLogger(name) for name in (QUIET_LOGGERS if quiet else QUIET_LOGGERS[:1])]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
    if ctx is not None:
        def restore() -> None:
            for lg, level in zip(loggers, before):
                lg.setLevel(level)
        ctx.call_on_close(restore)
    try:
        app = create_app(test_config)
    except ConfigError as exc:  # a bad variable: its name and the problem, not a traceback
        raise click.ClickException(str(exc)) from exc
    if ctx is not None:
        ctx.call_on_close(app.extensions["gigcx_engine"].dispose)
    return app


@click.group()
def cli() -> None:
    """GigCX: peer-to-peer customer support."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--access-log/--no-access-log", default=False, help="Log every HTTP request.")
def serve(host: str, port: int, access_log: bool) -> None:
    """Run the whole service (REST, Socket.IO, pages) in this process, under gevent."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        raise click.ClickException("run `gigcx serve` through the gigcx command (it patches for gevent)")
    import signal
    import socket

    import gevent
    from gevent.pywsgi import WSGIServer
    from gevent.socket import socket as green_socket

    from gigcx.config import Settings
    from gigcx.extensions import socketio
    from gigcx.observability import GcFreezer, tune_gc_for_serving
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
    # Ctrl-C stops serving and ends the command normally (no traceback, exit status 0).
    gevent.signal_handler(signal.SIGINT, server.stop, 5)
    click.echo(f"GigCX listening on http://{host}:{port} (database: {app.config['GIGCX'].database_url.split('://')[0]}); "
               "Ctrl-C stops it")
    server.serve_forever()
    click.echo("GigCX stopped")


def _warm_up() -> None:
    """Import the matching stack now, not during the first customer's question."""
    import gigcx.services.ranking  # noqa: F401
    import gigcx.services.routing  # noqa: F401


@cli.group()
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


@cli.command()
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


@cli.group()
def matching() -> None:
    """Topic models of brands."""


@matching.command("train")
@click.option("--brand", "slugs", multiple=True, help="Brand slug (repeatable); all brands by default.")
@click.option("--embeddings", type=click.Choice(["auto", "none", "required"]), default="auto",
              show_default=True, help="Use the sentence-embedding extra when installed.")
def matching_train(slugs: tuple[str, ...], embeddings: str) -> None:
    """Retrain brands' topic classifiers from their topics and resolved cases.

    Running servers pick the new version up within seconds, loading it in the background."""
    from sqlmodel import select

    from gigcx.models import Brand
    from gigcx.services.training import train_brand
    from gigcx.uow import unit_of_work

    app = _app()
    with app.app_context(), unit_of_work() as uow:
        session = uow.session
        q = select(Brand).order_by(Brand.slug)
        if slugs:
            q = q.where(Brand.slug.in_(slugs))  # type: ignore[attr-defined]
        brands = list(session.exec(q))
        missing = set(slugs) - {b.slug for b in brands}
        if missing:
            raise click.ClickException(f"unknown brand(s): {', '.join(sorted(missing))}")
        with click.progressbar(brands, label="training", item_show_func=lambda b: b.slug if b else "") as bar:
            results = []
            for brand in bar:  # each brand's model commits on its own
                with uow:
                    results.append(train_brand(session, brand, embeddings=embeddings))
    for r in results:
        if r.skipped:
            click.echo(f"{r.brand}: skipped ({r.skipped})")
        else:
            click.echo(f"{r.brand}: v{r.version}, {r.n_examples} examples, {len(r.classes)} topics, "
                       f"embeddings={'yes' if r.embeddings else 'no'}")


@cli.group()
def payouts() -> None:
    """Payout runs (Stripe Connect transfers, or manual statements without Stripe)."""


@payouts.command("run")
@click.option("--minimum-cents", type=int, default=None,
              help="Pay balances at or above this, in every currency (default: GIGCX_PAYOUT_MINIMUMS, "
                   "else GIGCX_PAYOUT_MINIMUM_CENTS).")
@click.option("--statements-dir", type=click.Path(file_okay=False), default=None,
              help="Where each payout's CSV statement is written (default: GIGCX_STATEMENTS_DIR, "
                   "else the instance folder's statements/).")
def payouts_run(minimum_cents: int | None, statements_dir: str | None) -> None:
    """Pay every expert's available balance now (retrying open payouts first)."""
    import json

    from gigcx.services import payouts as svc
    from gigcx.uow import unit_of_work

    app = _app()
    settings = app.config["GIGCX"]
    with app.app_context(), unit_of_work() as uow:
        result = svc.run(uow, svc.gateway(), settings.minimum_for if minimum_cents is None else minimum_cents)
        written = svc.write_statements(uow.session, result, statements_dir or settings.statements_dir)
        out = svc.run_view(result)
        out["statements"] = [str(p) for p in written]
        click.echo(json.dumps(out, indent=2))


def _show(p: Any) -> str:
    from gigcx.services.payouts import payout_view

    v = payout_view(p)
    line = (f"payout {v['id']}  batch {v['batch_id']}  expert {v['expert_id']}  {v['amount']} {v['currency']}  "
            f"{v['status']}")
    if v["transfer_id"]:
        line += f"  {v['transfer_id']}"
    if v["attention"]:
        line += f"\n    needs attention: {v['attention']}"
    return line


@payouts.command("retry")
def payouts_retry() -> None:
    """Re-send the payouts left in transit or needing attention (cron this with Stripe)."""
    from gigcx.services import payouts as svc
    from gigcx.uow import unit_of_work

    app = _app()
    with app.app_context(), unit_of_work() as uow:
        done = svc.retry_open(uow, svc.gateway())
        for p in done:
            click.echo(_show(p))
        click.echo(f"{len(done)} payout(s) retried")


@payouts.command("list")
@click.option("--attention", is_flag=True, help="Only payouts whose outcome is unknown: settle these.")
@click.option("--status", default=None, help="Only payouts in this status.")
def payouts_list(attention: bool, status: str | None) -> None:
    """List payouts, newest first."""
    from gigcx.db import session_scope
    from gigcx.services import payouts as svc

    app = _app()
    with app.app_context(), session_scope() as session:
        rows = svc.list_payouts(session, attention=attention, status=status)
        for p in rows:
            click.echo(_show(p))
        click.echo(f"{len(rows)} payout(s)")


def _api_error(exc: Exception) -> click.ClickException:
    return click.ClickException(getattr(exc, "message", str(exc)))


@payouts.command("settle")
@click.argument("payout_id", type=int)
@click.option("--transfer", "transfer_id", default=None, help="The transfer (tr_...) that paid it.")
@click.option("--not-sent", is_flag=True, help="No transfer exists: the money becomes available again.")
def payouts_settle(payout_id: int, transfer_id: str | None, not_sent: bool) -> None:
    """Settle a payout whose outcome is unknown, with evidence (checked against Stripe)."""
    from gigcx.errors import ApiError
    from gigcx.services import payouts as svc
    from gigcx.uow import transaction

    app = _app()
    with app.app_context(), transaction() as session:
        try:
            p = svc.settle(session, svc.gateway(), payout_id, transfer_id=transfer_id, not_sent=not_sent)
        except ApiError as exc:
            raise _api_error(exc) from None
        click.echo(_show(p))


@payouts.command("mark-paid")
@click.argument("batch_id", type=int)
@click.option("--reference", default=None, help="Your bank reference of the payments.")
def payouts_mark_paid(batch_id: int, reference: str | None) -> None:
    """Manual mode: every payout of the batch was paid by hand."""
    from gigcx.errors import ApiError
    from gigcx.services import payouts as svc
    from gigcx.uow import transaction

    app = _app()
    with app.app_context(), transaction() as session:
        try:
            rows = svc.mark_batch_paid(session, batch_id, reference)
        except ApiError as exc:
            raise _api_error(exc) from None
        for p in rows:
            click.echo(_show(p))


@payouts.command("reversals")
@click.option("--undecided", is_flag=True, help="Only reversals whose money is still held.")
def payouts_reversals(undecided: bool) -> None:
    """List reversed transfers and the operator's decisions."""
    from gigcx.db import session_scope
    from gigcx.services import connect

    app = _app()
    with app.app_context(), session_scope() as session:
        for r in connect.list_reversals(session, undecided=undecided):
            v = connect.reversal_view(r)
            click.echo(f"{v['id']}  payout {v['payout_id']}  expert {v['expert_id']}  {v['amount']} "
                       f"{v['currency']}  {v['decision'] or 'held'}")


@payouts.command("decide")
@click.argument("reversal_id")
@click.option("--repay", "decision", flag_value="repay", help="Pay the held money again (next run).")
@click.option("--write-off", "decision", flag_value="write_off", help="Do not pay it again.")
def payouts_decide(reversal_id: str, decision: str | None) -> None:
    """Decide what happens to the money of a reversed transfer."""
    from gigcx.errors import ApiError
    from gigcx.services import connect
    from gigcx.uow import transaction

    if decision is None:
        raise click.UsageError("give --repay or --write-off")
    app = _app()
    with app.app_context(), transaction() as session:
        try:
            r = connect.decide_reversal(session, reversal_id, decision)
        except ApiError as exc:
            raise _api_error(exc) from None
        click.echo(f"{r.id}: {r.decision}")


@payouts.command("reconcile")
def payouts_reconcile() -> None:
    """Compare the ledger with Stripe's transfers and balance transactions; exit 1 on a difference."""
    from gigcx.services import payouts as svc
    from gigcx.services import reconcile
    from gigcx.uow import transaction

    app = _app()
    with app.app_context(), transaction() as session:
        report = reconcile.reconcile(session, svc.gateway())
    for line in report.lines:
        click.echo(line)
    if report.differences:
        click.echo(f"{len(report.differences)} difference(s)")
        for diff in report.differences:
            click.echo(f"DIFFERENCE: {diff}")
        raise SystemExit(1)
    click.echo("ledger and Stripe agree")


@cli.group()
def notify() -> None:
    """Outbound webhooks and e-mail (`gigcx serve` sends them in the background)."""


@notify.command("send")
def notify_send() -> None:
    """Send every due webhook delivery and e-mail now, from this process."""
    from gigcx.services import mail_sender, webhook_sender

    app = _app()
    with app.app_context():
        hooks = webhook_sender.send_due(limit=10_000)
        emails = mail_sender.send_due(limit=10_000)
    click.echo(f"{hooks} webhook attempt(s), {emails} e-mail(s) sent")


@notify.command("digest")
def notify_digest() -> None:
    """Queue today's earnings digests now, whatever GIGCX_DIGEST_HOUR_UTC says (once a day each)."""
    from gigcx.services import mail
    from gigcx.uow import transaction

    app = _app()
    with app.app_context(), transaction() as session:
        queued = mail.send_digests(session, force=True)
    click.echo(f"{queued} digest(s) queued")


@cli.group()
def privacy() -> None:
    """Customers' personal data: retention and erasure."""


@privacy.command("retention")
def privacy_retention() -> None:
    """Apply every brand's retention period now (serving processes also do it every
    GIGCX_RETENTION_CHECK_S): redact old conversations and anonymise their customers."""
    import json

    from gigcx.services.privacy import retention_sweep
    from gigcx.uow import unit_of_work

    app = _app()
    with app.app_context():
        click.echo(json.dumps(retention_sweep(unit_of_work())))


@privacy.command("erase")
@click.option("--brand", "slug", required=True, help="The brand's slug.")
@click.option("--customer", "customer_id", required=True, type=int, help="The customer's id.")
@click.option("--export", "export_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the customer's data (before erasure) to this JSON file.")
def privacy_erase(slug: str, customer_id: int, export_path: str | None) -> None:
    """Erase one customer's personal data on their request; prints what was removed and kept."""
    import json
    from pathlib import Path

    from gigcx.errors import ApiError
    from gigcx.services import brands, privacy
    from gigcx.uow import unit_of_work

    app = _app()
    with app.app_context(), unit_of_work() as uow:
        brand = brands.brand_by_slug(uow.session, slug)
        if brand is None:
            raise click.ClickException(f"unknown brand: {slug}")
        try:
            report = privacy.erase(uow.session, uow.outbox, brand.id, customer_id)  # type: ignore[arg-type]
        except ApiError as exc:
            raise click.ClickException(exc.message) from None
    data = report.pop("export")
    if export_path:
        Path(export_path).write_text(json.dumps(data, ensure_ascii=False, indent=2))
    click.echo(json.dumps(report, indent=2))


@cli.group("config")
def config_group() -> None:
    """Configuration: the reference of every environment variable."""


@config_group.command("docs")
@click.option("--write", "path", type=click.Path(dir_okay=False), default=None,
              help="Update the generated part of this file (docs/configuration.md) instead of printing.")
def config_docs(path: str | None) -> None:
    """Print (or write into docs/configuration.md) the variable tables generated from Settings."""
    from pathlib import Path

    from gigcx.config import reference_markdown, render_reference_into

    if path is None:
        click.echo(reference_markdown(), nl=False)
        return
    doc = Path(path)
    doc.write_text(render_reference_into(doc.read_text()))
