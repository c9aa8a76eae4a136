"""Cases driven through the real services, as the Socket.IO handlers drive them."""
from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import select

from gigcx.db import session_scope
from gigcx.events import Outbox
from gigcx.models import Brand, Case, Customer


def brand_id(app: Any, slug: str) -> int:
    with app.app_context(), session_scope() as s:
        return s.exec(select(Brand.id).where(Brand.slug == slug)).one()  # type: ignore[no-any-return]


def ask(app: Any, slug: str, text: str = "where is my card", language: str | None = None) -> int:
    """A customer asks (the case is dispatched as the `ask` handler does); returns the case id."""
    from gigcx.services import cases, dispatch

    with app.app_context(), session_scope() as s:
        brand = s.exec(select(Brand).where(Brand.slug == slug)).one()
        cust = Customer(brand_id=brand.id, token_hash=uuid.uuid4().hex)  # type: ignore[arg-type]
        s.add(cust)
        s.flush()
        outbox = Outbox()
        case, _ = cases.ask(s, outbox, brand=brand, customer_id=cust.id, text=text,  # type: ignore[arg-type]
                            client_id=uuid.uuid4().hex, language=language)
        dispatch.dispatch(s, outbox, case, fresh=True)
        s.commit()
        return case.id  # type: ignore[return-value]


def escalate(app: Any, case_id: int, reason: str = "needs a refund") -> None:
    from gigcx.services import cases

    with app.app_context(), session_scope() as s:
        cases.escalate(s, Outbox(), s.get(Case, case_id), reason)  # type: ignore[arg-type]
        s.commit()


def send(app: Any) -> int:
    """Run the webhook sender once over everything due."""
    from gigcx.services import webhook_sender

    with app.app_context():
        return webhook_sender.send_due()


def send_mail(app: Any) -> int:
    from gigcx.services import mail_sender

    with app.app_context():
        return mail_sender.send_due()
