"""What every `gigcx` command shares: the app for one command, quiet logs."""
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
