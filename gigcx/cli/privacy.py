"""`gigcx privacy ...`: retention and a customer's erasure."""
from __future__ import annotations

import click

from gigcx.cli.base import _app


@click.group()
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
