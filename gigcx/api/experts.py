"""Expert endpoints: sign-up, tokens, program applications, approvals."""
from __future__ import annotations

from typing import Any

from flask import request

from gigcx import db, ratelimit, schemas, uow
from gigcx.api import SECURITY, TAGS, api
from gigcx.auth import principal, public, requires
from gigcx.services import experts as svc


@api.post("/experts", tags=[TAGS["experts"]], responses={201: schemas.ExpertCreated})
@public  # signing up
def create_expert(body: schemas.ExpertCreate) -> tuple[dict[str, Any], int]:
    """Sign up as an expert."""
    ratelimit.check("auth", request.remote_addr)
    expert = svc.sign_up(session=db.request_session(), data=body)
    return {"id": expert.id}, 201


@api.post("/auth/token", tags=[TAGS["experts"]], responses={200: schemas.TokenResponse})
@public  # logging in: checks the password
def create_token(body: schemas.TokenRequest) -> dict[str, Any]:
    """Log in: exchange e-mail and password for a bearer token."""
    ratelimit.check("auth", request.remote_addr)
    token, expert = svc.issue_token(session=db.request_session(), data=body)
    return {"token": token, "expert_id": expert.id}


@api.delete("/auth/token", tags=[TAGS["experts"]], security=SECURITY,
            responses={204: None})
@requires("expert", "brand")
def revoke_token() -> tuple[str, int]:
    """Log out: revoke the token used for this call (brand API keys are rotated instead)."""
    me = principal()
    if me.token_id is None:
        from gigcx.errors import ApiError
        raise ApiError("invalid", "API keys are not revoked here; rotate them with POST /brand/api-key")
    outbox = uow.for_request().outbox  # emitted after the request commits
    svc.revoke_token(session=db.request_session(), outbox=outbox, token_id=me.token_id)
    return "", 204


@api.post("/experts/me/programs", tags=[TAGS["experts"]], security=SECURITY,
          responses={201: schemas.ProgramPublic})
@requires("expert")
def apply_to_program(body: schemas.ProgramApply) -> tuple[dict[str, Any], int]:
    """Apply to a brand's program for some topics; the brand approves."""
    session = db.request_session()
    program = svc.apply(session=session, expert_id=principal().expert_id, data=body)  # type: ignore[arg-type]
    return svc.program_view(session, program), 201


@api.post("/experts/<int:id>/approve", tags=[TAGS["experts"]], security=SECURITY,
          responses={200: schemas.ProgramPublic})
@requires("brand_admin")
def approve_expert(path: schemas.ExpertPath, body: schemas.ApproveRequest) -> dict[str, Any]:
    """Admit an applicant to the brand's program for the given topics."""
    session = db.request_session()
    program = svc.approve(session=session, brand_id=principal().brand_id,  # type: ignore[arg-type]
                          expert_id=path.id, data=body)
    return svc.program_view(session, program)
