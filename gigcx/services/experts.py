"""Experts: sign-up, tokens, program applications and approvals."""
from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from gigcx import schemas, security
from gigcx.errors import ApiError
from gigcx.events import Outbox, expert_room
from gigcx.models import (
    AuthToken,
    Brand,
    Expert,
    ExpertProgram,
    ProgramStatus,
    StaffUser,
    TokenKind,
    Topic,
    utcnow,
)
from gigcx.sessions import token_credential

NO_SUCH_EXPERT = "no such expert in your program"  # unknown ids and other brands' experts alike


def sign_up(*, session: Session, data: schemas.ExpertCreate) -> Expert:
    """Create an expert account."""
    expert = Expert(email=data.email, password_hash=security.hash_password(data.password),
                    display_name=data.display_name, languages=_dedupe(lang.lower() for lang in data.languages))
    session.add(expert)
    try:
        session.flush()
    except IntegrityError:  # raising rolls the unit of work back
        raise ApiError("conflict", "an expert with this e-mail already exists") from None
    return expert


def _dedupe(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


def issue_token(*, session: Session, data: schemas.TokenRequest) -> tuple[str, Expert]:
    """Check e-mail and password and issue a new bearer token."""
    expert = session.exec(select(Expert).where(Expert.email == data.email)).first()
    stored = expert.password_hash if expert else security.DUMMY_PASSWORD_HASH
    if not security.check_password(stored, data.password) or expert is None:
        raise ApiError("unauthorized", "wrong e-mail or password")
    token = security.new_token(security.EXPERT_TOKEN)
    session.add(AuthToken(token_hash=security.token_hash(token), kind=TokenKind.expert, subject_id=expert.id))
    session.flush()
    return token, expert


def issue_staff_token(*, session: Session, brand_id: int, email: str, password: str) -> tuple[str, StaffUser]:
    """Log a staff user in to the brand console."""
    staff = session.exec(select(StaffUser).where(
        StaffUser.brand_id == brand_id, StaffUser.email == email.strip().lower())).first()
    stored = staff.password_hash if staff else security.DUMMY_PASSWORD_HASH
    if not security.check_password(stored, password) or staff is None:
        raise ApiError("unauthorized", "wrong e-mail or password")
    token = security.new_token(security.STAFF_TOKEN)
    session.add(AuthToken(token_hash=security.token_hash(token), kind=TokenKind.staff, subject_id=staff.id))
    session.flush()
    return token, staff


def revoke_token(*, session: Session, outbox: Outbox, token_id: int) -> None:
    """Revoke one bearer token (log out); its live sockets are disconnected after the commit."""
    row = session.get(AuthToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
    outbox.end_sessions([token_credential(token_id)], "logged_out")


def remove_staff(*, session: Session, outbox: Outbox, brand_id: int, staff_id: int) -> None:
    """Remove a console user: their tokens are revoked (ids may be reused) and their sockets closed."""
    staff = session.get(StaffUser, staff_id)
    if staff is None or staff.brand_id != brand_id:
        raise ApiError("not_found", "no such staff user")
    tokens = session.exec(select(AuthToken).where(AuthToken.kind == TokenKind.staff, AuthToken.subject_id == staff_id,
                                                  AuthToken.revoked_at.is_(None))).all()  # type: ignore[union-attr]
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
        session.add(token)
    session.delete(staff)
    session.flush()
    outbox.end_sessions([token_credential(t.id) for t in tokens], "removed")  # type: ignore[arg-type]


def _brand(session: Session, slug: str) -> Brand:
    brand = session.exec(select(Brand).where(Brand.slug == slug)).first()
    if brand is None:
        raise ApiError("not_found", f"no brand {slug!r}")
    return brand


def _check_topics(session: Session, brand_id: int, slugs: list[str]) -> list[str]:
    known = set(session.exec(select(Topic.slug).where(Topic.brand_id == brand_id)))
    unknown = sorted(set(slugs) - known)
    if unknown:
        raise ApiError("invalid", f"unknown topics: {', '.join(unknown)}")
    return _dedupe(slugs)


def apply(*, session: Session, expert_id: int, data: schemas.ProgramApply) -> ExpertProgram:
    """Apply to a brand's program for some topics (pending the brand's approval)."""
    brand = _brand(session, data.brand)
    topics = _check_topics(session, brand.id, data.topics)  # type: ignore[arg-type]
    program = session.exec(select(ExpertProgram).where(
        ExpertProgram.expert_id == expert_id, ExpertProgram.brand_id == brand.id)).first()
    if program is None:
        program = ExpertProgram(expert_id=expert_id, brand_id=brand.id, requested_topics=topics)
    elif program.status == ProgramStatus.suspended:
        raise ApiError("forbidden", "you are suspended from this brand's program")
    else:
        program.requested_topics = _dedupe([*program.requested_topics, *topics])
        if set(topics) - set(program.topics):
            program.status = ProgramStatus.pending if not program.topics else program.status
    session.add(program)
    session.flush()
    return program


def approve(*, session: Session, brand_id: int, expert_id: int, data: schemas.ApproveRequest) -> ExpertProgram:
    """Admit an expert to the brand's program for the given topics."""
    program = session.exec(select(ExpertProgram).where(
        ExpertProgram.expert_id == expert_id, ExpertProgram.brand_id == brand_id)).first()
    if program is None:
        # Only experts who applied are visible to a brand; others are none of its business, and
        # an unknown id answers exactly like them (ids cannot be enumerated).
        raise ApiError("not_found", NO_SUCH_EXPERT)
    topics = _check_topics(session, brand_id, data.topics)
    program.topics = topics
    if data.user_id is not None:
        program.external_user_id = data.user_id
    program.status = ProgramStatus.approved
    program.decided_at = utcnow()
    session.add(program)
    session.flush()
    return program


def set_program_status(*, session: Session, outbox: Outbox, brand_id: int, expert_id: int,
                       status: str) -> ExpertProgram:
    """Suspend or reject an expert in the brand's program.

    An expert who leaves the program stops working for the brand at once: their open offers are
    withdrawn, the cases they hold go back to matching (they earn nothing more from them), and
    their live sockets are disconnected on every process (they may reconnect for other brands)."""
    program = session.exec(select(ExpertProgram).where(
        ExpertProgram.expert_id == expert_id, ExpertProgram.brand_id == brand_id)).first()
    if program is None:
        raise ApiError("not_found", NO_SUCH_EXPERT)
    was_working = program.status == ProgramStatus.approved
    program.status = status
    program.decided_at = utcnow()
    session.add(program)
    session.flush()  # routing below must no longer see the expert as approved
    if was_working:
        from gigcx.services import dispatch

        dispatch.release_expert(session, outbox, expert_id, brand_id)
    session.flush()
    if was_working or status == ProgramStatus.suspended:
        outbox.end_sessions([expert_room(expert_id)], status)
    return program


def program_view(session: Session, program: ExpertProgram) -> dict[str, Any]:
    """A program membership as the API shows it."""
    brand = session.get(Brand, program.brand_id)
    return {"id": program.id, "brand": brand.slug if brand else None, "expert_id": program.expert_id,
            "status": program.status, "requested_topics": program.requested_topics,
            "topics": program.topics}
