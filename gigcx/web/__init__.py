"""Pages and browser assets served by the app: the customer widget, its demo page, the consoles."""
from __future__ import annotations

from gigcx.web.consoles import bp as consoles_bp
from gigcx.web.unsubscribe import bp as unsubscribe_bp
from gigcx.web.widget import bp as widget_bp

__all__ = ["consoles_bp", "unsubscribe_bp", "widget_bp"]
