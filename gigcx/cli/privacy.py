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

    from gigcx.db import session_scope
    from gigcx.services.privacy import retention_sweep

    app = _app()
    with app.app_context(), session_scope() as session:
        click.echo(json.dumps(retention_sweep(session)))


@privacy.command("erase")
@click.option("--brand", "slug", required=True, help="The brand's slug.")
@click.option("--customer", "customer_id", required=True, type=int, help="The customer's id.")
@click.option("--export", "export_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the customer's data (before erasure) to this JSON file.")
def privacy_erase(slug: str, customer_id: int, export_path: str | None) -> None:
    """Erase one customer's personal data on their request; prints what was removed and kept."""
    import json
    from pathlib import Path

    from gigcx.db import session_scope
    from gigcx.errors import ApiError
    from gigcx.events import Outbox
    from gigcx.services import brands, privacy

    app = _app()
    with app.app_context(), session_scope() as session:
        brand = brands.brand_by_slug(session, slug)
        if brand is None:
            raise click.ClickException(f"unknown brand: {slug}")
        outbox = Outbox()
        try:
            report = privacy.erase(session, outbox, brand.id, customer_id)  # type: ignore[arg-type]
        except ApiError as exc:
            raise click.ClickException(exc.message) from None
        outbox.flush()
    data = report.pop("export")
    if export_path:
        Path(export_path).write_text(json.dumps(data, ensure_ascii=False, indent=2))
    click.echo(json.dumps(report, indent=2))
