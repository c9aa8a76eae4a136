"""Fraud and quality controls on rewards (docs/trust.md): known customers, connection records,
signals at resolution and rating, QA sampling, quality scores, and the brand's decisions.

The scoring itself is pure (`payouts.trust`); this module gathers the facts from the database
and records the outcome. Its one effect on money: a held case's reward stays pending, whatever
its review window says, until the brand releases or rejects it (`is_held`, asked by
`earnings.release_case`).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, any_, bindparam, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, col, select

import payouts
from gigcx.models import (
    Brand,
    Case,
    CaseStatus,
    ClientSeen,
    Customer,
    Expert,
    ExpertProgram,
    ExpertQuality,
    HoldState,
    Message,
    Rating,
    Sender,
    TrustDecision,
    TrustFlag,
    utcnow,
)
from payouts import trust as scoring

DEFAULT_NORM = 0.75  # a topic without ratings yet: as if its experts averaged 4 stars


# ---- settings and known customers ---------------------------------------------------------------

def settings_for(brand: Brand) -> scoring.TrustSettings:
    """The brand's trust settings (defaults for whatever it did not set)."""
    return scoring.TrustSettings.from_dict(brand.trust_settings or {})


def identity_secret(session: Session, brand: Brand, *, rotate: bool = False) -> str:
    """The brand's identity secret, made on first use; `rotate` replaces it (old hashes stop working)."""
    if brand.identity_secret is None or rotate:
        brand.identity_secret = "gcxi_" + secrets.token_hex(24)
        session.add(brand)
        session.flush()
    return brand.identity_secret


def identity_hash(secret: str, user_id: str) -> str:
    """HMAC-SHA256 of the user id with the brand's secret, as lowercase hex (what brands compute)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_identity(brand: Brand, user_id: str, user_hash: str) -> bool:
    """Whether the hash proves the brand vouches for this user id."""
    if not brand.identity_secret:
        return False
    return hmac.compare_digest(identity_hash(brand.identity_secret, user_id), user_hash.strip().lower())


def known_customer(session: Session, brand_id: int, user_id: str, current: Customer | None) -> Customer:
    """The brand's customer with this verified user id: the existing one (any device), else the
    current anonymous customer adopting it, else a new one (caller sets its token)."""
    found = session.exec(select(Customer).where(Customer.brand_id == brand_id,
                                                Customer.external_id == user_id)).first()
    if found is not None:
        return found
    if current is not None and current.external_id is None:
        current.external_id = user_id
        session.add(current)
        return current
    return Customer(brand_id=brand_id, token_hash="", external_id=user_id)


def record_client(session: Session, role: str, subject_id: int, ip: str | None, user_agent: str | None) -> None:
    """Remember that this customer or expert connected from this address and user agent."""
    ip, ua = (ip or "")[:64], (user_agent or "")[:300]
    now = utcnow()
    row = session.exec(select(ClientSeen).where(ClientSeen.role == role, ClientSeen.subject_id == subject_id,
                                                ClientSeen.ip == ip, ClientSeen.user_agent == ua)).first()
    if row is None:
        session.add(ClientSeen(role=role, subject_id=subject_id, ip=ip, user_agent=ua, first_seen=now, last_seen=now))
    else:
        row.last_seen = now
        session.add(row)


def _informative(ip: str) -> bool:
    """Loopback and unknown addresses say nothing about who connected (a proxy not configured
    with GIGCX_TRUSTED_PROXIES, or a local client): they never match."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_unspecified)


def _seen(session: Session, role: str, subject_id: int, since: Any) -> set[tuple[str, str]]:
    rows = session.exec(select(ClientSeen.ip, ClientSeen.user_agent).where(
        ClientSeen.role == role, ClientSeen.subject_id == subject_id, ClientSeen.last_seen >= since)).all()
    return {(ip, ua) for ip, ua in rows if _informative(ip)}


# ---- facts and assessment at resolution -----------------------------------------------------------

def facts_for(session: Session, case: Case, settings: scoring.TrustSettings) -> scoring.CaseFacts:
    """Everything the signals look at, for a resolved case with an expert."""
    assert case.expert_id is not None
    now = utcnow()
    customer = session.get(Customer, case.customer_id)
    expert = session.get(Expert, case.expert_id)
    program = session.exec(select(ExpertProgram).where(ExpertProgram.expert_id == case.expert_id,
                                                       ExpertProgram.brand_id == case.brand_id)).first()
    own = bool(customer and customer.external_id and program and program.external_user_id
               and customer.external_id == program.external_user_id)
    since = now - timedelta(days=90)
    theirs, mine = _seen(session, "customer", case.customer_id, since), _seen(session, "expert", case.expert_id, since)
    shared = False
    if expert is not None and expert.stripe_account_id:
        shared = session.exec(select(Expert.id).where(Expert.stripe_account_id == expert.stripe_account_id,
                                                      Expert.id != expert.id)).first() is not None
    cycle = None
    if case.resolved_by == "customer" and case.assigned_at is not None and case.resolved_at is not None:
        cycle = max(0.0, (_aware(case.resolved_at) - _aware(case.assigned_at)).total_seconds())
    pairs = session.exec(select(func.count()).select_from(Case).where(
        Case.brand_id == case.brand_id, Case.customer_id == case.customer_id, Case.expert_id == case.expert_id,
        col(Case.status) == CaseStatus.resolved, col(Case.resolved_at) >= now - timedelta(days=settings.repeat_window_days))).one()
    texts = list(session.exec(select(Message.text).where(Message.case_id == case.id, Message.sender == Sender.expert)))
    quality = None
    if case.topic:
        quality = session.exec(select(ExpertQuality.score).where(
            ExpertQuality.brand_id == case.brand_id, ExpertQuality.expert_id == case.expert_id,
            ExpertQuality.topic == case.topic)).first()
    return scoring.CaseFacts(
        own_account=own, same_device=bool(theirs & mine),
        same_network=bool({ip for ip, _ in theirs} & {ip for ip, _ in mine}),
        shared_payout_account=shared, cycle_seconds=cycle, pair_count=int(pairs),
        confirmed_by_silence=case.resolved_by == "silence",
        substantive_answer=scoring.is_substantive(texts, settings.substantive_min_chars,
                                                  settings.substantive_min_words),
        quality=quality)


def _aware(dt: Any) -> Any:
    from datetime import UTC

    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _flag(session: Session, case_id: int, *, lock: bool = False) -> TrustFlag | None:
    q = select(TrustFlag).where(TrustFlag.case_id == case_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    return session.exec(q).first()


def _audit(session: Session, flag: TrustFlag, action: str, actor: str, note: str) -> None:
    session.add(TrustDecision(brand_id=flag.brand_id, case_id=flag.case_id, action=action, actor=actor,
                              note=note[:4000]))


def _apply(session: Session, flag: TrustFlag, assessment: scoring.Assessment) -> None:
    """Store the signals; a case not yet decided by the brand is held when the score says so."""
    flag.signals = [s.to_dict() for s in assessment.signals]
    flag.score = assessment.score
    flag.updated_at = utcnow()
    if assessment.hold and flag.hold_state is None:
        flag.hold_state = HoldState.held
        _audit(session, flag, "hold", "system", "; ".join(assessment.reasons))
    session.add(flag)


def on_credit(session: Session, case: Case) -> None:
    """At resolution, right after the reward is credited: raise signals, hold the reward when they
    add up, and draw the case into the brand's QA sample. Runs in the caller's transaction."""
    if case.expert_id is None:
        return
    brand = session.get(Brand, case.brand_id)
    assert brand is not None
    settings = settings_for(brand)
    assessment = scoring.assess(facts_for(session, case, settings), settings)
    sample = _draw_sample(session, brand, case, settings)
    assert case.id is not None  # a stored row
    flag = _flag(session, case.id)
    if flag is None:
        if not assessment.signals and not sample:
            return
        flag = TrustFlag(case_id=case.id, brand_id=case.brand_id, expert_id=case.expert_id, topic=case.topic)
    flag.sampled = flag.sampled or sample
    _apply(session, flag, assessment)


def _draw_sample(session: Session, brand: Brand, case: Case, settings: scoring.TrustSettings) -> bool:
    """Stratified QA sampling: the n-th resolved case of an (expert, topic) is drawn when the
    stratum's systematic sample at the brand's rate says so (phase from a per-brand secret)."""
    if settings.qa_sample_rate <= 0:
        return False
    n = session.exec(select(func.count()).select_from(Case).where(
        Case.brand_id == brand.id, Case.expert_id == case.expert_id, Case.topic == case.topic,
        Case.status == CaseStatus.resolved)).one()
    secret = brand.identity_secret or f"brand-{brand.id}-{brand.created_at}"
    return scoring.sampled(settings.qa_sample_rate, int(n),
                           scoring.stratum_offset(secret, "qa", case.expert_id, case.topic))


def is_held(session: Session, case_id: int) -> bool:
    """Whether the case's reward waits for the brand's decision."""
    state = session.exec(select(TrustFlag.hold_state).where(TrustFlag.case_id == case_id)).first()
    return state == HoldState.held


def holds_of(session: Session, case_ids: list[int]) -> dict[int, list[str]]:
    """Held cases among these, with their reasons (for the expert's earnings)."""
    if not case_ids:
        return {}
    rows = session.exec(select(TrustFlag.case_id, TrustFlag.signals).where(
        col(TrustFlag.case_id).in_(case_ids), col(TrustFlag.hold_state) == HoldState.held)).all()
    return {cid: [s["reason"] for s in sigs] for cid, sigs in rows}


# ---- ratings, rings and quality -------------------------------------------------------------------

def topic_norm(session: Session, brand_id: int, topic: str) -> float:
    """The brand's mean rating in the topic on the 0..1 scale (ratings of escalated cases left out)."""
    avg = session.exec(select(func.avg(Rating.csat)).join(Case, col(Case.id) == Rating.case_id).where(
        col(Case.brand_id) == brand_id, col(Case.topic) == topic, col(Case.escalated_at).is_(None),
        col(Rating.expert_id).is_not(None))).one()
    return DEFAULT_NORM if avg is None else scoring.csat_value(float(avg))  # type: ignore[arg-type]


def refresh_quality(session: Session, brand: Brand, expert_id: int, topic: str) -> ExpertQuality:
    """Recompute the expert's quality in the topic from ratings (weighted against rings) and reviews."""
    settings = settings_for(brand)
    assert brand.id is not None  # a stored row
    norm = topic_norm(session, brand.id, topic)
    rated = session.exec(select(Case.customer_id, Rating.csat).join(Rating, col(Rating.case_id) == Case.id).where(
        col(Case.brand_id) == brand.id, col(Case.topic) == topic, col(Case.escalated_at).is_(None),
        col(Rating.expert_id) == expert_id).order_by(col(Rating.id))).all()
    # how often each customer rated this expert in any of the brand's topics (rings spread out)
    repeats = dict(session.exec(select(Case.customer_id, func.count()).join(Rating, col(Rating.case_id) == Case.id).where(
        col(Case.brand_id) == brand.id, col(Case.escalated_at).is_(None), col(Rating.expert_id) == expert_id)
        .group_by(col(Case.customer_id))).all())
    ring = scoring.ring_suspected(list(rated), norm, settings, repeats)
    weights = scoring.rating_weights([who for who, _ in rated], ring)
    verdicts = session.exec(select(TrustFlag.qa_verdict, TrustFlag.hold_state).where(
        TrustFlag.brand_id == brand.id, TrustFlag.expert_id == expert_id, TrustFlag.topic == topic)).all()
    reviews = [v == "pass" for v, _ in verdicts if v is not None] + [False for _, h in verdicts if h == HoldState.rejected]
    score = scoring.quality_score([(scoring.csat_value(c), w) for (_, c), w in zip(rated, weights)], reviews,
                                  norm, settings.quality_prior_strength)
    row = session.exec(select(ExpertQuality).where(ExpertQuality.brand_id == brand.id,
                                                   ExpertQuality.expert_id == expert_id,
                                                   ExpertQuality.topic == topic)).first()
    if row is None:
        row = ExpertQuality(brand_id=brand.id, expert_id=expert_id, topic=topic, score=score)
    row.score, row.ratings, row.reviews, row.ring = score, round(sum(weights), 4), len(reviews), ring
    row.updated_at = utcnow()
    session.add(row)
    return row


def on_rating(session: Session, case: Case) -> None:
    """After a rating is stored: update the expert's quality; a ring raises a signal on the case
    (and may hold its reward if the brand has not decided it yet). Escalated cases do not count."""
    if case.expert_id is None or case.topic is None or case.escalated_at is not None:
        return
    brand = session.get(Brand, case.brand_id)
    assert brand is not None
    quality = refresh_quality(session, brand, case.expert_id, case.topic)
    if not quality.ring or case.status != CaseStatus.resolved:
        return
    assert case.id is not None  # a stored row
    flag = _flag(session, case.id, lock=True)
    if flag is None:
        flag = TrustFlag(case_id=case.id, brand_id=case.brand_id, expert_id=case.expert_id, topic=case.topic)
    settings = settings_for(brand)
    if any(s["code"] == "rating_ring" for s in flag.signals) or settings.weight("rating_ring") <= 0:
        return
    signals = [scoring.Signal(s["code"], s["weight"], s["reason"]) for s in flag.signals]
    signals.append(scoring.Signal("rating_ring", settings.weight("rating_ring"), scoring.SIGNAL_TEXT["rating_ring"]))
    assessment = scoring.score(signals, settings)
    if assessment.hold and _money_settled(session, case.id):
        assessment = scoring.Assessment(assessment.signals, assessment.score, False)
    _apply(session, flag, assessment)


def _money_settled(session: Session, case_id: int) -> bool:
    from gigcx.services import ledger

    return (ledger.get(session, payouts.release_key(case_id)) is not None
            or ledger.get(session, payouts.reverse_key(case_id)) is not None)


def quality_scores(session: Session, brand_id: int, topic: str | None, expert_ids: list[int]) -> dict[int, float]:
    """Quality of these experts in the topic (only those with a score)."""
    if topic is None or not expert_ids:
        return {}
    conn = session.connection()
    q = _QUALITY_ANY if conn.dialect.name == "postgresql" else _QUALITY_IN
    return dict(conn.execute(q, {"b_brand": brand_id, "b_topic": topic, "b_experts": list(expert_ids)}).all())


def _quality_scores_statement(postgresql: bool) -> Any:
    """The statement of `quality_scores`, built once per dialect (every ask runs it).

    PostgreSQL: one array parameter: an IN list of the ~100 online candidates was a statement of 100
    parameters to render and bind on every ask (16 % of an ask's server time), and its text
    changed with the pool's size, so psycopg never reused a prepared statement for it."""
    q = select(ExpertQuality.expert_id, ExpertQuality.score).where(
        ExpertQuality.brand_id == bindparam("b_brand"), ExpertQuality.topic == bindparam("b_topic"))
    if postgresql:
        return q.where(col(ExpertQuality.expert_id) == any_(bindparam("b_experts", type_=ARRAY(Integer))))
    return q.where(col(ExpertQuality.expert_id).in_(bindparam("b_experts", expanding=True)))


_QUALITY_ANY, _QUALITY_IN = _quality_scores_statement(True), _quality_scores_statement(False)
