"""Money endpoints: brand reviews, expert earnings and payout accounts, payout runs, budgets."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Response, current_app
from pydantic import BaseModel, Field, StringConstraints

from gigcx import db, uow
from gigcx.api import SECURITY, TAGS, api
from gigcx.api.responses.common import CSV
from gigcx.api.responses.money import (
    BatchPaid,
    BrandStatement,
    Earnings,
    FundingResult,
    PayoutAccount,
    PayoutAccountLink,
    PayoutList,
    PayoutView,
    PlatformFee,
    ReversalList,
    ReversalView,
    ReviewResult,
    RunResult,
)
from gigcx.auth import principal, requires
from gigcx.errors import ApiError
from gigcx.models import Brand, Payout
from gigcx.schemas import MAX_ID, MAX_TEXT, Slug, Strict
from gigcx.services import brands as brand_svc
from gigcx.services import connect, earnings, funding
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
    customer: Annotated[str, StringConstraints(pattern=r"^cus_[A-Za-z0-9]{1,100}$")] | None = None
    off_session: bool = False
    return_url: Url | None = None


class RecordFundingRequest(Strict):
    amount_cents: int = Field(ge=1, le=100_000_000)
    reference: Reference = Field(description="the invoice or bank reference of this top-up")


class PlatformFeeBody(Strict):
    platform_fee_cents: int = Field(ge=0, le=100_000_000)


class PayoutListQuery(BaseModel):
    attention: bool = False
    status: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")] | None = None


class SettleRequest(Strict):
    transfer_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,100}$")] | None = None
    not_sent: bool = False


class MarkPaidRequest(Strict):
    reference: Annotated[str, StringConstraints(max_length=200)] | None = None


class ReversalPath(BaseModel):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,100}$")]


class ReversalDecision(Strict):
    decision: Literal["repay", "write_off"]


class ReversalQuery(BaseModel):
    undecided: bool = False


class PayoutAccountRequest(Strict):
    refresh_url: Url | None = None
    return_url: Url | None = None


class BudgetPolicyBody(Strict):
    credit_limit_cents: int = Field(0, ge=0, le=1_000_000_000)
    low_watermark_cents: int = Field(0, ge=0, le=1_000_000_000)


@api.post("/cases/<int:id>/review", tags=[TAGS["cases"]], security=SECURITY,
          responses={200: ReviewResult})
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


@api.get("/experts/me/earnings", tags=[TAGS["payouts"]], security=SECURITY,
         responses={200: Earnings})
@requires("expert")
def expert_earnings() -> dict[str, Any]:
    """The calling expert's balances, per-case rewards and payouts."""
    return earnings.earnings_view(db.request_session(), principal().expert_id)  # type: ignore[arg-type]


@api.post("/payouts/run", tags=[TAGS["payouts"]], security=SECURITY,
          responses={200: RunResult})
@requires("operator")
def run_payouts() -> dict[str, Any]:
    """Pay every expert's available balance at or above the minimum, now."""
    settings = current_app.config["GIGCX"]
    unit = uow.for_request()
    result = svc.run(unit, svc.gateway(), settings.minimum_for)
    _write_statements(unit.session, result, settings.statements_dir)
    return svc.run_view(result)


def _write_statements(session: Any, result: svc.RunResult, directory: str) -> None:
    try:
        svc.write_statements(session, result, directory)
    except OSError as exc:  # the money moved already; the statements can be fetched over the API
        current_app.logger.error("statements of batch %s not written to %s: %s", result.batch.id, directory, exc)


@api.post("/payouts/retry", tags=[TAGS["payouts"]], security=SECURITY,
          responses={200: PayoutList})
@requires("operator")
def retry_payouts() -> dict[str, Any]:
    """Re-send the payouts still in transit or needing attention (crash recovery)."""
    recovered = svc.retry_open(uow.for_request(), svc.stripe())
    return {"payouts": [svc.payout_view(p) for p in recovered]}


@api.get("/payouts", tags=[TAGS["payouts"]], security=SECURITY,
         responses={200: PayoutList})
@requires("operator")
def list_payouts(query: PayoutListQuery) -> dict[str, Any]:
    """Payouts newest first; `?attention=true`: those whose outcome the operator must settle."""
    rows = svc.list_payouts(db.request_session(), attention=query.attention, status=query.status)
    return {"payouts": [svc.payout_view(p) for p in rows]}


@api.post("/payouts/<int:id>/settle", tags=[TAGS["payouts"]], security=SECURITY,
          responses={200: PayoutView})
@requires("operator")
def settle_payout(path: PayoutPath, body: SettleRequest) -> dict[str, Any]:
    """Settle an open payout with evidence: `{transfer_id}` (paid) or `{not_sent: true}` (failed)."""
    payout = svc.settle(db.request_session(), svc.gateway(), path.id, transfer_id=body.transfer_id,
                        not_sent=body.not_sent)
    return svc.payout_view(payout)


@api.post("/payouts/batches/<int:id>/mark-paid", tags=[TAGS["payouts"]], security=SECURITY,
          responses={200: BatchPaid})
@requires("operator")
def mark_batch_paid(path: PayoutPath, body: MarkPaidRequest) -> dict[str, Any]:
    """Manual mode: every payout of the batch awaiting manual payment was paid by hand."""
    rows = svc.mark_batch_paid(db.request_session(), path.id, body.reference)
    return {"batch_id": path.id, "payouts": [svc.payout_view(p) for p in rows]}


@api.get("/payouts/reversals", tags=[TAGS["payouts"]], security=SECURITY,
         responses={200: ReversalList})
@requires("operator")
def list_reversals(query: ReversalQuery) -> dict[str, Any]:
    """Reversed transfers; `?undecided=true`: money held until the operator decides."""
    rows = connect.list_reversals(db.request_session(), undecided=query.undecided)
    return {"reversals": [connect.reversal_view(r) for r in rows]}


@api.post("/payouts/reversals/<id>/decision", tags=[TAGS["payouts"]], security=SECURITY,
          responses={200: ReversalView})
@requires("operator")
def decide_reversal(path: ReversalPath, body: ReversalDecision) -> dict[str, Any]:
    """Pay the held money again (`repay`) or `write_off` it."""
    return connect.reversal_view(connect.decide_reversal(db.request_session(), path.id, body.decision))


@api.get("/payouts/<int:id>/statement.csv", tags=[TAGS["payouts"]], security=SECURITY,
         responses={200: CSV})
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


@api.post("/experts/me/payout-account", tags=[TAGS["payouts"]], security=SECURITY,
          responses={200: PayoutAccountLink})
@requires("expert")
def expert_payout_account(body: PayoutAccountRequest) -> dict[str, Any]:
    """Create the expert's Stripe Express account if needed and return an onboarding link."""
    from flask import current_app, request

    # the configured public URL, not the Host header (which a client chooses)
    base = current_app.config["GIGCX"].public_url or request.host_url.rstrip("/")
    return connect.payout_account(uow.for_request(), svc.stripe(), principal().expert_id,  # type: ignore[arg-type]
                              body.refresh_url or f"{base}/expert?payouts=refresh",
                              body.return_url or f"{base}/expert?payouts=done")


@api.get("/experts/me/payout-account", tags=[TAGS["payouts"]], security=SECURITY,
         responses={200: PayoutAccount})
@requires("expert")
def expert_payout_account_status() -> dict[str, Any]:
    """Where the expert's payouts go: manual, or a Stripe account and whether it is ready (live)."""
    from gigcx.models import Expert

    session = db.request_session()
    expert = session.get(Expert, principal().expert_id)
    assert expert is not None
    mode = svc.gateway().mode
    if mode == "stripe":  # the onboarding return lands here: ask Stripe, not the last webhook
        connect.refresh_account(session, svc.stripe(), expert)
    return {"mode": mode, "account_id": expert.stripe_account_id,
            "payouts_enabled": expert.payouts_enabled if mode == "stripe" else True}


@api.post("/brand/funding", tags=[TAGS["payouts"]], security=SECURITY,
          responses={201: FundingResult})
@requires("brand_admin")
def fund_brand_budget(body: FundingRequest) -> tuple[dict[str, Any], int]:
    """Top up the budget: a Stripe PaymentIntent, or a recorded top-up without Stripe."""
    session = db.request_session()
    brand = brand_svc.get_brand(session, principal().brand_id)  # type: ignore[arg-type]
    return _funded(session, brand, funding.fund(
        uow.for_request(), svc.gateway(), brand, body.amount_cents, body.reference, body.payment_method,
        customer=body.customer, off_session=body.off_session, return_url=body.return_url))


@api.post("/brands/<slug>/funding", tags=[TAGS["payouts"]], security=SECURITY,
          responses={201: FundingResult})
@requires("operator")
def record_brand_funding(path: BrandSlugPath, body: RecordFundingRequest) -> tuple[dict[str, Any], int]:
    """The operator records a top-up paid outside GigCX (the only way without Stripe)."""
    session = db.request_session()
    brand = brand_svc.brand_by_slug(session, path.slug)
    if brand is None:
        raise ApiError("not_found", "no such brand")
    return _funded(session, brand, funding.record(session, brand, body.amount_cents, body.reference))


def _funded(session: Any, brand: Brand, out: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Both ways of funding answer alike: the top-up, and the brand's budget after it."""
    out["budget_cents"] = earnings.budget_cents(session, brand)
    return out, 201


@api.get("/brand/statement", tags=[TAGS["payouts"]], security=SECURITY,
         responses={200: BrandStatement})
@requires("brand")
def brand_spend_statement() -> dict[str, Any]:
    """Funding, rewards, bonuses, reversals, budget, debt and the routing state of the budget."""
    session = db.request_session()
    return earnings.brand_statement(session, brand_svc.get_brand(session, principal().brand_id))  # type: ignore[arg-type]


@api.put("/brands/<slug>/budget-policy", tags=[TAGS["payouts"]], security=SECURITY,
         responses={200: BrandStatement})
@requires("operator")
def put_budget_policy(path: BrandSlugPath, body: BudgetPolicyBody) -> dict[str, Any]:
    """Make the brand prepaid with this credit limit (routing holds cases beyond it)."""
    session = db.request_session()
    brand = brand_svc.brand_by_slug(session, path.slug)
    if brand is None:
        raise ApiError("not_found", "no such brand")
    brand.budget_policy = body.model_dump()
    session.add(brand)
    session.flush()
    return earnings.brand_statement(session, brand)


@api.put("/brands/<slug>/platform-fee", tags=[TAGS["payouts"]], security=SECURITY,
         responses={200: PlatformFee})
@requires("operator")
def put_platform_fee(path: BrandSlugPath, body: PlatformFeeBody) -> dict[str, Any]:
    """The platform's fee per rewarded case of this brand, in its currency's minor units."""
    session = db.request_session()
    brand = brand_svc.brand_by_slug(session, path.slug)
    if brand is None:
        raise ApiError("not_found", "no such brand")
    brand.platform_fee_cents = body.platform_fee_cents
    session.add(brand)
    session.flush()
    return {"slug": brand.slug, "platform_fee_cents": brand.platform_fee_cents, "currency": brand.currency}


@api.delete("/brands/<slug>/budget-policy", tags=[TAGS["payouts"]], security=SECURITY,
            responses={200: BrandStatement})
@requires("operator")
def delete_budget_policy(path: BrandSlugPath) -> dict[str, Any]:
    """Make the brand postpaid again: routing is never held for its budget."""
    session = db.request_session()
    brand: Brand | None = brand_svc.brand_by_slug(session, path.slug)
    if brand is None:
        raise ApiError("not_found", "no such brand")
    brand.budget_policy = None
    session.add(brand)
    session.flush()
    return earnings.brand_statement(session, brand)
