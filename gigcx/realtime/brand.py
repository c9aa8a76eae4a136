"""`/brand`: a live feed of the brand's case events; staff answer escalated cases here."""
from __future__ import annotations

from typing import Any

from flask import request
from socketio.exceptions import ConnectionRefusedError  # carries its message to connect_error

from gigcx import auth as bearer
from gigcx.auth import public, requires
from gigcx.db import session_scope
from gigcx.errors import ApiError
from gigcx.events import BRAND, brand_room, case_payload
from gigcx.models import CaseStatus
from gigcx.realtime import payloads as p
from gigcx.realtime.common import RoleNamespace, acked, parse, transact
from gigcx.services import cases
from gigcx.services.cases import Actor


class BrandNamespace(RoleNamespace):
    """Brand integrations (`{api_key}`) and staff consoles (`{token}`)."""

    role = "brand"

    def __init__(self, namespace: str):
        super().__init__(namespace)
        self.read_only: set[str] = set()  # connections of analysts: they watch, never write

    def writer(self) -> Actor:
        """The actor, if this connection may change data (not an analyst's)."""
        actor = self.actor()
        if request.sid in self.read_only:  # type: ignore[attr-defined]
            raise ApiError("forbidden", "analysts have read-only access")
        return actor

    @public  # authenticates the API key or staff token itself
    def on_connect(self, auth: Any = None) -> None:
        """Accept a brand API key or a staff token."""
        auth = auth if isinstance(auth, dict) else {}
        secret = auth.get("api_key") or auth.get("token")
        if not isinstance(secret, str):
            raise ConnectionRefusedError("auth must be {api_key: <brand API key>}")
        with session_scope() as session:
            who = bearer.resolve(session, secret, None)
        if who is None or who.kind != "brand":
            raise ConnectionRefusedError("invalid brand API key")
        if not who.can_write:
            self.read_only.add(request.sid)  # type: ignore[attr-defined]
        self.authenticated(Actor("staff", who.staff_id or 0, who.brand_id), who.credential,
                           brand_room(who.brand_id))  # type: ignore[arg-type]

    @public
    def on_disconnect(self, *args: Any) -> None:
        self.forget()
        self.read_only.discard(request.sid)  # type: ignore[attr-defined]

    @requires("brand")  # analysts: writer() refuses
    @acked
    def on_close(self, data: Any) -> dict[str, Any]:
        """Staff close an escalated case they have answered."""
        body = parse(p.CaseRef, data)
        actor = self.writer()

        def work(session: Any, outbox: Any) -> dict[str, Any]:
            case = cases.load_case(session, actor, body.case_id, lock=True)
            if case.status != CaseStatus.escalated:
                raise ApiError("conflict", "only escalated cases are closed by staff")
            cases.close(session, outbox, case)
            return {"case": case_payload(session, case)}

        return transact(work)  # type: ignore[no-any-return]



namespace = BrandNamespace(BRAND)
