"""Bearer authentication: the operator's token, brand API keys, staff and expert tokens."""
from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, g, request
from sqlmodel import Session, select

from gigcx import security
from gigcx.errors import ApiError
from gigcx.models import AuthToken, BrandApiKey, StaffUser

F = TypeVar("F", bound=Callable[..., Any])

#: endpoint function name -> roles allowed (filled by `requires`, checked before validation).
ROLE_RULES: dict[str, tuple[str, ...]] = {}


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
    """Declare which principals may call a view (`operator`, `brand`, `expert`, `brand_admin`)."""

    def mark(fn: F) -> F:
        ROLE_RULES[fn.__name__] = roles
        return fn

    return mark


def check_request(session: Session) -> None:
    """Authenticate and authorise the current request before its body is even parsed."""
    endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
    roles = ROLE_RULES.get(endpoint)
    if not roles:
        return
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
