"""`gigcx payouts ...`: payout runs, retries and the operator's decisions on them."""
from __future__ import annotations

from typing import Any

import click

from gigcx.cli.base import _app


@click.group()
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
