"""Bearer authentication: the operator's token, brand API keys, staff and expert tokens."""
from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, g, request
from sqlmodel import Session, select

from gigcx import security
from gigcx.errors import ApiError
from gigcx.models import AuthToken, BrandApiKey, StaffUser

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

#: The attribute `requires` and `public` set on a view or event handler.
ROLES_ATTR = "__gigcx_roles__"
#: The declaration of a view or event anyone may call (it checks its own token, signature or link if any).
PUBLIC: tuple[str, ...] = ()
#: Endpoints Flask and flask-openapi3 make themselves: static files and the OpenAPI document.
LIBRARY_PUBLIC = ("static", "consoles.static", "web.static", "openapi.doc_url", "openapi.openapi", "openapi.static")


@dataclass(frozen=True)
class Principal:
    """Who is calling: `operator`, `brand` (API key or staff), or `expert`."""

    kind: str
    brand_id: int | None = None
    expert_id: int | None = None
    staff_id: int | None = None
    role: str = "admin"
    token_id: int | None = None
    key_id: int | None = None

    @property
    def credential(self) -> str | None:
        """The revocable credential behind this principal (`token:<id>`, `key:<id>`); None for the operator."""
        if self.token_id is not None:
            return f"token:{self.token_id}"
        return None if self.key_id is None else f"key:{self.key_id}"

    @property
    def can_write(self) -> bool:
        """Analysts read; everybody else may change their own data."""
        return self.role != "analyst"


def resolve(session: Session, token: str, admin_token: str | None) -> Principal | None:
    """Find whose token this is, or None."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal("operator")
    digest = security.token_hash(token)
    if token.startswith(security.BRAND_KEY):
        key = session.exec(select(BrandApiKey).where(BrandApiKey.key_hash == digest)).first()
        if key and key.revoked_at is None:
            return Principal("brand", brand_id=key.brand_id, key_id=key.id)
        return None
    if token.startswith((security.EXPERT_TOKEN, security.STAFF_TOKEN)):
        row = session.exec(select(AuthToken).where(AuthToken.token_hash == digest)).first()
        if row is None or row.revoked_at is not None:
            return None
        if row.kind == "expert":
            return Principal("expert", expert_id=row.subject_id, token_id=row.id)
        staff = session.get(StaffUser, row.subject_id)
        if staff is None:
            return None
        return Principal("brand", brand_id=staff.brand_id, staff_id=staff.id,
                         role=staff.role, token_id=row.id)
    return None


def requires(*roles: str) -> Callable[[F], F]:
    """Declare which principals may call a view or event (`operator`, `brand`, `expert`,
    `brand_admin`, and on Socket.IO `customer`). Without a declaration a call is refused."""
    if not roles:
        raise ValueError("requires() needs at least one role; use @public for open endpoints")

    def mark(fn: F) -> F:
        setattr(fn, ROLES_ATTR, roles)
        return fn

    return mark


def public(fn: F) -> F:
    """Declare a view or event open to anyone (it may still check its own token, signature or link)."""
    setattr(fn, ROLES_ATTR, PUBLIC)
    return fn


def declared(fn: Any) -> tuple[str, ...] | None:
    """The roles a view or handler declares; None when it declares nothing."""
    roles = getattr(fn, ROLES_ATTR, None)
    return roles if isinstance(roles, tuple) else None


class RoleTable:
    """Endpoint (`blueprint.view`) -> declared roles, for one app. Built when the app is created."""

    def __init__(self, app: Any, public_endpoints: Iterable[str] = LIBRARY_PUBLIC):
        self.app = app
        self.roles: dict[str, tuple[str, ...]] = {ep: PUBLIC for ep in public_endpoints}
        for endpoint, view in app.view_functions.items():
            roles = declared(view)
            if roles is not None:
                self.roles[endpoint] = roles

    def undeclared(self) -> list[str]:
        """Every endpoint of the app without a declaration (each one refuses every request)."""
        return sorted(ep for ep in self.app.view_functions if self.lookup(ep) is None)

    def lookup(self, endpoint: str) -> tuple[str, ...] | None:
        roles = self.roles.get(endpoint)
        if roles is None:  # a view added after the app was built
            roles = declared(self.app.view_functions.get(endpoint))
            if roles is not None:
                self.roles[endpoint] = roles
        return roles


def init_app(app: Any) -> None:
    """Check every request against its endpoint's declared roles (after all routes exist)."""
    app.extensions["gigcx_roles"] = RoleTable(app)
    app.before_request(_gate)


def _gate() -> None:
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: 404/405 as usual
        return
    roles = current_app.extensions["gigcx_roles"].lookup(endpoint)
    if roles is None:
        log.error("refused %s %s: endpoint %r declares no roles (@requires or @public)",
                  request.method, request.path, endpoint)
        raise ApiError("forbidden", "this endpoint is not available")
    if roles:
        from gigcx import db

        check_request(db.request_session(), roles)


def check_request(session: Session, roles: tuple[str, ...]) -> None:
    """Authenticate and authorise the current request before its body is even parsed."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("unauthorized", "missing bearer token")
    principal = resolve(session, token.strip(), current_app.config["GIGCX"].admin_token)
    if principal is None:
        raise ApiError("unauthorized", "invalid or revoked token")
    allowed = principal.kind in roles or (
        "brand_admin" in roles and principal.kind == "brand" and principal.can_write)
    if not allowed:
        raise ApiError("forbidden", f"this call is for: {', '.join(roles)}")
    g.principal = principal


def principal() -> Principal:
    """The authenticated caller of this request."""
    return g.principal  # type: ignore[no-any-return]
