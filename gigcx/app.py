"""The application factory."""
from __future__ import annotations

import logging
from typing import Any

from flask_openapi3 import Info, OpenAPI

from gigcx import __version__
from gigcx.config import Settings


def create_app(test_config: dict[str, Any] | None = None) -> OpenAPI:
    """Build the app: settings, database (migrated), REST API, Socket.IO, pages."""
    app = OpenAPI(
        __name__,
        instance_relative_config=True,
        info=Info(title="GigCX API", version=__version__),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        doc_prefix="/api/v1",
        doc_url="/openapi.json",
        validation_error_status=422,
        validation_error_callback=_validation_error,
    )
    from gigcx.jsonlimits import BoundedJSONProvider
    from gigcx.wsgi import CachedSerializerSessionInterface, MaxBodyRequest

    app.json = BoundedJSONProvider(app)
    app.request_class = MaxBodyRequest
    app.session_interface = CachedSerializerSessionInterface()
    test_config = dict(test_config or {})
    settings = test_config.pop("GIGCX", None) or Settings.from_env(app.instance_path)
    settings.finish(app.instance_path)
    app.config.update(
        GIGCX=settings,
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=1 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update(test_config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from gigcx import auth, db, drain, errors, loadshed, observability, ratelimit, realtime
    from gigcx.api import register, webhooks
    from gigcx.services import payouts as payments
    from gigcx.web import consoles_bp, unsubscribe_bp, widget_bp

    errors.init_app(app)
    db.init_app(app)
    ratelimit.init_app(app)
    loadshed.init_app(app)
    drain.init_app(app)
    observability.init_app(app)
    register(app)
    realtime.init_app(app)
    payments.init_app(app)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(widget_bp)
    app.register_blueprint(consoles_bp)
    app.register_blueprint(unsubscribe_bp)
    _services(app)
    auth.init_app(app)  # last: every route exists; a request to one declaring no roles is refused
    if settings.trusted_proxies > 0:  # outermost, so Socket.IO's handshake sees the client's address too
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    return app


def _services(app: OpenAPI) -> None:
    """The services' per-app state (model and roster caches) and what runs when each kind of
    timer is due (gigcx.services.timers)."""
    from gigcx.models import TimerKind
    from gigcx.services import brands, dispatch, presence, ranking, rewards, routing, timers

    routing.init_app(app)
    ranking.init_app(app)
    presence.init_app(app)
    brands.init_app(app)

    timers.init_app(app, {
        TimerKind.offer_expiry: dispatch.offer_expired,
        TimerKind.case_escalate: dispatch.escalate_unanswered,
        TimerKind.confirm_window: dispatch.confirm_by_silence,
        TimerKind.review_window: rewards.review_window_over,
    })


def _validation_error(exc: Any) -> Any:
    from gigcx.errors import validation_response

    return validation_response(exc)
