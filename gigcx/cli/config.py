"""`gigcx config docs`: the reference of every environment variable, generated from Settings."""
from __future__ import annotations

import click


@click.group("config")
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
