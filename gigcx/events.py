"""Server-to-client events: payload builders and an outbox emitted only after the commit."""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, bindparam
from sqlmodel import Session, col, func, select

from gigcx.models import Brand, Case, CaseStatus, Expert, Message, Offer, Rating
from gigcx.models.base import iso
from gigcx.pii import mask

CUSTOMER, EXPERT, BRAND = "/customer", "/expert", "/brand"


def customer_room(customer_id: int) -> str:
    return f"customer:{customer_id}"


def expert_room(expert_id: int) -> str:
    return f"expert:{expert_id}"


def brand_room(brand_id: int) -> str:
    return f"brand:{brand_id}"


def _mean_csat(expert_id: int) -> Any:
    """The expert's mean CSAT (NULL before any rating); ratings of escalated cases are left out
    (the brand's staff finished those)."""
    return (select(func.avg(Rating.csat)).join(Case, col(Case.id) == Rating.case_id)
            .where(col(Rating.expert_id) == expert_id, col(Case.escalated_at).is_(None)))


def _display(avg: Any) -> float | None:
    return None if avg is None else round(float(avg), 2)


def expert_rating(session: Session, expert_id: int) -> float | None:
    """The expert's mean CSAT, rounded for display (None before any rating)."""
    return _display(session.exec(_mean_csat(expert_id)).one())


# built once: an accept and every case event naming an expert read it
_SUMMARY = select(Expert.display_name, _mean_csat(bindparam("b_expert")).scalar_subquery()).where(  # type: ignore[arg-type]
    Expert.id == bindparam("b_expert"))


def expert_summary(session: Session, expert_id: int) -> dict[str, Any] | None:
    """The assigned expert as customers see them, read once per session (an accept builds three
    payloads naming the same expert) in one statement; None for an unknown id."""
    memo: dict[int, dict[str, Any] | None] = session.info.setdefault("expert_summary", {})
    if expert_id not in memo:
        row = session.execute(_SUMMARY, {"b_expert": expert_id}).first()
        memo[expert_id] = None if row is None else {"display_name": row[0], "rating": _display(row[1])}
    return memo[expert_id]


def remember_expert_summary(session: Session, expert_id: int, display_name: str, avg: Any) -> None:
    """What `expert_summary` would read, when the caller already read it (with the case)."""
    session.info.setdefault("expert_summary", {})[expert_id] = {"display_name": display_name,
                                                                "rating": _display(avg)}


SUMMARY = ("id", "rev", "status", "topic", "deflected", "expert")  # the fields of a `case` event without `full`


def expert_in_conversation(case: Any) -> bool:
    """Whether the case's expert still takes part: not once the case was escalated (the expert who
    escalates leaves; staff take over). `case` is a Case or a row with `expert_id`, `status` and
    `escalated_at`."""
    return case.expert_id is not None and case.escalated_at is None and case.status != CaseStatus.escalated


# brand id -> slug, per database: a slug never changes and a brand is never deleted, so every
# `full` case payload (an accept's two) need not load the brand row
_SLUGS: weakref.WeakKeyDictionary[Any, dict[int, str]] = weakref.WeakKeyDictionary()


def brand_slug(session: Session, brand_id: int) -> str | None:
    """The brand's slug (None for an unknown id)."""
    slugs = _SLUGS.setdefault(session.get_bind(), {})
    slug = slugs.get(brand_id)
    if slug is None:
        brand = session.get(Brand, brand_id)
        if brand is None:
            return None
        slug = slugs[brand_id] = brand.slug
    return slug


def case_payload(session: Session, case: Case, *, full: bool = False, internal: bool = False) -> dict[str, Any]:
    """The contract's `case` event; `full` adds timings and details for acks and brands, `internal`
    what only the brand's staff may read (the expert's reason for escalating)."""
    out: dict[str, Any] = {"id": case.id, "rev": case.rev, "status": case.status, "topic": case.topic,
                           "deflected": case.deflected}
    if case.expert_id is not None:
        summary = expert_summary(session, case.expert_id)
        if summary is not None:
            out["expert"] = dict(summary)
    if full:
        out.update(
            brand=brand_slug(session, case.brand_id),
            question=case.question, language=case.language, last_seq=case.last_seq,
            topic_confidence=case.topic_confidence,
            created_at=iso(case.created_at), assigned_at=iso(case.assigned_at),
            first_response_at=iso(case.first_response_at), proposed_at=iso(case.proposed_at),
            resolved_at=iso(case.resolved_at), escalated_at=iso(case.escalated_at),
            closed_at=iso(case.closed_at), suggestions=public_suggestions(case.suggestions),
        )
        if internal:
            out["escalation_reason"] = case.escalation_reason
    return out


MASKED_SENDERS = ("customer", "staff")  # whose personal data experts never see (staff quote customers)

SUGGESTION_FIELDS = ("id", "answer", "topic", "score")


def public_suggestions(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Suggested answers as anyone may see them: the reusable answer, never whose case it was
    (rows stored before answers were scrubbed carry a `question`: such entries are dropped)."""
    return [{k: s.get(k) for k in SUGGESTION_FIELDS} for s in stored or []
            if isinstance(s, dict) and "question" not in s and "id" in s]


def message_payload(msg: Message | Row[Any], *, masked: bool = False) -> dict[str, Any]:
    """The contract's `message` event; `masked` hides customers' (and staff's) personal data from experts."""
    text = mask(msg.text) if masked and msg.sender in MASKED_SENDERS else msg.text
    return {"case_id": msg.case_id, "id": msg.id, "seq": msg.seq, "sender": msg.sender,
            "text": text, "sent_at": iso(msg.sent_at), "client_id": msg.client_id}


def offer_payload(session: Session, offer: Offer, case: Case, reward_cents: int) -> dict[str, Any]:
    """The contract's `offer` event (question masked)."""
    brand = session.get(Brand, case.brand_id)
    return {"case_id": case.id, "brand": brand.slug if brand else None, "topic": case.topic,
            "question": mask(case.question), "reward_cents": reward_cents,
            "expires_at": iso(offer.expires_at), "offer_id": offer.id, "round": offer.round,
            "hints": [{"id": s["id"], "answer": s["answer"]} for s in public_suggestions(case.suggestions)]}


@dataclass
class Outbox:
    """Events gathered during a transaction and sent after it commits (never before)."""

    items: list[tuple[str, dict[str, Any], str, str]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    ended: list[tuple[list[str], str]] = field(default_factory=list)

    def end_sessions(self, rooms: list[str], reason: str) -> None:
        """Disconnect the sockets in these rooms (credentials, an expert) on every process, after the commit."""
        self.ended.append((rooms, reason))

    def add(self, event: str, payload: dict[str, Any], namespace: str, room: str) -> None:
        self.items.append((event, payload, namespace, room))

    def discard(self) -> None:
        """Drop what was gathered: its transaction was rolled back."""
        self.items.clear()
        self.ended.clear()

    def case_changed(self, session: Session, case: Case, *, rev_set: bool = False) -> None:
        """Tell the customer, the assigned expert and the brand that a case changed.

        The case's `rev` goes up by one first (folded into the transaction's UPDATE of the case);
        `rev_set` when the caller's own statement did it (an insert, or a guarded UPDATE). Writers
        of a case are serialised (SQLite: the database's write lock; PostgreSQL: FOR UPDATE, the
        guarded UPDATE, or for timer handlers the timer row an accept also cancels), so two
        changes never share a rev."""
        if not rev_set:
            case.rev += 1
            session.add(case)
        brand_view = case_payload(session, case, full=True, internal=True)
        payload = {k: brand_view[k] for k in SUMMARY if k in brand_view}  # the same, without details
        self.add("case", payload, CUSTOMER, customer_room(case.customer_id))
        if expert_in_conversation(case):
            self.add("case", payload, EXPERT, expert_room(case.expert_id))  # type: ignore[arg-type]
        self.add("case", brand_view, BRAND, brand_room(case.brand_id))

    def message_posted(self, case: Any, msg: Message | Row[Any]) -> dict[str, Any]:
        """Deliver a stored message to everybody in the conversation (one payload where the views
        are the same: emitting never changes it); that payload, which is also the writer's."""
        payload = message_payload(msg)
        self.add("message", payload, CUSTOMER, customer_room(case.customer_id))
        if expert_in_conversation(case):
            masked = message_payload(msg, masked=True) if msg.sender in MASKED_SENDERS else payload
            self.add("message", masked, EXPERT, expert_room(case.expert_id))
        self.add("message", payload, BRAND, brand_room(case.brand_id))
        return payload

    def flush(self) -> None:
        """Emit everything (through the Redis queue when scaled out)."""
        from gigcx.extensions import socketio
        from gigcx.observability import DELIVERY

        items, self.items = self.items, []
        socketio.emit_rooms(items)
        ended, self.ended = self.ended, []
        if ended:
            from gigcx import sessions

            for rooms, reason in ended:
                sessions.end(rooms, reason)
        delivered = time.perf_counter() - self.started
        for event, _, namespace, _ in items:
            if event == "message" and namespace == CUSTOMER:  # one per message, whoever receives it
                DELIVERY.observe(delivered)
