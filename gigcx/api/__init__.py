"""REST API under /api/v1: one blueprint; each view declares its roles (`gigcx.auth`), checked
before any body is parsed."""
from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from gigcx import uow
from gigcx.schemas import ErrorBody

SECURITY = [{"bearer": []}]
ERRORS = {401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody}

api = APIBlueprint("api", __name__, url_prefix="/api/v1", abp_responses=ERRORS)

TAGS = {name: Tag(name=name) for name in
        ("brands", "topics", "experts", "cases", "metrics", "payouts", "health", "webhooks",
                  "notifications")}


def register(app: object) -> None:
    """Import the view modules (they add routes to `api`) and register the blueprint; every view
    runs in the request's unit of work (committed when it returns, then its events emitted)."""
    from gigcx.api import (  # noqa: F401
        answers,
        brands,
        cases,
        console,
        customers,
        experts,
        integrations,
        payouts,
        staff,
        trust,
    )

    app.register_api(api)  # type: ignore[attr-defined]
    uow.wrap_views(app, "api.")
