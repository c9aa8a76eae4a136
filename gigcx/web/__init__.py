"""Pages and browser assets served by the app: the customer widget and its demo host page."""
from __future__ import annotations

from gigcx.web.widget import bp as widget_bp

__all__ = ["widget_bp"]
