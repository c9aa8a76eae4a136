"""`/customer`: a brand's customers ask, chat, confirm and rate."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_socketio import emit
from socketio.exceptions import ConnectionRefusedError  # carries its message to connect_error
from sqlmodel import Session, col, select

from gigcx import loadshed, ratelimit, security
from gigcx.auth import public, requires
from gigcx.db import session_scope
from gigcx.errors import ApiError
from gigcx.events import (
    CUSTOMER,
    EXPERT,
    case_payload,
    customer_room,
    expert_in_conversation,
    expert_room,
    public_suggestions,
)
from gigcx.extensions import socketio
from gigcx.models import AuthToken, Case, Customer, TokenKind
from gigcx.realtime import payloads as p
from gigcx.realtime.common import RoleNamespace, acked, parse, transact
from gigcx.services import brands, cases, dispatch, trust
from gigcx.services.cases import Actor
from gigcx.uow import transaction


class CustomerNamespace(RoleNamespace):
    """Customers, identified by the token their browser keeps."""

    role = "customer"

    @public  # authenticates the customer itself
    def on_connect(self, auth: Any = None) -> None:
        """Refuse unknown brands and wrongly signed identities; resume a customer by verified id or
        token, or create one. Where the connection comes from is recorded for fraud signals."""
        auth = auth if isinstance(auth, dict) else {}
        slug, token = auth.get("brand"), auth.get("token")
        user_id, user_hash = auth.get("user_id"), auth.get("user_hash")
        if not isinstance(slug, str) or not (isinstance(token, str) or token is None):
            raise ConnectionRefusedError("auth must be {brand: <slug>, token?: <customer token>}")
        if user_id is not None or user_hash is not None:
            if not (isinstance(user_id, str) and isinstance(user_hash, str) and 0 < len(user_id) <= 200):
                raise ConnectionRefusedError("a known customer needs user_id (1-200 characters) and user_hash")
        with transaction() as session:
            brand = brands.brand_by_slug(session, slug)
            if brand is None:
                raise ConnectionRefusedError("unknown brand")
            assert brand.id is not None  # a stored row
            customer = _resume(session, brand.id, token) if token else None
            if isinstance(user_id, str):
                if not trust.verify_identity(brand, user_id, user_hash):
                    raise ConnectionRefusedError("identity verification failed")
                known = trust.known_customer(session, brand.id, user_id, customer)
                if known is not customer:  # another device (or a new customer): a token for this one
                    token = security.new_token(security.CUSTOMER_TOKEN)
                    if known.id is None:
                        known.token_hash = security.token_hash(token)
                        session.add(known)
                        session.flush()
                    else:
                        session.add(AuthToken(token_hash=security.token_hash(token), kind="customer",
                                              subject_id=known.id))
                    customer = known
            if customer is None:
                try:  # new customers per address: one browser resumes with its token instead
                    ratelimit.check("customer", request.remote_addr)
                except ApiError:
                    raise ConnectionRefusedError("rate_limited: too many new customers from this "
                                                 "address; retry in a minute") from None
                token = security.new_token(security.CUSTOMER_TOKEN)
                customer = Customer(brand_id=brand.id, token_hash=security.token_hash(token))
                session.add(customer)
                session.flush()
            assert customer.id is not None  # a stored row
            trust.record_client(session, "customer", customer.id, request.remote_addr,
                                request.headers.get("User-Agent"))
        assert brand.id is not None  # a stored row
        assert customer.id is not None  # a stored row
        self.authenticated(Actor("customer", customer.id, brand.id), None,
                           customer_room(customer.id))
        out = {"customer_id": customer.id, "token": token, "brand": slug}
        if customer.external_id is not None:
            out["user_id"] = customer.external_id
        emit("session", out)

    @public
    def on_disconnect(self, *args: Any) -> None:
        self.forget()

    @requires("customer")
    @acked
    def on_ask(self, data: Any) -> dict[str, Any]:
        """Open a case for a question; suggestions come back at once."""
        body = parse(p.Ask, data)
        actor = self.actor()
        loadshed.admit("ask")
        ratelimit.check("ask", f"customer:{actor.id}")

        def work(session: Session, outbox: Any) -> dict[str, Any]:
            brand = brands.cached_brand(session, actor.brand_id)  # type: ignore[arg-type]
            case, created = cases.ask(session, outbox, brand=brand, customer_id=actor.id, text=body.text,
                                      client_id=body.client_id, language=body.language)
            if created:
                dispatch.dispatch(session, outbox, case, fresh=True)
            out = case_payload(session, case, full=True)
            out["suggestions"] = public_suggestions(case.suggestions)
            return {"case": out}

        return transact(work)

    @requires("customer")
    @acked
    def on_cases(self, data: Any) -> dict[str, Any]:
        """The customer's cases, newest first (to find the open one after a reload)."""
        parse(p.Empty, data if data is not None else {})
        actor = self.actor()
        with session_scope() as session:
            rows = session.exec(select(Case).where(Case.customer_id == actor.id)
                                .order_by(col(Case.id).desc()).limit(50)).all()
            return {"cases": [case_payload(session, c, full=True) for c in rows]}

    @requires("customer")
    @acked
    def on_resolve(self, data: Any) -> dict[str, Any]:
        """Confirm (`resolved: true`) or deny the expert's proposed resolution."""
        body = parse(p.CustomerResolve, data)
        actor = self.actor()
        return transact(lambda s, o: {"case": case_payload(s, cases.customer_resolve(
            s, o, actor, case_id=body.case_id, resolved=body.resolved))})

    @requires("customer")
    @acked
    def on_deflect(self, data: Any) -> dict[str, Any]:
        """A suggested answer solved it: close the case without an expert."""
        body = parse(p.CaseRef, data)
        actor = self.actor()
        return transact(lambda s, o: {"case": case_payload(s, cases.deflect(s, o, actor, case_id=body.case_id))})

    @requires("customer")
    @acked
    def on_rate(self, data: Any) -> dict[str, Any]:
        """CSAT 1-5, optional NPS 0-10 and a comment, once per finished case."""
        body = parse(p.Rate, data)
        actor = self.actor()
        rating = transact(lambda s, o: cases.rate(s, o, actor, case_id=body.case_id, csat=body.csat,
                                                  nps=body.nps, comment=body.comment))
        return {"rating": {"case_id": rating.case_id, "csat": rating.csat, "nps": rating.nps}}

    @requires("customer")
    @acked
    def on_typing(self, data: Any) -> dict[str, Any]:
        """Tell the expert the customer is typing (not stored)."""
        body = parse(p.CaseRef, data)
        with session_scope() as session:
            case = cases.load_case(session, self.actor(), body.case_id)
        if expert_in_conversation(case):
            socketio.emit("typing", {"case_id": case.id, "sender": "customer"}, namespace=EXPERT,
                          to=expert_room(case.expert_id))  # type: ignore[arg-type]
        return {}


def _resume(session: Session, brand_id: int, token: str) -> Customer | None:
    """The brand's customer holding this token (their first device's, or another device's of a
    verified customer)."""
    digest = security.token_hash(token)
    customer = session.exec(select(Customer).where(Customer.token_hash == digest)).first()
    if customer is None:
        extra = session.exec(select(AuthToken.subject_id).where(
            col(AuthToken.token_hash) == digest, col(AuthToken.kind) == TokenKind.customer, col(AuthToken.revoked_at).is_(None))).first()
        customer = session.get(Customer, extra) if extra is not None else None
    if customer is None or customer.brand_id != brand_id:
        return None
    return customer


namespace = CustomerNamespace(CUSTOMER)
__all__ = ["namespace", "ApiError"]
