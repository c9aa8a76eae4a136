"""`/expert`: experts go online, take offers, chat, resolve and escalate."""
from __future__ import annotations

from typing import Any

from flask import current_app, request
from socketio.exceptions import ConnectionRefusedError  # carries its message to connect_error
from sqlmodel import Session, select

from gigcx import auth as bearer
from gigcx.auth import public, requires
from gigcx.db import session_scope
from gigcx.errors import ApiError
from gigcx.events import CUSTOMER, EXPERT, case_payload, customer_room, expert_room
from gigcx.extensions import socketio
from gigcx.models import BUSY_STATUSES, Case, Offer, OfferStatus
from gigcx.realtime import payloads as p
from gigcx.realtime.common import RoleNamespace, acked, parse, transact
from gigcx.services import cases, dispatch, presence, trust
from gigcx.services.cases import Actor
from gigcx.uow import transaction, unit_of_work


class ExpertNamespace(RoleNamespace):
    """Experts, authenticated by the bearer token of `POST /auth/token`."""

    role = "expert"

    @public  # authenticates the expert itself
    def on_connect(self, auth: Any = None) -> None:
        """Accept a valid expert token; the connection counts for presence."""
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            raise ConnectionRefusedError("auth must be {token: <expert token>}")
        with transaction() as session:
            who = bearer.resolve(session, token, None)
            if who is None or who.kind != "expert":
                raise ConnectionRefusedError("invalid expert token")
            presence.connect(session, who.expert_id, request.sid,  # type: ignore[arg-type, attr-defined]
                             current_app.config["GIGCX"].process_id)
            trust.record_client(session, "expert", who.expert_id, request.remote_addr,  # type: ignore[arg-type]
                                request.headers.get("User-Agent"))
        self.authenticated(Actor("expert", who.expert_id), who.credential,  # type: ignore[arg-type]
                           expert_room(who.expert_id))  # type: ignore[arg-type]

    @public
    def on_disconnect(self, *args: Any) -> None:
        self.forget()
        with transaction() as session:
            presence.disconnect(session, request.sid)  # type: ignore[attr-defined]

    @requires("expert")
    @acked
    def on_availability(self, data: Any) -> dict[str, Any]:
        """Go online or offline; going online offers queued cases at once."""
        body = parse(p.Availability, data)
        actor = self.actor()

        def work(session: Session, outbox: Any) -> dict[str, Any]:
            row = presence.set_availability(session, actor.id, body.online, body.max_cases)
            return {"online": row.online, "max_cases": row.max_cases}

        out = transact(work)
        if body.online:
            with unit_of_work() as uow:
                dispatch.sweep(uow, brand_ids=presence.brands_of(uow.session, actor.id))
        return out  # type: ignore[no-any-return]

    @requires("expert")
    @acked
    def on_accept(self, data: Any) -> dict[str, Any]:
        """Take an offered case; the first accept wins."""
        body = parse(p.CaseRef, data)
        actor = self.actor()

        def work(session: Session, outbox: Any) -> dict[str, Any]:
            case = dispatch.accept(session, outbox, actor.id, body.case_id)
            session.flush()
            return cases.sync(session, actor, case_id=body.case_id, after_seq=0, case=case)

        return transact(work)  # type: ignore[no-any-return]

    @requires("expert")
    @acked
    def on_decline(self, data: Any) -> dict[str, Any]:
        """Refuse an offer; it goes to the next expert."""
        body = parse(p.CaseRef, data)
        actor = self.actor()
        transact(lambda s, o: dispatch.decline(s, o, actor.id, body.case_id))
        return {}

    @requires("expert")
    @acked
    def on_resolve(self, data: Any) -> dict[str, Any]:
        """Propose that the case is resolved; the customer confirms."""
        body = parse(p.CaseRef, data)
        actor = self.actor()
        return transact(lambda s, o: {"case": case_payload(
            s, cases.propose_resolution(s, o, actor, case_id=body.case_id))})  # type: ignore[no-any-return]

    @requires("expert")
    @acked
    def on_escalate(self, data: Any) -> dict[str, Any]:
        """Hand the case to the brand's staff, with an internal reason (and a message to the
        customer); the expert then leaves the conversation: no more events, no `sync`."""
        body = parse(p.Escalate, data)
        actor = self.actor()
        return transact(lambda s, o: {"case": case_payload(
            s, cases.expert_escalate(s, o, actor, case_id=body.case_id, reason=body.reason,
                                     message=body.message))})  # type: ignore[no-any-return]

    @requires("expert")
    @acked
    def on_cases(self, data: Any) -> dict[str, Any]:
        """The expert's open cases and open offers (to rebuild the console after a reload)."""
        parse(p.Empty, data if data is not None else {})
        actor = self.actor()
        with session_scope() as session:
            mine = session.exec(select(Case).where(Case.expert_id == actor.id, Case.status.in_(  # type: ignore[attr-defined]
                BUSY_STATUSES)).order_by(Case.id)).all()  # type: ignore[arg-type]
            offers = session.exec(select(Offer).where(Offer.expert_id == actor.id, Offer.status == OfferStatus.open)).all()
            from gigcx.events import offer_payload

            return {"cases": [case_payload(session, c) for c in mine],
                    "offers": [offer_payload(session, o, session.get(Case, o.case_id),  # type: ignore[arg-type]
                                             dispatch.reward_for(session, session.get(Case, o.case_id)))  # type: ignore[arg-type]
                               for o in offers]}

    @requires("expert")
    @acked
    def on_typing(self, data: Any) -> dict[str, Any]:
        """Tell the customer the expert is typing (not stored)."""
        body = parse(p.CaseRef, data)
        actor = self.actor()
        with session_scope() as session:
            case = cases.load_case(session, actor, body.case_id)
        if case.expert_id != actor.id:
            raise ApiError("forbidden", "accept the offer first")
        socketio.emit("typing", {"case_id": case.id, "sender": "expert"}, namespace=CUSTOMER,
                      to=customer_room(case.customer_id))
        return {}


namespace = ExpertNamespace(EXPERT)
