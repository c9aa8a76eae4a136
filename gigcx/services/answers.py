"""Reusable answers: what resolved cases teach other customers, never who asked.

A case becomes a candidate when its customer *confirms* it resolved (a case resolved by the
customer's silence is paid as usual but its answer is not reused: nobody said it helped). The
expert's answer and the question are scrubbed of personal data (`gigcx.scrub`) and stored in
`reusableanswer`. The brand's `answer_reuse` setting decides what is suggested:

* `auto` (default): every candidate not rejected, at once;
* `curated`: only candidates staff approved (and possibly edited);
* `off`: nothing.

A brand reject of the case (review) rejects its answer too. Suggestions carry only the answer's
id, its (scrubbed, possibly edited) text, topic and score: never a question, never a case id."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Row, bindparam, exists, func, insert
from sqlmodel import Session, col, select

from gigcx.errors import ApiError
from gigcx.models import AnswerStatus, Brand, Case, Message, ReusableAnswer, Sender, Topic, utcnow
from gigcx.models.base import iso, table_of

log = logging.getLogger(__name__)
MODES = ("auto", "curated", "off")
MIN_ANSWER_CHARS = 20  # what is left after scrubbing must still say something


def served_statuses(mode: str) -> tuple[str, ...]:
    """Which answers a brand with this `answer_reuse` setting suggests."""
    return {"auto": (AnswerStatus.pending, AnswerStatus.approved), "curated": (AnswerStatus.approved,)}.get(mode, ())


_TOPIC, _MSG, _ANSWER = table_of(Topic), table_of(Message), table_of(ReusableAnswer)
_VOCABULARY = (select(_TOPIC.c.name, _TOPIC.c.slug, _TOPIC.c.description, _TOPIC.c.examples)
               .where(_TOPIC.c.brand_id == bindparam("b_brand")).order_by(_TOPIC.c.id))
# the case's messages, each with whether the case's answer was recorded already (one statement
# where there were two; a case always has its question as message 1)
_CONVERSATION = (select(_MSG.c.sender, _MSG.c.text,
                        exists().where(_ANSWER.c.case_id == bindparam("b_case")).label("recorded"))
                 .where(_MSG.c.case_id == bindparam("b_case")).order_by(_MSG.c.seq))
_INSERT_ANSWER = insert(_ANSWER).returning(_ANSWER.c.id)


def vocabulary(session: Session, brand: Brand) -> list[str]:
    """Text that is the brand's, not a customer's: its name and its topics' words."""
    out = [brand.name, brand.slug]
    for name, slug, description, examples in session.connection().execute(_VOCABULARY, {"b_brand": brand.id}):
        out.extend([name, slug, description, *examples])
    return out


def record(session: Session, case: Case) -> int | None:
    """Store the scrubbed answer of a case its customer just confirmed resolved (once); returns
    the new answer's id.

    Core statements on the session's connection (every confirmation runs this): the row is
    written at once, not left to the session's flush."""
    from gigcx.scrub import asker_details, reusable_answer  # phonenumbers, python-stdnum: loaded on first use
    msgs = session.connection().execute(_CONVERSATION, {"b_case": case.id}).all()
    if not msgs or msgs[0].recorded:
        return None
    expert_texts = [text for sender, text, _ in msgs if sender == Sender.expert]
    if not expert_texts:
        return None
    asker = [case.question, *(text for sender, text, _ in msgs if sender == Sender.customer)]
    brand = session.get(Brand, case.brand_id)
    details = asker_details(asker, vocabulary(session, brand) if brand else [])  # one reading for both texts
    answer = reusable_answer(max(expert_texts, key=len), asker, details=details)
    if len(answer) < MIN_ANSWER_CHARS:
        return None
    assert case.id is not None  # a stored row
    answer_id: int = session.connection().execute(_INSERT_ANSWER, {
        "brand_id": case.brand_id, "case_id": case.id, "topic": case.topic,
        "question": reusable_answer(case.question, asker, details=details)[:4000], "answer": answer[:4000],
        "scrubbed": answer[:4000], "status": AnswerStatus.pending, "created_at": utcnow(), "decided_at": None,
        "decided_by": None}).scalar_one()
    log.info("reusable answer recorded", extra={"case_id": case.id, "brand_id": case.brand_id, "answer_id": answer_id})
    return answer_id


def reject_for_case(session: Session, case_id: int) -> None:
    """The brand rejected the case in review: its answer is never reused."""
    row = session.exec(select(ReusableAnswer).where(ReusableAnswer.case_id == case_id)).first()
    if row is not None and row.status != AnswerStatus.rejected:
        row.status, row.decided_at, row.decided_by = AnswerStatus.rejected, utcnow(), "case review"
        session.add(row)


def version(session: Session, brand_id: int) -> tuple[Any, ...]:
    """Changes whenever the set or the text of the brand's suggestible answers changes."""
    brand = session.get(Brand, brand_id)
    statuses = served_statuses(brand.answer_reuse if brand else "off")
    if not statuses:
        return ("off",)
    row = session.exec(select(func.count(), func.max(ReusableAnswer.id), func.max(ReusableAnswer.decided_at))
                       .where(ReusableAnswer.brand_id == brand_id,
                              col(ReusableAnswer.status).in_(statuses))).one()
    return (brand.answer_reuse, *row)  # type: ignore[union-attr]


def served(session: Session, brand_id: int, ids: list[int]) -> dict[int, Row[Any]]:
    """Of these answers, those the brand suggests right now, as rows of (id, answer, topic) (read
    fresh: a reject or an erasure applies at once, even before the index is rebuilt)."""
    if not ids:
        return {}
    brand = session.get(Brand, brand_id)
    statuses = served_statuses(brand.answer_reuse if brand else "off")
    if not statuses:
        return {}
    rows = session.connection().execute(_SERVED, {"b_ids": ids, "b_brand": brand_id, "b_statuses": list(statuses)})
    return {r.id: r for r in rows}


_RA = table_of(ReusableAnswer)
# built once (every ask with suggestion hits runs it), columns rather than entities
_SERVED = select(_RA.c.id, _RA.c.answer, _RA.c.topic).where(
    _RA.c.id.in_(bindparam("b_ids", expanding=True)), _RA.c.brand_id == bindparam("b_brand"),
    _RA.c.status.in_(bindparam("b_statuses", expanding=True)))


def view(row: ReusableAnswer) -> dict[str, Any]:
    """An answer as the brand's staff see it (with the scrubbed question it is matched on)."""
    return {"id": row.id, "case_id": row.case_id, "topic": row.topic, "status": row.status,
            "question": row.question, "answer": row.answer, "scrubbed": row.scrubbed,
            "edited": row.answer != row.scrubbed, "created_at": iso(row.created_at),
            "decided_at": iso(row.decided_at), "decided_by": row.decided_by}


def list_answers(session: Session, brand_id: int, *, status: str | None, limit: int,
                 before_id: int | None) -> dict[str, Any]:
    """The brand's answers, newest first."""
    q = select(ReusableAnswer).where(ReusableAnswer.brand_id == brand_id)
    if status:
        q = q.where(ReusableAnswer.status == status)
    if before_id:
        q = q.where(col(ReusableAnswer.id) < before_id)
    rows = session.exec(q.order_by(col(ReusableAnswer.id).desc()).limit(limit + 1)).all()
    page = rows[:limit]
    brand = session.get(Brand, brand_id)
    return {"mode": brand.answer_reuse if brand else None, "answers": [view(r) for r in page],
            "next_before_id": page[-1].id if len(rows) > limit and page else None}


def get(session: Session, brand_id: int, answer_id: int) -> ReusableAnswer:
    """One of the brand's answers, or not_found."""
    row = session.get(ReusableAnswer, answer_id)
    if row is None or row.brand_id != brand_id:
        raise ApiError("not_found", "no such answer")
    return row


def decide(session: Session, brand_id: int, answer_id: int, *, status: str | None, answer: str | None,
           who: str) -> ReusableAnswer:
    """Approve, reject or edit an answer (an edit keeps the status unless one is given).

    An edited text is scrubbed of structured data again (e-mails, numbers…) in case staff pasted
    some in; names are the editor's responsibility."""
    row = get(session, brand_id, answer_id)
    if answer is not None:
        from gigcx.scrub import scrub_structured

        text = scrub_structured(answer).strip()
        if len(text) < MIN_ANSWER_CHARS:
            raise ApiError("invalid", f"answer: at least {MIN_ANSWER_CHARS} characters once scrubbed")
        row.answer = text
    if status is not None:
        row.status = status
    row.decided_at, row.decided_by = utcnow(), who
    session.add(row)
    session.flush()
    return row
