"""Brand staff (console users) and the brand's side of expert programs."""
from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from gigcx import db, ratelimit, schemas, security, uow
from gigcx.api import SECURITY, TAGS, api
from gigcx.api.responses.brands import ExpertProfile, ProgramList, StaffList
from gigcx.auth import principal, public, requires
from gigcx.errors import ApiError
from gigcx.models import Expert, ExpertProgram, ProgramStatus, StaffUser
from gigcx.services import brands, experts
from gigcx.services.profiles import expert_stats


def _staff_view(staff: StaffUser) -> dict[str, Any]:
    return {"id": staff.id, "email": staff.email, "display_name": staff.display_name, "role": staff.role}


@api.post("/staff/token", tags=[TAGS["brands"]], responses={200: schemas.StaffTokenResponse})
@public  # logging in: checks the password
def staff_token(body: schemas.StaffTokenRequest) -> dict[str, Any]:
    """Staff log in to the brand console."""
    ratelimit.check("auth", request.remote_addr)
    session = db.request_session()
    brand = brands.brand_by_slug(session, body.brand)
    if brand is None:
        raise ApiError("unauthorized", "wrong brand, e-mail or password")
    token, staff = experts.issue_staff_token(session=session, brand_id=brand.id, email=body.email,  # type: ignore[arg-type]
                                             password=body.password)
    return {"token": token, "staff": _staff_view(staff), "brand": brand.slug}


@api.post("/staff", tags=[TAGS["brands"]], security=SECURITY, responses={201: schemas.StaffPublic})
@requires("brand_admin")
def create_staff(body: schemas.StaffCreate) -> tuple[dict[str, Any], int]:
    """Add a console user (admin or analyst) to the brand."""
    session = db.request_session()
    staff = StaffUser(brand_id=principal().brand_id, email=body.email, display_name=body.display_name,  # type: ignore[arg-type]
                      role=body.role, password_hash=security.hash_password(body.password))
    session.add(staff)
    try:
        session.flush()
    except IntegrityError:  # raising rolls the request's unit of work back
        raise ApiError("conflict", "a staff user with this e-mail exists") from None
    return _staff_view(staff), 201


@api.delete("/staff/<int:id>", tags=[TAGS["brands"]], security=SECURITY,
            responses={204: None})
@requires("brand_admin")
def remove_staff(path: schemas.StaffPath) -> tuple[str, int]:
    """Remove a console user: their tokens stop working and their live sockets are disconnected."""
    outbox = uow.for_request().outbox  # emitted after the request commits
    experts.remove_staff(session=db.request_session(), outbox=outbox, brand_id=principal().brand_id,  # type: ignore[arg-type]
                         staff_id=path.id)
    return "", 204


@api.get("/staff", tags=[TAGS["brands"]], security=SECURITY,
         responses={200: StaffList})
@requires("brand")
def list_staff() -> dict[str, Any]:
    """The brand's console users."""
    rows = db.request_session().exec(select(StaffUser).where(StaffUser.brand_id == principal().brand_id)
                                     .order_by(StaffUser.id)).all()  # type: ignore[arg-type]
    return {"staff": [_staff_view(s) for s in rows]}


@api.get("/programs", tags=[TAGS["experts"]], security=SECURITY,
         responses={200: ProgramList})
@requires("brand")
def list_programs(query: schemas.ProgramListQuery) -> dict[str, Any]:
    """Experts who applied to the brand's program, with their track record here."""
    session = db.request_session()
    q = select(ExpertProgram, Expert).join(Expert, Expert.id == ExpertProgram.expert_id).where(  # type: ignore[arg-type]
        ExpertProgram.brand_id == principal().brand_id)
    if query.status:
        q = q.where(ExpertProgram.status == query.status)
    out = []
    for program, expert in session.exec(q.order_by(ExpertProgram.id)).all():  # type: ignore[arg-type]
        view = experts.program_view(session, program)
        view.update(display_name=expert.display_name, languages=expert.languages,
                    stats=expert_stats(session, expert.id, principal().brand_id))  # type: ignore[arg-type]
        out.append(view)
    return {"programs": out}


def _set_status(expert_id: int, status: str) -> dict[str, Any]:
    session = db.request_session()
    outbox = uow.for_request().outbox  # emitted after the request commits
    program = experts.set_program_status(session=session, outbox=outbox, brand_id=principal().brand_id,  # type: ignore[arg-type]
                                         expert_id=expert_id, status=status)
    return experts.program_view(session, program)


@api.post("/experts/<int:id>/suspend", tags=[TAGS["experts"]], security=SECURITY,
          responses={200: schemas.ProgramPublic})
@requires("brand_admin")
def suspend_expert(path: schemas.ExpertPath) -> dict[str, Any]:
    """Stop offering the brand's cases to this expert."""
    return _set_status(path.id, ProgramStatus.suspended)


@api.post("/experts/<int:id>/reject", tags=[TAGS["experts"]], security=SECURITY,
          responses={200: schemas.ProgramPublic})
@requires("brand_admin")
def reject_expert(path: schemas.ExpertPath) -> dict[str, Any]:
    """Turn an application down."""
    return _set_status(path.id, ProgramStatus.rejected)


@api.get("/experts/me", tags=[TAGS["experts"]], security=SECURITY,
         responses={200: ExpertProfile})
@requires("expert")
def my_profile() -> dict[str, Any]:
    """The expert's profile, programs and ratings per brand and topic."""
    session = db.request_session()
    expert = session.get(Expert, principal().expert_id)
    programs = session.exec(select(ExpertProgram).where(ExpertProgram.expert_id == expert.id)).all()  # type: ignore[union-attr]
    return {"id": expert.id, "email": expert.email, "display_name": expert.display_name,  # type: ignore[union-attr]
            "languages": expert.languages, "max_cases": expert.max_cases,  # type: ignore[union-attr]
            "programs": [experts.program_view(session, p) for p in programs],
            "stats": expert_stats(session, expert.id)}  # type: ignore[union-attr, arg-type]
