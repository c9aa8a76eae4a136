"""`gigcx matching train`: the brands' topic classifiers and rankers."""
from __future__ import annotations

import click

from gigcx.cli.base import _app


@click.group()
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
