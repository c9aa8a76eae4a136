"""A rating's quality update from the topic's running totals gives what averaging every rating gave."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from gigcx.db import session_scope
from gigcx.events import Outbox
from gigcx.models import (
    Brand,
    Case,
    CaseStatus,
    Customer,
    ExpertQuality,
    HoldState,
    Rating,
    TopicRatings,
    TrustFlag,
    utcnow,
)
from gigcx.services import cases, trust
from gigcx.services.cases import Actor
from payouts import trust as scoring
from tests.payouts.money_helpers import expert, setup_brand

TOPICS = ("cards", "loans", None)


def reference_norm(session: Session, brand_id: int, topic: str) -> float:
    """The topic's mean rating as one average over all of its ratings (the statement replaced)."""
    avg = session.exec(select(func.avg(Rating.csat)).join(Case, col(Case.id) == Rating.case_id).where(
        col(Case.brand_id) == brand_id, col(Case.topic) == topic, col(Case.escalated_at).is_(None),
        col(Rating.expert_id).is_not(None))).one()
    return trust.DEFAULT_NORM if avg is None else scoring.csat_value(float(avg))  # type: ignore[arg-type]


def reference_quality(session: Session, brand: Brand, expert_id: int, topic: str) -> tuple[float, float, int, bool]:
    """(score, ratings, reviews, ring) as `refresh_quality` computed them before the running totals."""
    settings = trust.settings_for(brand)
    norm = reference_norm(session, brand.id, topic)  # type: ignore[arg-type]
    rated = session.exec(select(Case.customer_id, Rating.csat).join(Rating, col(Rating.case_id) == Case.id).where(
        col(Case.brand_id) == brand.id, col(Case.topic) == topic, col(Case.escalated_at).is_(None),
        col(Rating.expert_id) == expert_id).order_by(col(Rating.id))).all()
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
    return score, round(sum(weights), 4), len(reviews), ring


def _totals(session: Session, brand_id: int) -> dict[str, tuple[int, int]]:
    return {t: (s, n) for t, s, n in session.exec(select(TopicRatings.topic, TopicRatings.csat_sum, TopicRatings.ratings)
                                                  .where(TopicRatings.brand_id == brand_id)).all()}


def test_quality_from_running_totals_matches_the_full_average(app: Any, api: Any) -> None:
    _, brand_id = setup_brand(api)
    _, other_brand = setup_brand(api, "other")
    experts = [expert(api, f"e{i}")[0] for i in range(4)]
    rng = random.Random(7)
    with app.app_context(), session_scope() as s:
        brand = s.get(Brand, brand_id)
        assert brand is not None
        customers = []
        for b in (brand_id, brand_id, brand_id, brand_id, other_brand):
            c = Customer(brand_id=b, token_hash=uuid.uuid4().hex)
            s.add(c)
            customers.append(c)
        s.flush()
        finished = []
        for n in range(90):
            # the same expert and customer often (rings); escalated cases, cases without an
            # expert or a topic, and another brand's cases, none of which count for the norm
            cust = customers[0] if n % 5 == 0 else rng.choice(customers)
            ex = experts[0] if n % 5 == 0 else rng.choice(experts + [None])  # type: ignore[list-item]
            escalated = ex is not None and rng.random() < 0.2
            now = utcnow() - timedelta(hours=n)
            case = Case(brand_id=cust.brand_id, customer_id=cust.id, client_id=uuid.uuid4().hex, question="where is my card",
                        topic=rng.choice(TOPICS), expert_id=ex, assigned_at=now,
                        status=CaseStatus.closed if escalated or ex is None else CaseStatus.resolved,
                        escalated_at=now if escalated else None, resolved_at=None if escalated else now,
                        resolved_by=None if escalated else "customer")
            s.add(case)
            s.flush()
            if ex is not None and case.topic and rng.random() < 0.3:  # QA verdicts and rejected rewards
                s.add(TrustFlag(case_id=case.id, brand_id=case.brand_id, expert_id=ex, topic=case.topic,  # type: ignore[arg-type]
                                qa_verdict=rng.choice(["pass", "fail", None]),
                                hold_state=rng.choice([HoldState.rejected, HoldState.released, None])))
            finished.append((case.id, cust.id))
        s.commit()
        for k, (case_id, customer_id) in enumerate(finished):
            cases.rate(s, Outbox(), Actor("customer", customer_id), case_id=case_id, csat=rng.choice([1, 3, 4, 5, 5]),
                       nps=None, comment=None)
            s.commit()
            if k % 9 and k != len(finished) - 1:
                continue
            for topic in ("cards", "loans", ""):
                for b in (brand_id, other_brand):
                    assert trust.topic_norm(s, b, topic) == reference_norm(s, b, topic), (k, b, topic)
                for ex in experts:
                    want = reference_quality(s, brand, ex, topic)
                    row = trust.refresh_quality(s, brand, ex, topic)
                    assert (row.score, row.ratings, row.reviews, row.ring) == want, (k, ex, topic)
            s.rollback()
        assert any(row.ring for row in s.exec(select(ExpertQuality)).all())  # the data did raise a ring
        totals = _totals(s, brand_id)
        assert set(totals) == {"cards", "loans"} and all(n > 5 for _, n in totals.values())
        # the totals a bulk writer recomputes are the ones the ratings kept
        trust.recount_topic_ratings(s, brand_id)
        assert _totals(s, brand_id) == totals
        s.commit()
