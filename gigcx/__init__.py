"""GigCX: peer-to-peer customer support, where brands pay their best users to help customers.

This module stays import-light: `gigcx serve` must patch the standard library for gevent
before Flask, SQLAlchemy or ssl are imported.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def create_app(test_config: dict[str, Any] | None = None) -> Any:
    """Build the app (see `gigcx.app.create_app`)."""
    from gigcx.app import create_app as build

    return build(test_config)
