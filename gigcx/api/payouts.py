"""Money endpoints: brand reviews, expert earnings and payout accounts, payout runs, budgets."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Response, current_app
from pydantic import BaseModel, Field, StringConstraints

from gigcx import db
from gigcx.api import SECURITY, TAGS, api
from gigcx.auth import principal, requires
from gigcx.errors import ApiError
from gigcx.models import Brand, Payout
from gigcx.schemas import MAX_ID, MAX_TEXT, Slug, Strict
from gigcx.services import brands as brand_svc
from gigcx.services import earnings
from gigcx.services import payouts as svc

Url = Annotated[str, StringConstraints(pattern=r"^https?://", max_length=2000)]
Reference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class CasePath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class PayoutPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class BrandSlugPath(BaseModel):
    slug: Slug


class ReviewRequest(Strict):
    verdict: Literal["approve", "reject"]
    note: Annotated[str, StringConstraints(max_length=MAX_TEXT)] | None = None


class FundingRequest(Strict):
    amount_cents: int = Field(ge=1, le=100_000_000)
    reference: Reference = Field(description="your idempotency key for this top-up")
    payment_method: Annotated[str, StringConstraints(max_length=200)] | None = None


class PayoutAccountRequest(Strict):
    refresh_url: Url | None = None
    return_url: Url | None = None


class BudgetPolicyBody(Strict):
    credit_limit_cents: int = Field(0, ge=0, le=1_000_000_000)
    low_watermark_cents: int = Field(0, ge=0, le=1_000_000_000)


@api.post("/cases/<int:id>/review", tags=[TAGS["cases"]], security=SECURITY)
@requires("brand_admin")
def review_case_verdict(path: CasePath, body: ReviewRequest) -> dict[str, Any]:
    """Approve (releases the reward now) or reject (inside the review window: takes it back).
    A held reward (docs/trust.md) is decided as in the Flagged queue: reject takes it back
    whenever it happens, and the decision is audited."""
    from gigcx.services import flagged, trust

    session = db.request_session()
    if trust.is_held(session, path.id):
        from gigcx.api.trust import actor

        flagged.decide(session, brand_id=principal().brand_id, case_id=path.id,  # type: ignore[arg-type]
                       action="release" if body.verdict == "approve" else "reject", note=body.note or "",
                       actor=actor())
    return earnings.review(db.request_session(), brand_id=principal().brand_id,  # type: ignore[arg-type]
                           case_id=path.id, verdict=body.verdict, note=body.note)


@api.get("/experts/me/earnings", tags=[TAGS["payouts"]], security=SECURITY)
@requires("expert")
def expert_earnings() -> dict[str, Any]:
    """The calling expert's balances, per-case rewards and payouts."""
    return earnings.earnings_view(db.request_session(), principal().expert_id)  # type: ignore[arg-type]


@api.post("/payouts/run", tags=[TAGS["payouts"]], security=SECURITY)
@requires("operator")
def run_payouts() -> dict[str, Any]:
    """Pay every expert's available balance at or above the minimum, now."""
    settings = current_app.config["GIGCX"]
    result = svc.run(db.request_session(), svc.gateway(), settings.payout_minimum_cents)
    return svc.run_view(result)


@api.post("/payouts/retry", tags=[TAGS["payouts"]], security=SECURITY)
@requires("operator")
def retry_payouts() -> dict[str, Any]:
    """Reconcile the payouts still in transit with Stripe (crash recovery)."""
    recovered = svc.retry_in_transit(db.request_session(), svc.stripe())
    return {"payouts": [earnings.payout_view(p) for p in recovered]}


@api.get("/payouts/<int:id>/statement.csv", tags=[TAGS["payouts"]], security=SECURITY)
@requires("operator", "expert")
def payout_statement(path: PayoutPath) -> Response:
    """The expert's CSV statement for one payout (marked MANUAL PAYMENT in manual mode)."""
    session = db.request_session()
    payout = session.get(Payout, path.id)
    me = principal()
    if payout is None or (me.kind == "expert" and payout.expert_id != me.expert_id):
        raise ApiError("not_found", "no such payout")
    from gigcx.models import PayoutBatch

    batch = session.get(PayoutBatch, payout.batch_id)
    text = svc.statement_csv(session, payout, manual=batch is None or batch.mode == "manual")
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="gigcx-payout-{payout.id}.csv"'})


@api.post("/experts/me/payout-account", tags=[TAGS["payouts"]], security=SECURITY)
@requires("expert")
def expert_payout_account(body: PayoutAccountRequest) -> dict[str, Any]:
    """Create the expert's Stripe Express account if needed and return an onboarding link."""
    from flask import current_app, request

    # the configured public URL, not the Host header (which a client chooses)
    base = current_app.config["GIGCX"].public_url or request.host_url.rstrip("/")
    return svc.payout_account(db.request_session(), svc.stripe(), principal().expert_id,  # type: ignore[arg-type]
                              body.refresh_url or f"{base}/expert?payouts=refresh",
                              body.return_url or f"{base}/expert?payouts=done")


@api.get("/experts/me/payout-account", tags=[TAGS["payouts"]], security=SECURITY)
@requires("expert")
def expert_payout_account_status() -> dict[str, Any]:
    """Where the expert's payouts go: manual, or a Stripe account and whether it is ready."""
    from gigcx.models import Expert
    from gigcx.stripe_gateway import StripeGateway

    session = db.request_session()
    expert = session.get(Expert, principal().expert_id)
    assert expert is not None
    mode = "stripe" if isinstance(svc.gateway(), StripeGateway) else "manual"
    return {"mode": mode, "account_id": expert.stripe_account_id,
            "payouts_enabled": expert.payouts_enabled if mode == "stripe" else True}


@api.post("/brand/funding", tags=[TAGS["payouts"]], security=SECURITY)
@requires("brand_admin")
def fund_brand_budget(body: FundingRequest) -> tuple[dict[str, Any], int]:
    """Top up the budget: a Stripe PaymentIntent, or a recorded top-up without Stripe."""
    session = db.request_session()
    brand = brand_svc.get_brand(session, principal().brand_id)  # type: ignore[arg-type]
    out = svc.fund(session, svc.gateway(), brand, body.amount_cents, body.reference, body.payment_method)
    out["budget_cents"] = earnings.budget_cents(session, brand)
    return out, 201


@api.get("/brand/statement", tags=[TAGS["payouts"]], security=SECURITY)
@requires("brand")
def brand_spend_statement() -> dict[str, Any]:
    """Funding, rewards, bonuses, reversals, budget, debt and the routing state of the budget."""
    session = db.request_session()
    return earnings.brand_statement(session, brand_svc.get_brand(session, principal().brand_id))  # type: ignore[arg-type]


@api.put("/brands/<slug>/budget-policy", tags=[TAGS["payouts"]], security=SECURITY)
@requires("operator")
def put_budget_policy(path: BrandSlugPath, body: BudgetPolicyBody) -> dict[str, Any]:
    """Make the brand prepaid with this credit limit (routing holds cases beyond it)."""
    session = db.request_session()
    brand = brand_svc.brand_by_slug(session, path.slug)
    if brand is None:
        raise ApiError("not_found", "no such brand")
    brand.budget_policy = body.model_dump()
    session.add(brand)
    session.commit()
    return earnings.brand_statement(session, brand)


@api.delete("/brands/<slug>/budget-policy", tags=[TAGS["payouts"]], security=SECURITY)
@requires("operator")
def delete_budget_policy(path: BrandSlugPath) -> dict[str, Any]:
    """Make the brand postpaid again: routing is never held for its budget."""
    session = db.request_session()
    brand: Brand | None = brand_svc.brand_by_slug(session, path.slug)
    if brand is None:
        raise ApiError("not_found", "no such brand")
    brand.budget_policy = None
    session.add(brand)
    session.commit()
    return earnings.brand_statement(session, brand)
